"""Envelope encryption for everything Enclava stores: age (X25519 + ChaCha20-Poly1305, streamed
in 64 KiB chunks) through pyrage.

A *resource key* is an age identity (``AGE-SECRET-KEY-1...`` as bytes). The owner encrypts the
resource to the identity's public recipient, uploads the ciphertext, and deposits the identity with
the key broker; an enclave that obtains the identity decrypts. Results are encrypted to the
order's *recipient key*, an age recipient (``age1...`` as bytes) that only the customer can open.
"""

from __future__ import annotations

import pyrage
from pyrage import x25519

from enclava.crypto.errors import DecryptionFailed, KeyInvalid

__all__ = [
    "new_resource_key",
    "recipient_of",
    "seal",
    "open_sealed",
    "encrypt_to",
    "parse_recipient",
]


def _identity(key: bytes | str | x25519.Identity) -> x25519.Identity:
    if isinstance(key, x25519.Identity):
        return key
    text = key.decode() if isinstance(key, (bytes, bytearray)) else key
    try:
        return x25519.Identity.from_str(text.strip())
    except (pyrage.IdentityError, ValueError, TypeError, UnicodeDecodeError) as exc:
        raise KeyInvalid("the resource key is not an age identity") from exc


def parse_recipient(recipient: bytes | str | x25519.Recipient) -> x25519.Recipient:
    if isinstance(recipient, x25519.Recipient):
        return recipient
    try:
        text = recipient.decode() if isinstance(recipient, (bytes, bytearray)) else recipient
        return x25519.Recipient.from_str(text.strip())
    except (pyrage.RecipientError, ValueError, TypeError, UnicodeDecodeError) as exc:
        raise KeyInvalid("the recipient key is not an age recipient (age1...)") from exc


def new_resource_key() -> bytes:
    """A fresh resource key (an age identity), as the bytes the key broker stores."""
    return str(x25519.Identity.generate()).encode()


def recipient_of(key: bytes | str | x25519.Identity) -> str:
    return str(_identity(key).to_public())


def seal(plaintext: bytes, key: bytes | str | x25519.Identity) -> bytes:
    """Encrypt ``plaintext`` so that only the holder of resource key ``key`` can read it."""
    return bytes(pyrage.encrypt(bytes(plaintext), [_identity(key).to_public()]))


def encrypt_to(plaintext: bytes, recipient: bytes | str | x25519.Recipient) -> bytes:
    """Encrypt ``plaintext`` to a public recipient (an order's result recipient key)."""
    return bytes(pyrage.encrypt(bytes(plaintext), [parse_recipient(recipient)]))


def open_sealed(ciphertext: bytes, key: bytes | str | x25519.Identity) -> bytes:
    try:
        return bytes(pyrage.decrypt(bytes(ciphertext), [_identity(key)]))
    except pyrage.DecryptError as exc:
        raise DecryptionFailed("cannot decrypt: wrong key or altered ciphertext") from exc
