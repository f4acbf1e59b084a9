"""EIP-191 ``personal_sign`` over protocol messages: one signer and one recoverer for every side.

Wallets, enclaves and the CA sign the canonical bytes of a message; the verifier recovers the
address from the very same bytes. Any failure of eth-account becomes ``None`` here, so each caller
raises its own typed refusal.
"""

from __future__ import annotations

from eth_account import Account
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount
from eth_keys.exceptions import BadSignature
from eth_utils.exceptions import ValidationError

__all__ = ["sign_bytes", "recover_bytes_signer"]


def sign_bytes(account: LocalAccount, message: bytes) -> str:
    """``personal_sign`` of ``message`` by ``account``; ``0x`` + 130 hex digits."""
    signature = bytes(account.sign_message(encode_defunct(primitive=message)).signature).hex()
    return "0x" + signature.removeprefix("0x")


def recover_bytes_signer(message: bytes, signature: str) -> str | None:
    """The checksummed address whose ``personal_sign`` of ``message`` is ``signature``, or None."""
    if not isinstance(signature, str) or not isinstance(message, bytes):
        return None
    try:
        return str(Account.recover_message(encode_defunct(primitive=message), signature=signature))
    except (BadSignature, ValidationError, ValueError, TypeError):
        return None
