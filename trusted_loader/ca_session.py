"""The loader's session with the CA: an attested, pinned TLS channel; challenge, certify, release.

The loader trusts the CA only after checking the CA's own attestation over TLS (enclava.ca_link):
the evidence binds the TLS key, the CA certificate, the signer address and the age recipient; the
evidence goes through the same verifier code as enclave evidence, and the CA's measurement must be
on the allow-list. From then on the TLS key is pinned, and every key-release answer must carry the
attested signer's signature over exactly this order, this enclave and this request's nonce.

Transport failures become :class:`CaUnavailable`; the CA's own error shape becomes the loader error
for that step (:class:`CertificationFailed`, :class:`KeyReleaseDenied`) carrying the CA's ``type``.
"""

from __future__ import annotations

import threading
from typing import Any

from enclava.ca_link import AttestedCa, connect_attested_ca
from enclava.chain.market import MarketClient
from enclava.errors import EnclavaError
from enclava.logs import get_logger
from enclava.protocol.errors import ReleaseAnswerInvalid
from enclava.protocol.key_release import ReleasedKey, build_release_request, verify_release_answer
from enclava.service_http import error_body, send
from trusted_loader.errors import (
    CaUnavailable,
    CertificationFailed,
    KeyReleaseDenied,
    KeyReleaseInvalid,
    LoaderError,
)

__all__ = ["CaSession", "ReleasedKey"]

log = get_logger("trusted_loader.ca_session")


class CaSession:
    def __init__(
        self,
        base_url: str,
        *,
        market: MarketClient,
        insecure_allow_simulated_tee: bool = False,
        expected_signer: str | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._market = market
        self._insecure_simulated = insecure_allow_simulated_tee is True
        self._expected_signer = expected_signer
        self._timeout = timeout
        self._lock = threading.Lock()
        self._link: AttestedCa | None = None

    def _attested(self) -> AttestedCa:
        """The CA's verified identity and the pinned client; attested once, again after a
        failure."""
        with self._lock:
            if self._link is None:
                from enclava.ca_link.chain_ca import chain_ca_verifier

                verifier = chain_ca_verifier(
                    self._market.contracts, insecure_allow_simulated_tee=self._insecure_simulated
                )
                try:
                    self._link = connect_attested_ca(
                        self.base_url,
                        verify_evidence=verifier,
                        expected_signer=self._expected_signer,
                        timeout=self._timeout,
                    )
                except EnclavaError as exc:
                    log.warning("CA attestation refused or unreachable", extra={"type": exc.code})
                    raise CaUnavailable(
                        f"the CA at {self.base_url} could not be attested: {exc.code}: "
                        f"{exc.message}"
                    ) from exc
                log.info(
                    "CA attested and pinned",
                    extra={
                        "ca_id": self._link.identity.ca_id,
                        "signer": self._link.identity.signer_address,
                    },
                )
            return self._link

    def _call(self, method: str, path: str, refusal: type[LoaderError], **kwargs: Any) -> Any:
        link = self._attested()
        try:
            reply = send(link.client, method, path, CaUnavailable, **kwargs)
        except CaUnavailable:
            with self._lock:  # a changed TLS key or a dead link: attest again next time
                self._link = None
            raise
        if reply.status_code >= 500:
            raise CaUnavailable(f"the CA answered {reply.status_code} to {path}")
        if reply.status_code >= 400:
            body = error_body(reply)
            error = refusal(f"the CA refused {path}: {body.get('type')}: {body.get('detail')}")
            error.remote_type = body.get("type")
            raise error
        return reply.json()

    @property
    def ca_id(self) -> str:
        return self._attested().identity.ca_id

    def challenge(self) -> str:
        nonce: str = self._call("POST", "/v1/challenge", CertificationFailed)["nonce"]
        return nonce

    def certify(self, body: dict[str, Any]) -> dict[str, Any]:
        answer: dict[str, Any] = self._call("POST", "/v1/certify", CertificationFailed, json=body)
        return answer

    def release_keys(self, *, enclave: Any, order_id: str) -> list[ReleasedKey]:
        """An order's keys, from an answer signed by the attested CA for this order, enclave and
        nonce."""
        identity = self._attested().identity
        body = build_release_request(
            enclave.account,
            certificate_pem=enclave.certificate_pem,
            ca_id=identity.ca_id,
            order_id=order_id,
        )
        answer = self._call("POST", "/v1/keys/release", KeyReleaseDenied, json=body)
        try:
            verified = verify_release_answer(
                answer,
                signer=identity.signer_address,
                ca_id=identity.ca_id,
                order_id=order_id,
                enclave=enclave.address,
                request_nonce=body["request_nonce"],
            )
        except ReleaseAnswerInvalid as exc:
            log.warning(
                "key release answer refused", extra={"order_id": order_id, "type": exc.code}
            )
            raise KeyReleaseInvalid(
                f"the CA's answer for order {order_id} is refused: {exc.code}"
            ) from exc
        return list(verified.keys)

    def close(self) -> None:
        if self._link is not None:
            self._link.client.close()
