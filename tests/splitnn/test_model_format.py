from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from enclava.splitnn import (
    CONV_SPLIT,
    LINEAR_SPLIT,
    ActivationShapeError,
    ModelFormatError,
    UnknownSplit,
    load_head,
    load_model,
    load_tail,
)
from enclava.splitnn.splits import SPLIT_SPECS
from research.splitnn.build import split_arrays
from research.splitnn.data import digits_28
from research.splitnn.nets import build_nets
from research.splitnn.training import TrainConfig, TrainedSplit


def test_manifest_declares_both_splits_with_head_shapes_and_query_limit(model_dir):
    model = load_model(model_dir)
    assert model.splits == sorted([LINEAR_SPLIT, CONV_SPLIT])
    assert model.entry(LINEAR_SPLIT)["head"]["weight_shape"] == [128, 784]
    assert model.entry(CONV_SPLIT)["head"]["weight_shape"] == [4, 1, 7, 7]
    assert model.policy["max_queries_per_customer"] < 2 * 784 + 1
    assert not any(p.suffix == ".pkl" for p in model_dir.iterdir())


def test_heads_have_the_interface_shapes_and_classify_well(model_dir):
    x, y = digits_28("test")
    for split, width in ((LINEAR_SPLIT, 128), (CONV_SPLIT, 256)):
        head, tail = load_head(split, model_dir), load_tail(split, model_dir)
        z = head.forward(x)
        assert z.shape == (len(x), width) and np.all(z >= 0)
        assert np.mean(tail.predict(z) == y) > 0.94


def test_roundtrip_numpy_reference_equals_torch(tmp_path):
    from enclava.splitnn.model_format import write_model
    from research.splitnn.build import split_manifest

    x, _ = digits_28("test")
    for name, spec in SPLIT_SPECS.items():
        head, tail = build_nets(spec, seed=3)
        trained = TrainedSplit(spec, TrainConfig(), head, tail, activation_rms=1.0)
        write_model(
            tmp_path,
            {"name": "t", "splits": {name: split_manifest(trained)}},
            split_arrays(trained),
        )
        with torch.no_grad():
            z_torch = head(torch.as_tensor(x[:20])).double().numpy()
            logits_torch = tail(torch.as_tensor(z_torch, dtype=torch.float32)).double().numpy()
        z = load_head(name, tmp_path).forward(x[:20])
        assert np.allclose(z, z_torch, rtol=1e-4, atol=1e-5)
        assert np.allclose(load_tail(name, tmp_path).logits(z), logits_torch, rtol=1e-3, atol=1e-4)


def test_unknown_split_names_the_allowed_ones(model_dir):
    with pytest.raises(UnknownSplit) as info:
        load_head("conv3x3x32_relu", model_dir)
    assert LINEAR_SPLIT in str(info.value) and info.value.code == "unknown_split"


def test_wrong_activation_shape_is_refused(model_dir):
    tail = load_tail(LINEAR_SPLIT, model_dir)
    with pytest.raises(ActivationShapeError):
        tail.predict(np.zeros((2, 256)))
    with pytest.raises(ActivationShapeError):
        tail.predict(np.full((1, 128), np.nan))


def test_tampered_weights_are_refused(model_dir, tmp_path):
    copy = tmp_path / "model"
    shutil.copytree(model_dir, copy)
    name = f"{LINEAR_SPLIT}.head.npz"
    np.savez(copy / name, weight=np.zeros((128, 784), np.float32), bias=np.zeros(128, np.float32))
    with pytest.raises(ModelFormatError, match="SHA-256"):
        load_head(LINEAR_SPLIT, copy)


def test_bad_folders_are_typed_errors(tmp_path):
    with pytest.raises(ModelFormatError):
        load_model(tmp_path)
    (tmp_path / "manifest.json").write_text(json.dumps({"format": "something-else"}))
    with pytest.raises(ModelFormatError):
        load_model(tmp_path)
