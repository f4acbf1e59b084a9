"""The messages owners and customers sign for the key broker. Signer and verifier call the same
builders.

A message is the canonical JSON (sorted keys, compact) of a dict with a domain tag, signed with
EIP-191 ``personal_sign``::

    deposit:      {"domain": "enclava-key-deposit-v1", "ca_id", "resource_id" (decimal string),
                   "ciphertext_sha256" (hex), "policy" (normalized KeyPolicy), "issued_at"}
    audit read:   {"domain": "enclava-audit-read-v1", "ca_id", "resource_id", "issued_at"}
    order inputs: {"domain": "enclava-order-inputs-v1", "ca_id", "order_id" (lowercase),
                   "ciphertext_sha256", "issued_at"}

The domain tag keeps one kind of signature from being replayed as another; ``ca_id`` keeps it from
being replayed to another CA; ``issued_at`` bounds its life to the freshness window
(:data:`DEFAULT_SIGNATURE_WINDOW_S` old, :data:`MAX_CLOCK_SKEW_S` ahead).
"""

from __future__ import annotations

from eth_account import Account
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount
from eth_keys.exceptions import BadSignature
from eth_utils.exceptions import ValidationError

from enclava.protocol.broker.models import KeyPolicy
from enclava.protocol.canonical import canonical_json

__all__ = [
    "DEPOSIT_DOMAIN",
    "AUDIT_READ_DOMAIN",
    "ORDER_INPUTS_DOMAIN",
    "DEFAULT_SIGNATURE_WINDOW_S",
    "MAX_CLOCK_SKEW_S",
    "deposit_message",
    "audit_read_message",
    "order_inputs_message",
    "sign_text",
    "recover_text_signer",
]

DEPOSIT_DOMAIN = "enclava-key-deposit-v1"
AUDIT_READ_DOMAIN = "enclava-audit-read-v1"
ORDER_INPUTS_DOMAIN = "enclava-order-inputs-v1"
DEFAULT_SIGNATURE_WINDOW_S = 300  # how old a signed request may be
MAX_CLOCK_SKEW_S = 60  # how far in the future issued_at may lie


def deposit_message(
    *, ca_id: str, resource_id: int, ciphertext_sha256: str, policy: KeyPolicy, issued_at: int
) -> str:
    return canonical_json(
        {
            "domain": DEPOSIT_DOMAIN,
            "ca_id": ca_id,
            "resource_id": str(resource_id),
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


def audit_read_message(*, ca_id: str, resource_id: int, issued_at: int) -> str:
    return canonical_json(
        {
            "domain": AUDIT_READ_DOMAIN,
            "ca_id": ca_id,
            "resource_id": str(resource_id),
            "issued_at": issued_at,
        }
    ).decode("ascii")


def sign_text(account: LocalAccount, message: str) -> str:
    """``personal_sign`` of ``message`` by an eth-account ``LocalAccount``; 0x-hex signature."""
    signature: str = account.sign_message(encode_defunct(text=message)).signature.hex()
    return signature if signature.startswith("0x") else "0x" + signature


def recover_text_signer(message: str, signature: str) -> str | None:
    """The (lowercase) address whose ``personal_sign`` of ``message`` is ``signature``, or None
    when ``signature`` is no wallet signature at all (the verifier raises its own refusal)."""
    try:
        signer: str = Account.recover_message(encode_defunct(text=message), signature=signature)
    except (BadSignature, ValidationError, ValueError, TypeError):
        return None
    return signer.lower()
