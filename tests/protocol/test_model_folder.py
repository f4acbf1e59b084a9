"""A served model folder packs canonically, unpacks to the same files, and what would run code on
load (pickled weights, a model's own Python) or cannot be served (no config, weights or tokenizer)
is refused with ModelFolderInvalid."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from enclava.protocol.engine import (
    ModelFolderInvalid,
    model_archive_sha256,
    pack_model_folder,
    unpack_model_folder,
)


def _folder(root: Path, **extra: bytes) -> Path:
    files = {
        "config.json": json.dumps({"model_type": "llama"}).encode(),
        "model.safetensors": b"\x08\x00\x00\x00\x00\x00\x00\x00{}      ",
        "tokenizer.json": b"{}",
        "tokenizer_config.json": b'{"chat_template": "{{ messages }}"}',
        **extra,
    }
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return root


def test_a_model_folder_round_trips_through_its_canonical_archive(tmp_path):
    source = _folder(tmp_path / "model")
    archive = pack_model_folder(source)
    assert pack_model_folder(source) == archive
    unpacked = unpack_model_folder(archive, tmp_path / "out")
    assert unpacked.model_type == "llama"
    assert unpacked.files == (
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "tokenizer_config.json",
    )
    assert (tmp_path / "out" / "model.safetensors").read_bytes() == (
        source / "model.safetensors"
    ).read_bytes()
    assert (
        model_archive_sha256(archive).startswith("0x") and len(model_archive_sha256(archive)) == 66
    )


@pytest.mark.parametrize(
    "name",
    [
        "pytorch_model.bin",
        "weights.pt",
        "sub/extra.pth",
        "optimizer.pkl",
        "model.ckpt",
        "modeling_x.py",
    ],
)
def test_files_that_run_code_when_loaded_are_refused(tmp_path, name):
    source = _folder(tmp_path / "model", **{name: b"payload"})
    with pytest.raises(ModelFolderInvalid, match=name.rsplit("/", 1)[-1]):
        pack_model_folder(source)


@pytest.mark.parametrize(
    ("missing", "words"),
    [
        ("config.json", "config.json"),
        ("model.safetensors", "safetensors"),
        ("tokenizer.json", "tokenizer"),
    ],
)
def test_a_folder_without_what_the_engine_loads_is_refused(tmp_path, missing, words):
    source = _folder(tmp_path / "model")
    (source / missing).unlink()
    with pytest.raises(ModelFolderInvalid, match=words):
        pack_model_folder(source)


@pytest.mark.parametrize("config", [b"not json", b"[]", b'{"model_type": ""}', b"{}"])
def test_a_config_without_a_model_type_is_refused(tmp_path, config):
    source = _folder(tmp_path / "model", **{"config.json": config})
    with pytest.raises(ModelFolderInvalid):
        pack_model_folder(source)


def test_an_archive_that_hides_a_pickle_is_refused_when_unpacked(tmp_path):
    from enclava.protocol.engine import pack_outputs

    archive = pack_outputs(_folder(tmp_path / "model", **{"pytorch_model.bin": b"x"}))
    with pytest.raises(ModelFolderInvalid, match="pickled"):
        unpack_model_folder(archive, tmp_path / "out")


def test_garbage_is_refused_as_a_model_archive(tmp_path):
    with pytest.raises(ModelFolderInvalid, match="refused"):
        unpack_model_folder(b"not a tar archive at all" * 40, tmp_path / "out")
