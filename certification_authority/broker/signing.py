"""The broker's check of a signed owner or customer request: right CA, fresh, signed by the named
wallet. The messages themselves, and how they are signed, are protocol
(:mod:`enclava.protocol.broker.signing`): signer and verifier call the same builders.
"""

from __future__ import annotations

from certification_authority.broker.errors import SignatureInvalid, SignatureStale, WrongCa
from enclava.protocol.broker.signing import (
    DEFAULT_SIGNATURE_WINDOW_S,
    MAX_CLOCK_SKEW_S,
    recover_text_signer,
)

__all__ = ["recover_signer", "authenticate"]


def recover_signer(message: str, signature: str) -> str:
    """The (lowercase) address whose ``personal_sign`` of ``message`` is ``signature``."""
    signer = recover_text_signer(message, signature)
    if signer is None:
        raise SignatureInvalid("the signature is not a valid wallet signature")
    return signer


def authenticate(
    *,
    message: str,
    signature: str,
    claimed_owner: str,
    ca_id: str,
    expected_ca_id: str,
    issued_at: int,
    now: int,
    window_s: int = DEFAULT_SIGNATURE_WINDOW_S,
) -> str:
    """Check CA, freshness and signature, in that order; return the signer (lowercase address)."""
    if ca_id != expected_ca_id:
        raise WrongCa(f"the request is for CA {ca_id!r}, this is {expected_ca_id!r}")
    if issued_at < now - window_s or issued_at > now + MAX_CLOCK_SKEW_S:
        raise SignatureStale(
            f"issued_at {issued_at} is outside the accepted window "
            f"[{now - window_s}, {now + MAX_CLOCK_SKEW_S}]"
        )
    signer = recover_signer(message, signature)
    if signer != claimed_owner:
        raise SignatureInvalid(f"the signature was not made by {claimed_owner} over this request")
    return signer
