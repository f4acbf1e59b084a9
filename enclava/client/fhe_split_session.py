"""The customer's FHE key session on their own device, and the uploads it has already made.

A session folder (mode 0700) holds:

- ``secret.bin``: the CKKS secret key with its public key (0600). It leaves the device only as an
  enclave-decrypt order's input, sealed like every other input and released by the key broker to
  that order's attested enclave alone;
- ``transport.key``: the age key that seals this session's order inputs. Evaluation keys are
  ~11 MB (linear split, single layout) and are uploaded **once per session**: sealed under this key,
  their ciphertext gets one CID that later orders name again, so each order deposits this key for
  its enclave. Its scope is exactly the key session: what it opens is either public CKKS material
  (public context, evaluation keys), ciphertexts under the session's CKKS key, or — in
  enclave-decrypt orders — that same CKKS secret, which every such order's enclave receives anyway;
- ``eval-keys/<sha256>``: evaluation-key bundles by SHA-256, with ``uploads.json`` mapping each
  bundle's SHA-256 (and the public context's) to the CID and ciphertext SHA-256 of its upload.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from enclava.crypto.envelope import new_resource_key, seal
from enclava.errors import ConfigError
from enclava.fhe import EvaluationKeys, KeySession
from enclava.protocol.order import OrderInput
from enclava.storage.content_store import IpfsContentStore

__all__ = ["FheSessionStore", "Upload", "default_session_dir"]


def default_session_dir(name: str = "default") -> Path:
    base = os.environ.get("ENCLAVA_FHE_HOME") or Path.home() / ".enclava" / "fhe"
    return Path(base) / name


@dataclass(frozen=True)
class Upload:
    cid: str
    ciphertext_sha256: str  # hex

    def as_input(self) -> OrderInput:
        return OrderInput(self.cid, bytes.fromhex(self.ciphertext_sha256))


class FheSessionStore:
    """A key session kept in a folder: create it once, load it for every later order."""

    def __init__(self, folder: Path, keys: KeySession, transport_key: bytes) -> None:
        self.folder = Path(folder)
        self.keys = keys
        self.transport_key = transport_key

    def __repr__(self) -> str:
        return f"FheSessionStore({str(self.folder)!r}, {self.keys!r})"

    @classmethod
    def create(
        cls, folder: str | os.PathLike[str], *, overwrite: bool = False
    ) -> "FheSessionStore":
        folder = Path(folder)
        if (folder / "secret.bin").exists() and not overwrite:
            raise ConfigError(
                f"an FHE key session already exists in {folder}",
                hint="Load it, or pass overwrite=True (`--force`) to replace it.",
            )
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(folder, 0o700)
        keys, transport = KeySession.generate(), new_resource_key()
        _write_private(folder / "secret.bin", keys.export_secret_for_enclave())
        _write_private(folder / "transport.key", transport)
        (folder / "uploads.json").write_text("{}")
        return cls(folder, keys, transport)

    @classmethod
    def load(cls, folder: str | os.PathLike[str]) -> "FheSessionStore":
        folder = Path(folder)
        try:
            secret, transport = (
                (folder / "secret.bin").read_bytes(),
                (folder / "transport.key").read_bytes(),
            )
        except FileNotFoundError as exc:
            raise ConfigError(
                f"no FHE key session in {folder}", hint="Create one with `enclava fhe keys new`."
            ) from exc
        return cls(folder, KeySession.from_enclave_secret(secret), transport)

    @classmethod
    def open_or_create(cls, folder: str | os.PathLike[str]) -> "FheSessionStore":
        return cls.load(folder) if (Path(folder) / "secret.bin").exists() else cls.create(folder)

    # ------------------------------------------------------------------ evaluation keys

    def evaluation_keys(self, steps: list[int]) -> bytes:
        """This session's evaluation keys for ``steps``: generated once, then read from disk."""
        wanted = sorted(set(int(s) for s in steps))
        index = self._index()
        for sha, entry in index.get("eval_keys", {}).items():
            path: Path = self.folder / "eval-keys" / str(sha)
            if entry.get("steps") == wanted and path.is_file():
                stored = path.read_bytes()
                if hashlib.sha256(stored).hexdigest() == sha:
                    return stored
        data: bytes = self.keys.evaluation_keys(wanted)
        sha = EvaluationKeys(data).sha256
        (self.folder / "eval-keys").mkdir(mode=0o700, exist_ok=True)
        (self.folder / "eval-keys" / sha).write_bytes(data)
        index.setdefault("eval_keys", {})[sha] = {"steps": wanted}
        self._save(index)
        return data

    # ------------------------------------------------------------------ uploads

    def upload_once(self, store: IpfsContentStore, data: bytes) -> tuple[Upload, bool]:
        """Seal ``data`` under the transport key and upload it, unless this exact content already
        was.

        Returns the upload and whether it was new. Keyed by the plaintext's SHA-256 (content
        addressing), so the same evaluation keys map to the same CID in every order of the session.
        """
        sha = hashlib.sha256(data).hexdigest()
        index = self._index()
        known = index.get("uploads", {}).get(sha)
        if known:
            return Upload(known["cid"], known["ciphertext_sha256"]), False
        upload = self.upload(store, data)
        index.setdefault("uploads", {})[sha] = {
            "cid": upload.cid,
            "ciphertext_sha256": upload.ciphertext_sha256,
        }
        self._save(index)
        return upload, True

    def upload(self, store: IpfsContentStore, data: bytes) -> Upload:
        ciphertext = seal(data, self.transport_key)
        stored = store.add(ciphertext)
        return Upload(stored.cid, hashlib.sha256(ciphertext).hexdigest())

    def _index(self) -> dict[str, Any]:
        path = self.folder / "uploads.json"
        return json.loads(path.read_text()) if path.is_file() else {}

    def _save(self, index: dict[str, Any]) -> None:
        tmp = self.folder / "uploads.json.part"
        tmp.write_text(json.dumps(index, sort_keys=True, indent=1))
        tmp.replace(self.folder / "uploads.json")


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
