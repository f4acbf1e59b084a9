"""Wallet errors, each with a stable code and a hint that says what to do.

Hierarchy::

    EnclavaError
    └── WalletError              a wallet cannot be created, found or unlocked
        ├── WalletNotFound       no keystore file under that name
        ├── WalletExists         a keystore with that name is already there (never overwritten)
        ├── WrongPassword        the password does not decrypt the keystore
        ├── InvalidWalletName    the name is not a safe file name
        ├── InvalidPrivateKey    an imported key is not 32 bytes of hex
        ├── InvalidKeystore      an imported keystore file is not an eth-account keystore
        └── EmptyPassword        a new wallet's password is empty (the key would be unprotected)
"""

from __future__ import annotations

from enclava.errors import EnclavaError

__all__ = [
    "WalletError",
    "WalletNotFound",
    "WalletExists",
    "WrongPassword",
    "InvalidWalletName",
    "InvalidPrivateKey",
    "InvalidKeystore",
    "EmptyPassword",
]


class WalletError(EnclavaError):
    code = "wallet_error"
    hint = "Run `enclava wallet show` to see your wallets."


class WalletNotFound(WalletError):
    code = "wallet_not_found"
    hint = (
        "Create one with `enclava wallet new` or `enclava wallet import`, or pick another with "
        "--wallet."
    )


class WalletExists(WalletError):
    code = "wallet_exists"
    hint = "Choose another name with --wallet; an existing keystore is never overwritten."


class WrongPassword(WalletError):
    code = "wrong_password"
    hint = "Type the password again, or set ENCLAVA_WALLET_PASSWORD to the right one."


class InvalidWalletName(WalletError):
    code = "invalid_wallet_name"
    hint = "Use letters, digits, '-', '_' or '.' (at most 64 characters), not starting with '.'."


class InvalidPrivateKey(WalletError):
    code = "invalid_private_key"
    hint = "Give the private key as 64 hex digits (with or without 0x)."


class InvalidKeystore(WalletError):
    code = "invalid_keystore"
    hint = "Give an eth-account (Web3 Secret Storage v3) keystore JSON file."


class EmptyPassword(WalletError):
    code = "empty_password"
    hint = "Choose a password (or set ENCLAVA_WALLET_PASSWORD)."
