"""Both reference engines through the real sandbox give exactly what a plain local CPU run gives
(the sandbox exposes no GPU without ``gpu_devices``, so the engines run on the CPU there even on a
GPU host)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np

from enclava.protocol.engine import engine_hash, load_manifest
from engines.digits_classifier.model import predict_plain
from engines.digits_classifier.weights import digits_split, train_reference_weights, weights_to_npz
from engines.tabular_trainer.shares import share_to_npz, split_breast_cancer
from engines.tabular_trainer.trainer import npz_bytes, train_plain
from trusted_loader.sandbox import run_engine
from trusted_loader.scratch import Scratch

ENGINES = Path(__file__).resolve().parents[2] / "engines"


def test_digits_inference_in_sandbox_equals_plain_run(tmp_path):
    weights = train_reference_weights(seed=0, epochs=60)
    _, _, images, labels = digits_split()
    images = images[:100]
    inputs = tmp_path / "inputs"
    (inputs / "weights").mkdir(parents=True)
    (inputs / "images").mkdir()
    (inputs / "weights" / "000").write_bytes(weights_to_npz(weights))
    buffer = io.BytesIO()
    np.save(buffer, images, allow_pickle=False)
    (inputs / "images" / "000").write_bytes(buffer.getvalue())
    engine = ENGINES / "digits_classifier"
    hash_before = engine_hash(engine)

    with Scratch(tmp_path) as scratch:
        run = run_engine(
            engine,
            load_manifest(engine),
            inputs,
            scratch.path / "out",
            seed=1,
            order_id="0x01",
            scratch=scratch,
        )
        produced = json.loads((scratch.path / "out" / "predictions.json").read_text())

    assert produced == predict_plain(weights, images, "cpu")
    assert len(produced["predictions"]) == 100
    assert np.mean(np.array(produced["predictions"]) == labels[:100]) > 0.8
    assert run.outputs == {"predictions.json": run.output_bytes}
    assert engine_hash(engine) == hash_before  # local runs leave only caches, which the hash skips


def test_tabular_training_in_sandbox_is_bitwise_equal_to_plain_run(tmp_path):
    shares = split_breast_cancer(3, seed=0)
    folder = tmp_path / "inputs" / "datasets"
    folder.mkdir(parents=True)
    for index, share in enumerate(shares):
        (folder / f"{index:03d}").write_bytes(share_to_npz(share))
    engine = ENGINES / "tabular_trainer"

    with Scratch(tmp_path) as scratch:
        run_engine(
            engine,
            load_manifest(engine),
            tmp_path / "inputs",
            scratch.path / "out",
            seed=1234,
            order_id="0x02",
            scratch=scratch,
        )
        produced = (scratch.path / "out" / "weights.npz").read_bytes()
        produced_metrics = json.loads((scratch.path / "out" / "metrics.json").read_text())

    weights, metrics = train_plain(shares, seed=1234, device="cpu")
    assert produced == npz_bytes(weights)
    with np.load(io.BytesIO(produced), allow_pickle=False) as data:
        for name, value in weights.items():
            assert data[name].dtype == value.dtype and data[name].tobytes() == value.tobytes()
    assert produced_metrics == metrics and produced_metrics["device"] == "cpu"
    assert produced_metrics["rows_per_share"] == [190, 190, 189]
    assert produced_metrics["train_accuracy"] > 0.95


def test_shares_are_deterministic_disjoint_and_complete():
    first, second = split_breast_cancer(3, seed=5), split_breast_cancer(3, seed=5)
    assert all(
        np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1]) for a, b in zip(first, second)
    )
    pooled = np.concatenate([s[0] for s in first])
    assert pooled.shape == (569, 30) and len(np.unique(pooled, axis=0)) == 569
