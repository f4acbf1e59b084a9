"""Connect to the CA only after its own attestation vouches for the TLS key it answers with.

:func:`connect_attested_ca` runs, in this order, and refuses at the first failure:

1. the URL is ``https``                                      else ``CaChannelInsecure``
2. one TLS handshake, verifying nothing, learns the certificate the server proves it holds
3. a client that trusts exactly that certificate asks ``GET /v1/ca?nonce=N`` (N: 32 fresh bytes)
4. the identity's ``tls_spki_sha256`` is the presented key's  else ``CaIdentityMismatch``
5. ``verify_evidence(evidence, bind_ca_identity(N, identity))``, the caller's real verifier
   (vendor chain, allow-listed measurement)                    else ``CaEvidenceRefused``
6. the verified report_data is that binding                   else ``CaIdentityMismatch``
7. the signer is ``expected_signer`` when one is given        else ``CaSignerUnexpected``

It returns an :class:`AttestedCa` whose ``client`` (an ``httpx.Client``) keeps trusting only the
pinned certificate: if the CA's key changes (or anything else answers in its place), every later
request fails the TLS handshake. A man in the middle must present its own key at step 2 and is
caught at step 4; if it rewrites the identity to name its key, the binding no longer matches at step
5/6.
"""

from __future__ import annotations

import hmac
import secrets
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from enclava.attestation.errors import ReportDataMismatchError
from enclava.attestation.evidence import Evidence
from enclava.ca_link._tls import pinned_context, presented_certificate
from enclava.ca_link.errors import (
    CaChannelInsecure,
    CaEvidenceRefused,
    CaIdentityMalformed,
    CaIdentityMismatch,
    CaSignerUnexpected,
    CaUnreachable,
)
from enclava.ca_link.identity import CA_NONCE_BYTES, CaIdentity, bind_ca_identity, spki_sha256
from enclava.errors import EnclavaError

__all__ = ["AttestedCa", "EvidenceCheck", "connect_attested_ca"]

#: ``verify_evidence(evidence, expected_report_data) -> claims``: raises on any refusal; the claims
#: carry the ``report_data`` the hardware signed (``enclava.attestation.verifiers.VerifiedClaims``)
EvidenceCheck = Callable[[Evidence, bytes], Any]


@dataclass
class AttestedCa:
    """A CA whose evidence was verified; ``client`` trusts only its attested TLS certificate."""

    url: str
    identity: CaIdentity
    claims: Any
    client: httpx.Client = field(repr=False)

    @property
    def ca_id(self) -> str:
        return self.identity.ca_id

    @property
    def signer_address(self) -> str:
        return self.identity.signer_address

    @property
    def age_recipient(self) -> str:
        return self.identity.age_recipient

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> AttestedCa:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _endpoint(url: str) -> tuple[str, str, int]:
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError) as exc:
        raise CaChannelInsecure(f"{url!r} is not a URL") from exc
    if parsed.scheme != "https" or not parsed.host:
        raise CaChannelInsecure(
            f"refusing to talk to the CA over {parsed.scheme or 'no scheme'}: {url}"
        )
    return str(parsed).rstrip("/"), parsed.host, parsed.port or 443


def _pin_broken(exc: BaseException) -> bool:
    """Whether ``exc`` (an httpx error) comes from the pinned certificate failing to verify."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _fetch_identity(http: httpx.Client, base: str, nonce: bytes) -> CaIdentity:
    try:
        reply = http.get("/v1/ca", params={"nonce": nonce.hex()})
    except httpx.HTTPError as exc:
        if _pin_broken(exc):
            raise CaIdentityMismatch(
                f"the CA at {base} changed its TLS certificate between two connections"
            ) from exc
        raise CaUnreachable(f"cannot reach the CA at {base} ({type(exc).__name__})") from exc
    if reply.status_code != 200:
        raise CaUnreachable(f"the CA at {base} answered {reply.status_code} to GET /v1/ca")
    try:
        body = reply.json()
    except ValueError as exc:
        raise CaIdentityMalformed(f"the CA at {base} answered GET /v1/ca with no JSON") from exc
    return CaIdentity.from_json(body)


def _verified(verify_evidence: EvidenceCheck, evidence: Evidence, expected: bytes) -> Any:
    try:
        claims = verify_evidence(evidence, expected)
    except ReportDataMismatchError as exc:
        raise CaIdentityMismatch("the CA's evidence does not bind this identity and nonce") from exc
    except EnclavaError as exc:
        raise CaEvidenceRefused(
            f"the CA's evidence was refused: {exc.code}: {exc.message}", reason=exc.code
        ) from exc
    except Exception as exc:  # noqa: BLE001 - a verifier that breaks refuses (fail closed), keeping the cause
        raise CaEvidenceRefused(
            f"the CA's evidence could not be verified ({type(exc).__name__})",
            reason="verifier_failed",
        ) from exc
    signed = getattr(claims, "report_data", None)
    if not isinstance(signed, bytes) or not hmac.compare_digest(signed, expected):
        raise CaIdentityMismatch("the verified report_data is not this identity's binding")
    return claims


def connect_attested_ca(
    url: str,
    *,
    verify_evidence: EvidenceCheck,
    expected_signer: str | None = None,
    timeout: float = 30.0,
) -> AttestedCa:
    """The CA at ``url`` (``https://`` only), attested and pinned; see the module docstring."""
    base, host, port = _endpoint(url)
    presented = presented_certificate(host, port, timeout=timeout)
    http = httpx.Client(base_url=base, verify=pinned_context(presented), timeout=timeout)
    try:
        nonce = secrets.token_bytes(CA_NONCE_BYTES)
        identity = _fetch_identity(http, base, nonce)
        if not hmac.compare_digest(spki_sha256(presented), identity.tls_spki_sha256):
            raise CaIdentityMismatch(
                f"the TLS key presented at {base} is not the one the CA's identity names"
            )
        if identity.evidence is None:
            raise CaEvidenceRefused(f"the CA at {base} sent no evidence", reason="evidence_missing")
        claims = _verified(verify_evidence, identity.evidence, bind_ca_identity(nonce, identity))
        if (
            expected_signer is not None
            and identity.signer_address.lower() != expected_signer.lower()
        ):
            raise CaSignerUnexpected(
                f"the attested CA signs as {identity.signer_address}, not {expected_signer}"
            )
    except BaseException:
        http.close()
        raise
    return AttestedCa(url=base, identity=identity, claims=claims, client=http)
