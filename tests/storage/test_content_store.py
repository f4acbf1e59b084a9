"""The content store against the devnet's real Kubo node."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from enclava.errors import ContentNotFound, IntegrityError, StorageUnavailable
from enclava.storage import IpfsContentStore


@pytest.fixture(scope="module")
def store(devnet_manifest):
    return IpfsContentStore.from_manifest(devnet_manifest)


@pytest.fixture(scope="module")
def big_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("blobs") / "fifty.bin"
    with open(path, "wb") as out:
        for _ in range(50):
            out.write(os.urandom(1 << 20))
    return path


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def test_round_trips_a_50mb_file_with_matching_cid_and_sha256(store, big_file, tmp_path):
    moved = []
    stored = store.add(big_file, progress=moved.append)
    assert stored.size == 50 << 20 == sum(moved)
    assert stored.sha256 == _sha256(big_file)
    assert stored.cid.startswith("bafy")
    out = tmp_path / "back.bin"
    fetched = store.get(stored.cid, out, expected_sha256=stored.sha256)
    assert fetched == stored
    assert _sha256(out) == stored.sha256
    assert store.is_pinned(stored.cid)
    assert store.stat(stored.cid).size == 50 << 20


def test_get_refuses_bytes_that_do_not_match_the_expected_sha256(store, tmp_path):
    stored = store.add(b"model weights v1")
    out = tmp_path / "out.bin"
    with pytest.raises(IntegrityError):
        store.get(stored.cid, out, expected_sha256=hashlib.sha256(b"model weights v2").hexdigest())
    assert not out.exists()


def test_detects_a_block_corrupted_on_the_node(store, devnet_manifest, tmp_path):
    payload = os.urandom(3 << 20)
    stored = store.add(payload)
    blocks = Path(devnet_manifest.state_dir) / "ipfs" / "blocks"
    # raw leaves of a CIDv1 import hold the file bytes verbatim: find one and flip a byte in it
    leaf = next(
        p
        for p in blocks.rglob("*.data")
        if p.stat().st_size == 262144 and p.read_bytes() in payload
    )
    data = bytearray(leaf.read_bytes())
    data[100] ^= 0xFF
    leaf.write_bytes(bytes(data))
    out = tmp_path / "corrupt.bin"
    with pytest.raises(IntegrityError):
        store.get(stored.cid, out, expected_sha256=stored.sha256)
    assert not out.exists()
    # even without an expected SHA-256 the re-derived CID exposes the corruption
    with pytest.raises(IntegrityError):
        store.get(stored.cid, out)


def test_get_enforces_a_size_limit(store, tmp_path):
    stored = store.add(os.urandom(5000))
    with pytest.raises(IntegrityError):
        store.get(stored.cid, tmp_path / "x", max_size=4096)


def test_unknown_cid_is_content_not_found(store, tmp_path):
    unknown = "bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e"
    with pytest.raises(ContentNotFound):
        store.get(unknown, tmp_path / "nothing")
    with pytest.raises(ContentNotFound):
        store.get("not-a-cid", tmp_path / "nothing")
    assert not store.is_pinned(unknown)


def test_pin_and_unpin(store):
    stored = store.add(b"pin me", pin=False)
    assert not store.is_pinned(stored.cid)
    store.pin(stored.cid)
    assert store.is_pinned(stored.cid)
    store.unpin(stored.cid)
    assert not store.is_pinned(stored.cid)
    with pytest.raises(ContentNotFound):
        store.unpin(stored.cid)


def test_get_bytes_returns_verified_content(store):
    stored = store.add(b"small object")
    assert store.get_bytes(stored.cid, expected_sha256=stored.sha256) == b"small object"


def test_unreachable_node_is_storage_unavailable():
    from enclava.devnet.ports import free_ports

    dead = IpfsContentStore(f"http://127.0.0.1:{free_ports(1)[0]}", timeout=2)
    with pytest.raises(StorageUnavailable):
        dead.add(b"x")
    with pytest.raises(StorageUnavailable):
        dead.version()
