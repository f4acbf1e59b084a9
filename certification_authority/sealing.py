"""The CA's keys, sealed at rest.

The CA holds four keys: an ECDSA P-256 key that signs X.509 certificates, a secp256k1 key whose
address is an authorised CA signer in the attestation registry (it signs the EIP-712
``registerEnclave`` messages, the key broker's release answers, and pays for the transaction), an
age X25519 identity to which owners encrypt the resource keys they deposit with the key broker, and
an ECDSA P-256 TLS key (the CA serves HTTPS only; its own evidence binds this key, see
``certification_authority.tls``). Keys sealed before the TLS key existed get one on the next start.

They are stored as one AES-256-GCM blob (file mode 0600) under a 32-byte sealing key:
- simulated TEE: the sealing key is a separate 0600 file (``CA_SEALING_KEY_FILE``), created on
  first start;
- on hardware, the sealing key is never stored: on SEV-SNP it is derived by the AMD secure
  processor (``SNP_GET_DERIVED_KEY`` through /dev/sev-guest, mixing in the measurement and the
  guest policy), so only the same CA build on the same chip can unseal; on TDX, which has no
  sealing instruction, it is released by a key service to the attested CA measurement. Both plug in
  as a ``SealingKeySource`` returning the 32 bytes.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import pyrage
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from eth_account import Account
from eth_account.signers.local import LocalAccount

from certification_authority.errors import SealingError

__all__ = ["CaKeys", "SealingKeySource", "FileSealingKey", "load_or_create_keys"]

_AAD = b"enclava-ca-sealed-keys-v1"


class SealingKeySource(Protocol):
    def sealing_key(self) -> bytes: ...


@dataclass(frozen=True)
class FileSealingKey:
    """Simulated-TEE sealing key: 32 random bytes in a 0600 file, created if missing."""

    path: Path

    def sealing_key(self) -> bytes:
        if not self.path.exists():
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(os.urandom(32))
        key = self.path.read_bytes()
        if len(key) != 32:
            raise SealingError(f"the sealing key at {self.path} is not 32 bytes")
        return key


def _pem(key: ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def _ec_key(pem: str, what: str) -> ec.EllipticCurvePrivateKey:
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise SealingError(f"the sealed {what} key is not an EC key")
    return key


@dataclass(frozen=True)
class CaKeys:
    cert_key: ec.EllipticCurvePrivateKey
    signer: LocalAccount
    age_identity: pyrage.x25519.Identity
    tls_key: ec.EllipticCurvePrivateKey

    def _to_json(self) -> bytes:
        return json.dumps(
            {
                "cert_key": _pem(self.cert_key),
                "signer": self.signer.key.hex(),
                "age": str(self.age_identity),
                "tls_key": _pem(self.tls_key),
            }
        ).encode()

    @classmethod
    def _from_json(cls, data: bytes) -> tuple["CaKeys", bool]:
        """The keys, and whether a TLS key had to be added (sealed by an older CA)."""
        fields = json.loads(data)
        added = "tls_key" not in fields
        tls_key = (
            ec.generate_private_key(ec.SECP256R1()) if added else _ec_key(fields["tls_key"], "TLS")
        )
        return cls(
            _ec_key(fields["cert_key"], "certificate"),
            Account.from_key(fields["signer"]),
            pyrage.x25519.Identity.from_str(fields["age"]),
            tls_key,
        ), added

    @classmethod
    def generate(cls, signer_key: str | None = None) -> "CaKeys":
        signer = Account.from_key(signer_key) if signer_key else Account.create()
        return cls(
            ec.generate_private_key(ec.SECP256R1()),
            signer,
            pyrage.x25519.Identity.generate(),
            ec.generate_private_key(ec.SECP256R1()),
        )


def _seal(path: Path, aead: AESGCM, keys: CaKeys) -> None:
    nonce = os.urandom(12)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(nonce + aead.encrypt(nonce, keys._to_json(), _AAD))
    tmp.replace(path)


def load_or_create_keys(
    path: Path, source: SealingKeySource, *, signer_key: str | None = None
) -> CaKeys:
    """Unseal the CA keys from ``path``, or generate and seal new ones on first start.

    ``signer_key`` imports a given secp256k1 key on first start (the devnet's funded CA account).
    """
    aead = AESGCM(source.sealing_key())
    if path.exists():
        blob = path.read_bytes()
        try:
            keys, added = CaKeys._from_json(aead.decrypt(blob[:12], blob[12:], _AAD))
        except (InvalidTag, ValueError, KeyError) as exc:
            raise SealingError(f"cannot unseal the CA keys at {path}") from exc
        if added:
            _seal(path, aead, keys)
        return keys
    keys = CaKeys.generate(signer_key)
    _seal(path, aead, keys)
    return keys
