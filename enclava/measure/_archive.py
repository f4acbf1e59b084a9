"""The canonical archive: a POSIX ustar tar that depends on nothing but paths and contents.

Entries are regular files only, sorted by path (bytewise, UTF-8), each with mode 0644, uid and gid
0, mtime 0, empty user and group names, no link name, empty device numbers; no directory entries, no
PAX or GNU extension headers. Paths longer than 100 bytes are split at a ``/`` into the ustar
prefix (at most 155 bytes) and name (at most 100). The archive ends with two zero blocks and is
padded with zeros to a multiple of 10240 bytes (tar's default record), exactly as Python's
``tarfile`` writes ``USTAR_FORMAT``. The same files therefore give the same bytes on every machine.
"""

from __future__ import annotations

from collections.abc import Iterable

from enclava.measure.errors import ImagePathInvalid

__all__ = ["canonical_tar", "BLOCK", "RECORD"]

BLOCK, RECORD = 512, 20 * 512
_MODE, _MAX_SIZE = 0o644, 8**11 - 1


def _octal(value: int, width: int) -> bytes:
    """A NUL-terminated zero-padded octal field of ``width`` bytes."""
    return b"%0*o\0" % (width - 1, value)


def _split_path(path: str) -> tuple[bytes, bytes]:
    """(prefix, name) of a ustar header; refuses what ustar cannot hold."""
    raw = path.encode("utf-8")
    if not path or path.startswith("/") or "\\" in path or ".." in path.split("/") or b"\0" in raw:
        raise ImagePathInvalid(f"image path {path!r} is not a plain relative path")
    if len(raw) <= 100:
        return b"", raw
    for cut in range(len(raw) - 1, 0, -1):
        if raw[cut : cut + 1] == b"/" and cut <= 155 and len(raw) - cut - 1 <= 100:
            return raw[:cut], raw[cut + 1 :]
    raise ImagePathInvalid(f"image path {path!r} is too long for a ustar header")


def _header(path: str, size: int) -> bytes:
    if size > _MAX_SIZE:
        raise ImagePathInvalid(f"{path} is {size} bytes, more than a ustar entry holds")
    prefix, name = _split_path(path)
    fields = [
        name.ljust(100, b"\0"),
        _octal(_MODE, 8),
        _octal(0, 8),
        _octal(0, 8),
        _octal(size, 12),
        _octal(0, 12),
        b" " * 8,
        b"0",
        b"\0" * 100,
        b"ustar\x0000",
        b"\0" * 32,
        b"\0" * 32,
        b"\0" * 8,
        b"\0" * 8,
        prefix.ljust(155, b"\0"),
        b"\0" * 12,
    ]
    header = b"".join(fields)
    checksum = b"%06o\0 " % sum(header)
    return header[:148] + checksum + header[156:]


def canonical_tar(entries: Iterable[tuple[str, bytes]]) -> bytes:
    """The canonical archive of ``(path, content)`` pairs (sorted here; duplicate paths refused)."""
    ordered = sorted(entries, key=lambda entry: entry[0].encode("utf-8"))
    out = bytearray()
    for index, (path, content) in enumerate(ordered):
        if index and ordered[index - 1][0] == path:
            raise ImagePathInvalid(f"image path {path!r} appears twice")
        out += _header(path, len(content))
        out += content
        out += b"\0" * (-len(content) % BLOCK)
    out += b"\0" * (2 * BLOCK)
    out += b"\0" * (-len(out) % RECORD)
    return bytes(out)
