"""Canonical archives: the same files always give the same bytes, hence the same engine hash.

A canonical archive is an uncompressed POSIX (pax) tar holding one entry per regular file, sorted
by relative POSIX path, with mtime 0, uid/gid 0, empty owner names and mode 0644 (0755 when the
owner may execute the file). Folders are implied by the paths, so empty folders are not kept.
Engines leave out Python caches (``__pycache__/``, ``*.pyc``) so that running an engine locally
does not change its hash. Links, devices and anything else that is not a plain file are refused.
"""

from __future__ import annotations

import hashlib
import io
import os
import stat
import tarfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from enclava.protocol.engine.errors import EngineArchiveInvalid, EngineError, OutputArchiveInvalid
from enclava.protocol.engine.manifest import EngineManifest, load_manifest

__all__ = [
    "canonical_archive",
    "engine_hash",
    "unpack_engine",
    "pack_outputs",
    "unpack_outputs",
    "MAX_ENGINE_BYTES",
    "MAX_MEMBERS",
]

MAX_ENGINE_BYTES = 256 * 1024 * 1024
MAX_MEMBERS = 10_000
_CACHE_DIRS = {"__pycache__"}
_CACHE_SUFFIXES = (".pyc", ".pyo")


@dataclass(frozen=True)
class _Member:
    path: str
    executable: bool
    data: bytes


def _collect(folder: Path, error: type[EngineError], skip_caches: bool) -> list[_Member]:
    if not folder.is_dir():
        raise error(f"{folder} is not a folder")
    members: list[_Member] = []
    for root, dirs, files in os.walk(folder, followlinks=False):
        if skip_caches:
            dirs[:] = [d for d in dirs if d not in _CACHE_DIRS]
        for name in dirs + files:
            full = Path(root) / name
            info = full.lstat()
            rel = full.relative_to(folder).as_posix()
            if stat.S_ISDIR(info.st_mode):
                continue
            if not stat.S_ISREG(info.st_mode):
                raise error(f"{rel} is not a plain file (links and devices are refused)")
            if skip_caches and name.endswith(_CACHE_SUFFIXES):
                continue
            members.append(_Member(rel, bool(info.st_mode & stat.S_IXUSR), full.read_bytes()))
    return members


def _pack(members: list[_Member]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT, encoding="utf-8") as tar:
        for member in sorted(members, key=lambda m: m.path):
            info = tarfile.TarInfo(member.path)
            info.size = len(member.data)
            info.mtime = 0
            info.mode = 0o755 if member.executable else 0o644
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            info.type = tarfile.REGTYPE
            tar.addfile(info, io.BytesIO(member.data))
    return buffer.getvalue()


def _read(archive: bytes, error: type[EngineError], max_bytes: int) -> list[_Member]:
    """Read and check every entry of an archive without touching the disk."""
    if len(archive) > max_bytes:
        raise error(f"archive is {len(archive)} bytes, over the {max_bytes}-byte limit")
    members: list[_Member] = []
    seen: set[str] = set()
    total = 0
    try:
        with tarfile.open(fileobj=io.BytesIO(archive), mode="r:") as tar:
            for info in tar:
                name = info.name
                path = PurePosixPath(name)
                if (
                    not name
                    or path.is_absolute()
                    or ".." in path.parts
                    or "\\" in name
                    or "\x00" in name
                ):
                    raise error(f"unsafe path in archive: {name!r}")
                if info.isdir():
                    continue
                if not info.isreg():
                    raise error(f"{name!r} is not a plain file (links and devices are refused)")
                clean = path.as_posix()
                if clean in seen:
                    raise error(f"{name!r} appears twice in the archive")
                seen.add(clean)
                total += info.size
                if total > max_bytes or len(members) >= MAX_MEMBERS:
                    raise error("archive content is over the size or file-count limit")
                handle = tar.extractfile(info)
                data = handle.read() if handle is not None else b""
                members.append(_Member(clean, bool(info.mode & 0o100), data))
    except tarfile.TarError as exc:
        raise error(f"not a valid tar archive: {exc}") from exc
    prefixes = {p for m in members for p in PurePosixPath(m.path).parents}
    if any(PurePosixPath(m.path) in prefixes for m in members):
        raise error("a file in the archive is also used as a folder")
    return members


def _write(members: list[_Member], dest: Path, error: type[EngineError]) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    if any(dest.iterdir()):
        raise error(f"{dest} must be empty before unpacking")
    for member in members:
        target = dest / member.path
        target.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(member.data)
        os.chmod(target, 0o755 if member.executable else 0o644)


def canonical_archive(folder: str | Path) -> bytes:
    """The canonical archive of an engine folder (Python caches left out)."""
    return _pack(_collect(Path(folder), EngineArchiveInvalid, skip_caches=True))


def engine_hash(folder_or_archive: str | Path | bytes) -> str:
    """SHA-256 hex of the canonical archive of a folder, an archive's bytes, or an archive file.

    An archive is re-canonicalized first, so any tar of the same files names the same engine.
    """
    if isinstance(folder_or_archive, (bytes, bytearray)):
        data = _pack(_read(bytes(folder_or_archive), EngineArchiveInvalid, MAX_ENGINE_BYTES))
    elif Path(folder_or_archive).is_dir():
        data = canonical_archive(folder_or_archive)
    else:
        raw = Path(folder_or_archive).read_bytes()
        data = _pack(_read(raw, EngineArchiveInvalid, MAX_ENGINE_BYTES))
    return hashlib.sha256(data).hexdigest()


def unpack_engine(
    archive: bytes, dest: str | Path, *, max_bytes: int = MAX_ENGINE_BYTES
) -> EngineManifest:
    """Check an engine archive, unpack it into the empty folder ``dest`` and return its manifest."""
    members = _read(archive, EngineArchiveInvalid, max_bytes)
    _write(members, Path(dest), EngineArchiveInvalid)
    return load_manifest(dest)


def pack_outputs(folder: str | Path) -> bytes:
    """The canonical archive of an engine's output folder (every plain file, nothing skipped)."""
    return _pack(_collect(Path(folder), OutputArchiveInvalid, skip_caches=False))


def unpack_outputs(
    archive: bytes, dest: str | Path, *, max_bytes: int = MAX_ENGINE_BYTES
) -> list[str]:
    """Unpack an output archive into the empty folder ``dest``; return the relative file paths."""
    members = _read(archive, OutputArchiveInvalid, max_bytes)
    _write(members, Path(dest), OutputArchiveInvalid)
    return sorted(m.path for m in members)
