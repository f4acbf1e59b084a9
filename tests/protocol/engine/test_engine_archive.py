"""Canonical archives and hashes; unpacking refuses anything unsafe."""

from __future__ import annotations

import io
import os
import shutil
import tarfile
from pathlib import Path

import pytest

from enclava.protocol.engine import (
    EngineArchiveInvalid,
    EngineManifestInvalid,
    OutputArchiveInvalid,
    canonical_archive,
    engine_hash,
    pack_outputs,
    unpack_engine,
    unpack_outputs,
)

ENGINES = Path(__file__).resolve().parents[3] / "engines"
FILES = {
    "engine.toml": None,
    "main.py": b"print('hi')\n",
    "lib/util.py": b"X = 1\n",
    "run.sh": b"#!/bin/sh\n",
}


def write_engine(folder: Path, order: list[str], umask: int, mtime: int) -> Path:
    manifest = (ENGINES / "digits_classifier" / "engine.toml").read_bytes()
    old = os.umask(umask)
    try:
        for name in order:
            path = folder / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(FILES[name] if FILES[name] is not None else manifest)
            os.utime(path, (mtime, mtime))
        os.chmod(folder / "run.sh", 0o700 if umask else 0o755)
    finally:
        os.umask(old)
    return folder


def test_hash_ignores_mtime_umask_owner_and_creation_order(tmp_path):
    first = write_engine(tmp_path / "a", list(FILES), 0o022, 1_000)
    second = write_engine(tmp_path / "b", list(reversed(FILES)), 0o077, 2_000_000_000)
    os.chown(second / "main.py", 1234, 5678)
    (second / "__pycache__").mkdir()
    (second / "__pycache__" / "main.cpython-311.pyc").write_bytes(b"cache")
    assert canonical_archive(first) == canonical_archive(second)
    assert engine_hash(first) == engine_hash(second) == engine_hash(canonical_archive(first))
    assert len(engine_hash(first)) == 64


def test_archive_entries_are_normalized(tmp_path):
    folder = write_engine(tmp_path / "a", list(FILES), 0o077, 5)
    with tarfile.open(fileobj=io.BytesIO(canonical_archive(folder))) as tar:
        members = tar.getmembers()
    assert [m.name for m in members] == sorted(FILES)
    assert {(m.mtime, m.uid, m.gid, m.uname, m.gname) for m in members} == {(0, 0, 0, "", "")}
    assert {m.name: m.mode for m in members}["run.sh"] == 0o755
    assert {m.name: m.mode for m in members}["main.py"] == 0o644


def test_content_change_changes_hash(tmp_path):
    folder = write_engine(tmp_path / "a", list(FILES), 0o022, 1)
    before = engine_hash(folder)
    (folder / "main.py").write_bytes(b"print('other')\n")
    assert engine_hash(folder) != before


def test_unpack_round_trip_returns_manifest(tmp_path):
    archive = canonical_archive(ENGINES / "digits_classifier")
    manifest = unpack_engine(archive, tmp_path / "out")
    assert manifest.name == "digits-classifier"
    assert engine_hash(tmp_path / "out") == engine_hash(ENGINES / "digits_classifier")


def _tar(entries: list[tarfile.TarInfo], data: bytes = b"x") -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for info in entries:
            if info.isreg():
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
            else:
                tar.addfile(info)
    return buffer.getvalue()


def _entry(name: str, kind: bytes = tarfile.REGTYPE, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = link
    return info


@pytest.mark.parametrize(
    "entry",
    [
        _entry("../escape.py"),
        _entry("/etc/cron.d/x"),
        _entry("a/../../b"),
        _entry("link", tarfile.SYMTYPE, "/etc/passwd"),
        _entry("hard", tarfile.LNKTYPE, "engine.toml"),
        _entry("dev", tarfile.CHRTYPE),
        _entry("fifo", tarfile.FIFOTYPE),
    ],
)
def test_unpack_refuses_unsafe_entries(tmp_path, entry):
    with pytest.raises(EngineArchiveInvalid):
        unpack_engine(_tar([entry]), tmp_path / "out")
    assert not (tmp_path / "escape.py").exists()
    assert not any((tmp_path / "out").rglob("*")) if (tmp_path / "out").exists() else True


def test_unpack_refuses_oversize_garbage_and_missing_manifest(tmp_path):
    with pytest.raises(EngineArchiveInvalid, match="limit"):
        unpack_engine(_tar([_entry("big")], b"x" * 2048), tmp_path / "a", max_bytes=1024)
    with pytest.raises(EngineArchiveInvalid):
        unpack_engine(b"not a tar" * 100, tmp_path / "b")
    with pytest.raises(EngineManifestInvalid):
        unpack_engine(_tar([_entry("main.py")]), tmp_path / "c")
    with pytest.raises(EngineArchiveInvalid, match="twice"):
        unpack_engine(_tar([_entry("main.py"), _entry("main.py")]), tmp_path / "d")


def test_canonical_archive_refuses_links(tmp_path):
    folder = write_engine(tmp_path / "a", list(FILES), 0o022, 1)
    (folder / "link").symlink_to("/etc/passwd")
    with pytest.raises(EngineArchiveInvalid, match="link"):
        canonical_archive(folder)


def test_outputs_round_trip_and_refuse_links(tmp_path):
    out = tmp_path / "out"
    (out / "sub").mkdir(parents=True)
    (out / "predictions.json").write_text("{}")
    (out / "sub" / "weights.npz").write_bytes(b"w")
    archive = pack_outputs(out)
    assert unpack_outputs(archive, tmp_path / "back") == ["predictions.json", "sub/weights.npz"]
    assert (tmp_path / "back" / "sub" / "weights.npz").read_bytes() == b"w"
    shutil.rmtree(tmp_path / "back")
    (out / "evil").symlink_to("/etc/passwd")
    with pytest.raises(OutputArchiveInvalid):
        pack_outputs(out)
