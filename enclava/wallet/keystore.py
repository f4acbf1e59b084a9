"""Wallets as eth-account keystore files (Web3 Secret Storage v3, scrypt) on disk.

A wallet is ``<wallets dir>/<name>.json``, where the folder is ``$ENCLAVA_HOME/wallets`` or
``~/.config/enclava/wallets``. Files are written 0600 in a 0700 folder, atomically, and never
overwritten. The keystore's plain ``address`` field lets `wallet show` name a wallet without the
password; everything that signs needs :func:`unlock`.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils.address import to_checksum_address

from enclava.paths import user_home
from enclava.wallet.errors import (
    InvalidKeystore,
    InvalidPrivateKey,
    InvalidWalletName,
    WalletExists,
    WalletNotFound,
    WrongPassword,
)

__all__ = [
    "WalletInfo",
    "wallets_dir",
    "wallet_path",
    "list_wallets",
    "create_wallet",
    "import_private_key",
    "import_keystore",
    "unlock",
    "wallet_info",
    "DEFAULT_WALLET",
]

DEFAULT_WALLET = "default"
_NAME = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}$")


@dataclass(frozen=True)
class WalletInfo:
    name: str
    address: str
    path: Path


def wallets_dir() -> Path:
    return user_home() / "wallets"


def wallet_path(name: str) -> Path:
    if not _NAME.match(name or ""):
        raise InvalidWalletName(f"{name!r} is not a valid wallet name")
    return wallets_dir() / f"{name}.json"


def _read(path: Path, name: str) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise WalletNotFound(f"no wallet named {name!r} (looked for {path})") from exc
    except (OSError, ValueError) as exc:
        raise InvalidKeystore(
            f"the wallet file {path} is unreadable: {type(exc).__name__}"
        ) from exc
    if not isinstance(data, dict) or "crypto" not in data and "Crypto" not in data:
        raise InvalidKeystore(f"{path} is not an eth-account keystore")
    return data


def _address_of(keystore: dict[str, Any]) -> str | None:
    raw = keystore.get("address")
    try:
        return to_checksum_address("0x" + str(raw).lower().removeprefix("0x")) if raw else None
    except ValueError:
        return None


def _write_new(name: str, keystore: dict[str, Any]) -> WalletInfo:
    path = wallet_path(name)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as exc:
        raise WalletExists(f"a wallet named {name!r} already exists at {path}") from exc
    with os.fdopen(fd, "w") as handle:
        json.dump(keystore, handle)
    return WalletInfo(name, _address_of(keystore) or "", path)


def _check_free(name: str) -> None:
    path = wallet_path(name)
    if path.exists():
        raise WalletExists(f"a wallet named {name!r} already exists at {path}")


def create_wallet(name: str, password: str) -> WalletInfo:
    """A fresh random key, encrypted under ``password``."""
    _check_free(name)
    account = Account.create()
    return _write_new(name, Account.encrypt(account.key, password))


def import_private_key(name: str, private_key: str, password: str) -> WalletInfo:
    """Encrypt an existing private key (64 hex digits) into a new wallet."""
    _check_free(name)
    raw = (private_key or "").strip().removeprefix("0x")
    if not re.fullmatch(r"[0-9a-fA-F]{64}", raw):
        raise InvalidPrivateKey("the private key is not 64 hex digits")
    try:
        account = Account.from_key(bytes.fromhex(raw))
    except (ValueError, TypeError) as exc:
        raise InvalidPrivateKey("the private key is outside the secp256k1 range") from exc
    return _write_new(name, Account.encrypt(account.key, password))


def import_keystore(name: str, source: Path, password: str) -> WalletInfo:
    """Copy a keystore file in after checking that ``password`` opens it."""
    _check_free(name)
    keystore = _read(Path(source), str(source))
    account = _decrypt(keystore, password, str(source))
    if _address_of(keystore) is None:
        keystore = {**keystore, "address": account.address[2:].lower()}
    return _write_new(name, keystore)


def wallet_info(name: str) -> WalletInfo:
    """Name, address and file of a wallet, without its password."""
    path = wallet_path(name)
    address = _address_of(_read(path, name))
    if address is None:
        raise InvalidKeystore(
            f"the wallet file {path} has no address field",
            hint="Re-import it with `enclava wallet import --keystore FILE`.",
        )
    return WalletInfo(name, address, path)


def list_wallets() -> list[WalletInfo]:
    folder = wallets_dir()
    if not folder.is_dir():
        return []
    found = []
    for path in sorted(folder.glob("*.json")):
        try:
            found.append(wallet_info(path.stem))
        except (InvalidKeystore, InvalidWalletName):
            continue
    return found


def unlock(name: str, password: str) -> LocalAccount:
    """The wallet's account; :class:`WrongPassword` when the password does not open it."""
    path = wallet_path(name)
    return _decrypt(_read(path, name), password, name)


def _decrypt(keystore: dict[str, Any], password: str, what: str) -> LocalAccount:
    try:
        key = Account.decrypt(keystore, password)
    except ValueError as exc:
        if "MAC mismatch" in str(exc):
            raise WrongPassword(f"wrong password for wallet {what!r}") from exc
        raise InvalidKeystore(f"cannot decrypt {what!r}: {exc}") from exc
    except (KeyError, TypeError) as exc:
        raise InvalidKeystore(
            f"{what!r} is not a complete keystore ({type(exc).__name__})"
        ) from exc
    account: LocalAccount = Account.from_key(key)
    return account
