"""The messages owners sign, and their verification. Signer and verifier call the same builders.

A message is the canonical JSON (sorted keys, compact) of a dict with a domain tag, signed with
EIP-191 ``personal_sign``::

    deposit:     {"domain": "enclava-key-deposit-v1", "ca_id", "offer_id" (decimal string),
                  "ciphertext_sha256" (hex), "policy" (normalized KeyPolicy), "issued_at"}
    audit read:  {"domain": "enclava-audit-read-v1", "ca_id", "offer_id", "issued_at"}

The domain tag keeps one kind of signature from being replayed as another; ``ca_id`` keeps it from
being replayed to another CA; ``issued_at`` bounds its life to the freshness window.
"""

from __future__ import annotations

from eth_account import Account
from eth_account.messages import encode_defunct
from eth_keys.exceptions import BadSignature, ValidationError

from certification_authority.audit.canonical import canonical_json
from certification_authority.broker.errors import SignatureInvalid, SignatureStale, WrongCa
from certification_authority.broker.models import KeyPolicy

__all__ = [
    "DEPOSIT_DOMAIN",
    "AUDIT_READ_DOMAIN",
    "DEFAULT_SIGNATURE_WINDOW_S",
    "MAX_CLOCK_SKEW_S",
    "deposit_message",
    "audit_read_message",
    "order_inputs_message",
    "ORDER_INPUTS_DOMAIN",
    "sign_text",
    "recover_signer",
    "authenticate",
]

DEPOSIT_DOMAIN = "enclava-key-deposit-v1"
AUDIT_READ_DOMAIN = "enclava-audit-read-v1"
ORDER_INPUTS_DOMAIN = "enclava-order-inputs-v1"
DEFAULT_SIGNATURE_WINDOW_S = 300  # how old a signed request may be
MAX_CLOCK_SKEW_S = 60  # how far in the future issued_at may lie


def deposit_message(
    *, ca_id: str, offer_id: int, ciphertext_sha256: str, policy: KeyPolicy, issued_at: int
) -> str:
    return canonical_json(
        {
            "domain": DEPOSIT_DOMAIN,
            "ca_id": ca_id,
            "offer_id": str(offer_id),
            "ciphertext_sha256": ciphertext_sha256,
            "policy": policy.model_dump(mode="json"),
            "issued_at": issued_at,
        }
    ).decode("ascii")


def order_inputs_message(
    *, ca_id: str, order_id: str, ciphertext_sha256: str, issued_at: int
) -> str:
    """What a customer signs to deposit the key of their order's own inputs."""
    return canonical_json(
        {
            "domain": ORDER_INPUTS_DOMAIN,
            "ca_id": ca_id,
            "order_id": order_id.lower(),
            "ciphertext_sha256": ciphertext_sha256,
            "issued_at": issued_at,
        }
    ).decode("ascii")


def audit_read_message(*, ca_id: str, offer_id: int, issued_at: int) -> str:
    return canonical_json(
        {
            "domain": AUDIT_READ_DOMAIN,
            "ca_id": ca_id,
            "offer_id": str(offer_id),
            "issued_at": issued_at,
        }
    ).decode("ascii")


def sign_text(account, message: str) -> str:
    """``personal_sign`` of ``message`` by an eth-account ``LocalAccount``; 0x-hex signature."""
    signature = account.sign_message(encode_defunct(text=message)).signature.hex()
    return signature if signature.startswith("0x") else "0x" + signature


def recover_signer(message: str, signature: str) -> str:
    """The (lowercase) address whose ``personal_sign`` of ``message`` is ``signature``."""
    try:
        return Account.recover_message(encode_defunct(text=message), signature=signature).lower()
    except (BadSignature, ValidationError, ValueError, TypeError) as exc:
        raise SignatureInvalid("the signature is not a valid wallet signature") from exc


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
