"""Bytes in and out of SEAL objects, and the canonical bundle container every FHE message uses.

TenSEAL's SEAL bindings save and load only through file paths, so objects pass through a private
folder (mode 0700, in /dev/shm when it exists so that secret-key bytes never reach a disk) that is
removed at once.

A bundle is ``MAGIC ‖ u32 header length ‖ header ‖ blobs``: the header is compact JSON with sorted
keys (:func:`enclava.protocol.canonical.canonical_json`), naming each blob with its length and
SHA-256 in order. The same fields always give the same bytes, so hashing a bundle (to cache it,
to bind it on chain) is well defined.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import struct
import tempfile
from typing import Any

from enclava.fhe.errors import MalformedBundle
from enclava.protocol.canonical import canonical_json

__all__ = [
    "seal_to_bytes",
    "seal_from_bytes",
    "pack_bundle",
    "unpack_bundle",
    "sha256_hex",
]

MAGIC = b"ENCLAVA-FHE/1\n"
_SHM = "/dev/shm"


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _scratch() -> str:
    base = _SHM if os.path.isdir(_SHM) and os.access(_SHM, os.W_OK) else None
    return tempfile.mkdtemp(prefix="enclava-fhe-", dir=base)


def seal_to_bytes(obj: Any) -> bytes:
    """``obj.save(path)`` (any SEAL object or Serializable) → bytes."""
    folder = _scratch()
    try:
        path = os.path.join(folder, "o")
        obj.save(path)
        with open(path, "rb") as fh:
            return fh.read()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def seal_from_bytes(obj: Any, context: Any, data: bytes, what: str) -> Any:
    """Load ``data`` into the empty SEAL ``obj``; SEAL validates it against ``context``."""
    folder = _scratch()
    try:
        path = os.path.join(folder, "o")
        with open(path, "wb") as fh:
            fh.write(data)
        if context is None:
            obj.load(path)
        else:
            obj.load(context, path)
        return obj
    except (RuntimeError, ValueError, OSError) as exc:
        raise MalformedBundle(f"{what} is not valid for this CKKS context: {exc}") from exc
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def pack_bundle(kind: str, fields: dict[str, Any], blobs: list[bytes]) -> bytes:
    header = {
        "kind": kind,
        "fields": fields,
        "blobs": [{"len": len(b), "sha256": sha256_hex(b)} for b in blobs],
    }
    head = canonical_json(header)
    return MAGIC + struct.pack(">I", len(head)) + head + b"".join(blobs)


def unpack_bundle(data: bytes, kind: str) -> tuple[dict[str, Any], list[bytes]]:
    """Parse and verify a bundle of ``kind``; every malformation is a :class:`MalformedBundle`."""
    if (
        not isinstance(data, (bytes, bytearray))
        or not data.startswith(MAGIC)
        or len(data) < len(MAGIC) + 4
    ):
        raise MalformedBundle(f"not an Enclava FHE bundle (expected {kind})")
    (hlen,) = struct.unpack(">I", data[len(MAGIC) : len(MAGIC) + 4])
    start = len(MAGIC) + 4
    try:
        header = json.loads(data[start : start + hlen])
        if header["kind"] != kind:
            raise MalformedBundle(f"bundle is a {header['kind']!r}, expected {kind!r}")
        fields, specs = header["fields"], header["blobs"]
        blobs, pos = [], start + hlen
        for spec in specs:
            blob = bytes(data[pos : pos + int(spec["len"])])
            if len(blob) != int(spec["len"]) or sha256_hex(blob) != spec["sha256"]:
                raise MalformedBundle("a bundle blob is truncated or altered")
            blobs.append(blob)
            pos += len(blob)
    except (ValueError, KeyError, TypeError) as exc:
        raise MalformedBundle(f"unreadable {kind} bundle header") from exc
    if pos != len(data):
        raise MalformedBundle("trailing bytes after the last blob")
    try:
        canonical = canonical_json(header)
    except ValueError as exc:  # NaN or infinity: not JSON, so never canonical
        raise MalformedBundle("bundle header is not canonical") from exc
    if canonical != bytes(data[start : start + hlen]):
        raise MalformedBundle("bundle header is not canonical")
    return fields, blobs
