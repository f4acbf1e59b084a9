"""The HTTP edge of a key release: who is asking (certificate, freshness, signature), and the signed
answer. The policy decision in between is the key broker's.

A request is the enclave's EIP-191 signature over :func:`enclava.protocol.key_release_message`,
made with the key its CA certificate certifies; the broker then accepts its ``request_nonce`` once.
The answer is :func:`enclava.protocol.release_answer`, signed by the CA signer (the address that
``GET /v1/ca`` reports and the CA's own evidence binds), naming the order, the enclave, the nonce
and each key's resource id and on-chain content hash.
"""

from __future__ import annotations

from typing import Annotated, Any

from cryptography import x509
from eth_account.signers.local import LocalAccount
from pydantic import BaseModel, ConfigDict, Field

from certification_authority.broker import VerifiedEnclave, WrappedKey
from certification_authority.broker.release import RELEASE_WINDOW_S
from certification_authority.certificates import verify_enclave_certificate
from certification_authority.errors import CertificateInvalid, RequestStale
from enclava.protocol.eip191 import recover_bytes_signer
from enclava.protocol.key_release import (
    key_release_message,
    release_answer,
    released_key_entry,
    sign_release_answer,
)

__all__ = ["KeyReleaseRequest", "authenticate_release", "signed_release_answer", "RELEASE_WINDOW_S"]


class KeyReleaseRequest(BaseModel):
    """``POST /v1/keys/release``: built by :func:`enclava.protocol.build_release_request`."""

    model_config = ConfigDict(extra="forbid")

    certificate_pem: Annotated[str, Field(min_length=1, max_length=16384)]
    order_id: Annotated[str, Field(pattern=r"^0x[0-9a-fA-F]{64}$")]
    issued_at: Annotated[int, Field(ge=0, lt=2**63, strict=True)]
    request_nonce: Annotated[
        str,
        Field(
            pattern=r"^[0-9a-f]{64}$", description="32 random bytes, lowercase hex: accepted once"
        ),
    ]
    signature: Annotated[str, Field(min_length=1, max_length=200)]
    resource_ids: (
        Annotated[list[Annotated[int, Field(gt=0, lt=2**256)]], Field(min_length=1, max_length=64)]
        | None
    ) = Field(default=None, description="only these resources of the order")


def authenticate_release(
    request: KeyReleaseRequest, *, ca_cert: x509.Certificate, ca_id: str, now: int
) -> VerifiedEnclave:
    """The certified enclave that signed this fresh request, or ``CertificateInvalid``."""
    facts = verify_enclave_certificate(request.certificate_pem.encode(), ca_cert, now=now)
    if abs(now - request.issued_at) > RELEASE_WINDOW_S:
        raise RequestStale("the key request is stale")
    message = key_release_message(
        ca_id=ca_id,
        order_id=request.order_id,
        issued_at=request.issued_at,
        request_nonce=request.request_nonce,
        resource_ids=request.resource_ids,
    )
    signer = recover_bytes_signer(message.encode("ascii"), request.signature)
    if signer is None:
        raise CertificateInvalid("the key request signature is malformed")
    if signer.lower() != facts.enclave_address.lower():
        raise CertificateInvalid("the key request is not signed by the certified enclave key")
    return VerifiedEnclave(
        certificate_serial=facts.serial,
        tee_type=facts.tee_type,
        measurement=facts.measurement,
        enclave_address=facts.enclave_address,
        provider_address=facts.provider_address,
        age_recipient=facts.age_recipient,
        not_after=facts.not_after,
        simulated=facts.simulated,
        gpu_class=facts.gpu_class,
        gpu_count=facts.gpu_count,
    )


def signed_release_answer(
    signer: LocalAccount,
    *,
    ca_id: str,
    request: KeyReleaseRequest,
    enclave: str,
    keys: list[WrappedKey],
    now: int,
) -> dict[str, Any]:
    """``{"release": {...}, "signature": "0x..."}`` for the keys the broker released."""
    entries = [
        released_key_entry(
            kind=key.kind,
            resource_id=key.resource_id,
            content_hash=key.content_hash,
            policy_version=key.policy_version,
            ciphertext=key.ciphertext,
        )
        for key in keys
    ]
    release = release_answer(
        ca_id=ca_id,
        order_id=request.order_id,
        enclave=enclave,
        request_nonce=request.request_nonce,
        issued_at=now,
        keys=entries,
    )
    return {"release": release, "signature": sign_release_answer(signer, release)}
