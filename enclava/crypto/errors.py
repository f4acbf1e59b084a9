"""The encryption layer's errors: a key or a ciphertext that is not what Enclava produces.

EnclavaError
└── EnvelopeError                the key or the ciphertext is unusable
    ├── KeyInvalid               not an age identity (AGE-SECRET-KEY-1...) or recipient (age1...)
    └── DecryptionFailed         not encrypted to this key, or altered
"""

from __future__ import annotations

from enclava.errors import EnclavaError

__all__ = ["EnvelopeError", "KeyInvalid", "DecryptionFailed"]


class EnvelopeError(EnclavaError):
    code = "envelope_error"
    hint = "The key or the ciphertext is not what Enclava produces."


class KeyInvalid(EnvelopeError):
    code = "key_invalid"
    hint = "A resource key is an age identity (AGE-SECRET-KEY-1...); a recipient key is age1...."


class DecryptionFailed(EnvelopeError):
    code = "decryption_failed"
    hint = "The ciphertext was not encrypted to this key, or it was altered."
