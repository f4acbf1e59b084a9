"""A served model: a Hugging Face causal-LM folder, packed and hashed like an engine.

What the serving engine loads, so what a model owner publishes: ``config.json`` (a JSON object
naming its ``model_type``), one or more ``*.safetensors`` weight files and the tokenizer
(``tokenizer.json`` or a SentencePiece ``tokenizer.model``), plus whatever small JSON files the
folder has (``generation_config.json``, ``tokenizer_config.json`` with its chat template, ...).

Refused, because loading them runs code: pickled weights (``*.bin``, ``*.pt``, ``*.pth``,
``*.pkl``, ``*.ckpt``; unpickling executes what the file says) and Python files (a model's own
code, which transformers runs only with ``trust_remote_code``, never allowed here).

The archive is the canonical one of :mod:`.archive` (the same files give the same bytes on every
machine): its SHA-256 is the ``weights_sha256`` a service enclave names in its statement, beside
the on-chain hash of the ciphertext. The owner computes it with :func:`model_archive_sha256`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from enclava.protocol.engine.archive import canonical_archive, unpack_outputs
from enclava.protocol.engine.errors import ModelFolderInvalid, OutputArchiveInvalid

__all__ = [
    "MAX_MODEL_BYTES",
    "ModelFolder",
    "check_model_files",
    "pack_model_folder",
    "model_archive_sha256",
    "unpack_model_folder",
]

#: the largest model archive a service enclave unpacks (it is held in memory once)
MAX_MODEL_BYTES = 8 * 1024**3
_PICKLED = (".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt")
_TOKENIZERS = ("tokenizer.json", "tokenizer.model")


@dataclass(frozen=True)
class ModelFolder:
    """A checked model folder: where it is, its ``model_type`` and its files (relative, sorted)."""

    path: Path
    model_type: str
    files: tuple[str, ...]


def check_model_files(folder: Path, files: list[str]) -> ModelFolder:
    """``folder`` (holding ``files``) as a :class:`ModelFolder`, or :class:`ModelFolderInvalid`."""
    names = {PurePosixPath(f).name for f in files}
    for name in sorted(files):
        suffix = PurePosixPath(name).suffix.lower()
        if suffix in _PICKLED:
            raise ModelFolderInvalid(
                f"{name}: pickled weights are refused (loading them runs code)",
                hint="Save the weights as safetensors (save_pretrained(safe_serialization=True)).",
            )
        if suffix == ".py":
            raise ModelFolderInvalid(
                f"{name}: a model's own Python code is refused (trust_remote_code is never on)",
                hint="Serve a model whose architecture transformers ships.",
            )
    if "config.json" not in files:
        raise ModelFolderInvalid("the folder has no config.json at its top level")
    if not any(f.endswith(".safetensors") for f in files):
        raise ModelFolderInvalid("the folder has no *.safetensors weights")
    if not names.intersection(_TOKENIZERS):
        raise ModelFolderInvalid("the folder has no tokenizer (tokenizer.json or tokenizer.model)")
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelFolderInvalid(f"config.json cannot be read as JSON: {exc}") from exc
    model_type = config.get("model_type") if isinstance(config, dict) else None
    if not isinstance(model_type, str) or not model_type:
        raise ModelFolderInvalid("config.json names no model_type")
    return ModelFolder(path=folder, model_type=model_type, files=tuple(sorted(files)))


def _listing(folder: Path) -> list[str]:
    return sorted(
        p.relative_to(folder).as_posix()
        for p in folder.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    )


def pack_model_folder(folder: str | Path) -> bytes:
    """The canonical archive of a checked model folder (what the owner encrypts and publishes)."""
    path = Path(folder)
    if not path.is_dir():
        raise ModelFolderInvalid(f"{path} is not a folder")
    check_model_files(path, _listing(path))
    return canonical_archive(path)


def model_archive_sha256(archive: bytes) -> str:
    """``0x`` + the SHA-256 of a model archive: the ``weights_sha256`` of a service statement."""
    return "0x" + hashlib.sha256(archive).hexdigest()


def unpack_model_folder(
    archive: bytes, dest: str | Path, *, max_bytes: int = MAX_MODEL_BYTES
) -> ModelFolder:
    """Unpack a model archive into the empty folder ``dest`` and check what it holds."""
    try:
        files = unpack_outputs(archive, dest, max_bytes=max_bytes)
    except OutputArchiveInvalid as exc:
        raise ModelFolderInvalid(f"the model archive is refused: {exc.message}") from exc
    return check_model_files(Path(dest), files)
