"""The customer's result-decryption identity, derived from their wallet.

A person keeps one secret, the wallet. Their age identity is HKDF-SHA256 over the wallet's
EIP-191 signature of a fixed, domain-separated message: ECDSA signatures by eth-account are
deterministic (RFC 6979), so the same wallet always derives the same identity, and nobody without
the wallet can. The message names its purpose so that no other Enclava signature can be replayed
as this one.
"""

from __future__ import annotations

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount
from pyrage import x25519

from enclava.crypto.bech32 import bech32_encode

__all__ = ["IDENTITY_MESSAGE", "wallet_identity", "wallet_recipient"]

IDENTITY_MESSAGE = (
    "Enclava result key v1\n\nSign to derive the key that decrypts your Enclava results. "
    "This signature costs nothing and moves no funds."
)


def wallet_identity(account: LocalAccount) -> x25519.Identity:
    """The age identity of ``account`` (an eth-account ``LocalAccount``)."""
    signature = bytes(account.sign_message(encode_defunct(text=IDENTITY_MESSAGE)).signature)
    secret = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=b"enclava-result-key", info=b"age-x25519-v1"
    ).derive(signature)
    return x25519.Identity.from_str(bech32_encode("age-secret-key-", secret).upper())


def wallet_recipient(account: LocalAccount) -> str:
    return str(wallet_identity(account).to_public())
