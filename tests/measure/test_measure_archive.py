"""The canonical archive: byte-identical to Python's ustar writer with fixed metadata, and
stable."""

from __future__ import annotations

import io
import tarfile

import pytest

from enclava.measure import ImagePathInvalid, canonical_tar

ENTRIES = [
    ("b/x.txt", b"hello"),
    ("a/" + "d" * 120 + "/f.py", b"x" * 1000),
    ("a/empty", b""),
    ("z/\u00e9t\u00e9.py", b"1"),
]


def _reference_tar(entries: list[tuple[str, bytes]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT, encoding="utf-8") as tar:
        for path, content in sorted(entries, key=lambda e: e[0].encode()):
            info = tarfile.TarInfo(path)
            info.size, info.mtime, info.mode, info.uid, info.gid, info.uname, info.gname = (
                len(content),
                0,
                0o644,
                0,
                0,
                "",
                "",
            )
            tar.addfile(info, io.BytesIO(content))
    return buf.getvalue()


def test_archive_matches_a_ustar_tar_with_fixed_metadata():
    assert canonical_tar(ENTRIES) == _reference_tar(ENTRIES)


def test_archive_ignores_input_order():
    assert canonical_tar(ENTRIES) == canonical_tar(list(reversed(ENTRIES)))


def test_archive_entries_carry_no_time_owner_or_mode():
    with tarfile.open(fileobj=io.BytesIO(canonical_tar(ENTRIES))) as tar:
        members = tar.getmembers()
        assert [m.name for m in members] == sorted((p for p, _ in ENTRIES), key=str.encode)
        for member in members:
            assert (
                member.mtime,
                member.mode,
                member.uid,
                member.gid,
                member.uname,
                member.gname,
            ) == (0, 0o644, 0, 0, "", "")
            assert member.isreg() and not member.pax_headers
        assert tar.extractfile("b/x.txt").read() == b"hello"


def test_archive_is_whole_records():
    assert len(canonical_tar(ENTRIES)) % 10240 == 0
    assert canonical_tar([]) == bytes(10240)


@pytest.mark.parametrize(
    "path", ["/abs.py", "a/../b.py", "", "a\\b.py", "x" * 101, "p" * 156 + "/f.py"]
)
def test_archive_refuses_paths_it_cannot_hold_plainly(path):
    with pytest.raises(ImagePathInvalid) as caught:
        canonical_tar([(path, b"")])
    assert caught.value.code == "measure_path_invalid"


def test_archive_refuses_a_path_twice():
    with pytest.raises(ImagePathInvalid):
        canonical_tar([("a.py", b"1"), ("a.py", b"2")])
