"""The key broker over HTTPS, from an owner's or a customer's side: deposit keys, read the audit log.

The client talks to the CA only over the attested channel (:func:`enclava.ca_link.connect_attested_ca`):
before the first request it checks the CA's own evidence (``verify_evidence``) and then pins its TLS
key, so the age recipient that owners encrypt their keys to is the attested CA's. Requests are built
and signed by certification_authority.broker's own builders, so what is sent is byte-for-byte what
the broker verifies. CA refusals come back as :class:`BrokerRefused` with the CA's error type;
transport failures as :class:`BrokerUnavailable`; a CA that cannot be trusted as the
``enclava.ca_link`` error that says why.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any

from certification_authority.broker import (
    build_audit_request,
    build_deposit_request,
    check_audit_view,
)
from certification_authority.broker.signing import order_inputs_message, sign_text
from enclava.ca_link import AttestedCa, CaUnreachable, EvidenceCheck, connect_attested_ca
from enclava.errors import EnclavaError
from enclava.service_http import refusal, send

if TYPE_CHECKING:
    from enclava.devnet.manifest import Manifest

__all__ = ["BrokerHttpClient", "BrokerRefused", "BrokerUnavailable"]


class BrokerUnavailable(EnclavaError):
    code = "broker_unavailable"
    hint = "Check the CA URL (`enclava devnet status` on the devnet)."


class BrokerRefused(EnclavaError):
    code = "broker_refused"
    hint = "Read the detail: the broker says which check refused the request."


class BrokerHttpClient:
    """The broker at ``base_url`` (https), trusted once ``verify_evidence`` accepts its evidence.

    ``verify_evidence`` is ``certification_authority.verifiers.ca_evidence_verifier(...)`` over the
    chain's allow-list; :meth:`from_manifest` builds the devnet's. The channel is attested on first
    use, and again after a transport failure (a changed TLS key fails every pinned request).
    """

    def __init__(
        self,
        base_url: str,
        *,
        verify_evidence: EvidenceCheck,
        expected_signer: str | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._verify, self._expected_signer, self._timeout = (
            verify_evidence,
            expected_signer,
            timeout,
        )
        self._lock = threading.Lock()
        self._ca: AttestedCa | None = None

    @classmethod
    def from_manifest(cls, manifest: Manifest, *, timeout: float = 30.0) -> BrokerHttpClient:
        """The devnet's broker: the CA's evidence checked against the devnet's on-chain allow-list, with
        the simulated TEE allowed (``insecure_allow_simulated_tee``: a devnet has no hardware)."""
        from certification_authority.chain_view import VerifierAllowList
        from certification_authority.verifiers import ca_evidence_verifier
        from enclava.chain import ChainClient
        from enclava.chain.contracts import ContractSet

        contracts = ContractSet(ChainClient(manifest.rpc_url).w3, manifest.contracts)
        verify = ca_evidence_verifier(
            VerifierAllowList(contracts), insecure_allow_simulated_tee=True
        )
        return cls(manifest.services["ca"].url, verify_evidence=verify, timeout=timeout)

    def attested(self) -> AttestedCa:
        """The attested CA (connecting and checking its evidence on first use)."""
        with self._lock:
            if self._ca is None:
                try:
                    self._ca = connect_attested_ca(
                        self.base_url,
                        verify_evidence=self._verify,
                        expected_signer=self._expected_signer,
                        timeout=self._timeout,
                    )
                except CaUnreachable as exc:
                    raise BrokerUnavailable(exc.message) from exc
            return self._ca

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        ca = self.attested()
        try:
            reply = send(ca.client, method, path, BrokerUnavailable, **kwargs)
        except BrokerUnavailable:
            self._forget(ca)
            raise
        if reply.status_code >= 400:
            raise refusal(reply, BrokerRefused, path)
        return reply.json()

    def _forget(self, ca: AttestedCa) -> None:
        with self._lock:
            if self._ca is ca:
                self._ca = None
        ca.close()

    def identity(self) -> dict[str, Any]:
        """The attested CA's public identity (``ca_id``, ``age_recipient``, ``signer_address``, ...)."""
        public = self.attested().identity.to_json()
        return {key: value for key, value in public.items() if key != "evidence"}

    def deposit(
        self, owner: Any, offer_id: int, resource_key: bytes, policy: Any
    ) -> dict[str, Any]:
        """Deposit ``resource_key`` for offer ``offer_id`` under ``policy`` (signed by ``owner``)."""
        ident = self.identity()
        request = build_deposit_request(
            owner, ident["age_recipient"], ident["ca_id"], offer_id, resource_key, policy
        )
        return self._call("POST", "/v1/keys/deposit", json=request.model_dump(mode="json"))

    def deposit_order_inputs(
        self, customer: Any, order_id: str, input_key: bytes
    ) -> dict[str, Any]:
        """Deposit the key of an order's own inputs; only that order's enclave can obtain it."""
        import base64
        import hashlib

        import pyrage
        from pyrage import x25519

        ident = self.identity()
        ciphertext = pyrage.encrypt(input_key, [x25519.Recipient.from_str(ident["age_recipient"])])
        issued_at = int(time.time())
        message = order_inputs_message(
            ca_id=ident["ca_id"],
            order_id=order_id,
            ciphertext_sha256=hashlib.sha256(ciphertext).hexdigest(),
            issued_at=issued_at,
        )
        body = {
            "ca_id": ident["ca_id"],
            "order_id": order_id,
            "customer": customer.address,
            "ciphertext": base64.b64encode(ciphertext).decode(),
            "issued_at": issued_at,
            "signature": sign_text(customer, message),
        }
        return self._call("POST", "/v1/keys/order-inputs", json=body)

    def audit(self, owner: Any, offer_id: int) -> dict[str, Any]:
        """The audit entries about ``offer_id``, verified as a hash chain before they are returned."""
        request = build_audit_request(owner, self.identity()["ca_id"], offer_id)
        view = self._call("POST", "/v1/audit", json=request.model_dump(mode="json"))
        check_audit_view(view)
        return view

    def close(self) -> None:
        with self._lock:
            ca, self._ca = self._ca, None
        if ca is not None:
            ca.close()
