"""Encryption every party shares: age envelopes for resources and results, and the wallet-derived
result identity."""

from enclava.crypto.envelope import (
    encrypt_to,
    new_resource_key,
    open_sealed,
    parse_recipient,
    recipient_of,
    seal,
)
from enclava.crypto.errors import DecryptionFailed, EnvelopeError, KeyInvalid
from enclava.crypto.wallet_identity import IDENTITY_MESSAGE, wallet_identity, wallet_recipient

__all__ = [
    "EnvelopeError",
    "KeyInvalid",
    "DecryptionFailed",
    "new_resource_key",
    "recipient_of",
    "seal",
    "open_sealed",
    "encrypt_to",
    "parse_recipient",
    "wallet_identity",
    "wallet_recipient",
    "IDENTITY_MESSAGE",
]
