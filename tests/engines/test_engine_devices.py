"""The reference engines on CPU and CUDA: each result against a float64 recomputation within the
tolerance of engines/FORMAT.md ("Devices and tolerance"), and, on a GPU, CUDA against the CPU.

Only the CUDA half needs hardware; it is skipped, naming the missing GPU, where torch sees none."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from enclava.protocol.engine import load_manifest
from engines.digits_classifier.model import pick_device as digits_device
from engines.digits_classifier.model import predict_plain
from engines.digits_classifier.weights import digits_split, train_reference_weights
from engines.tabular_trainer.shares import share_to_npz, split_breast_cancer
from engines.tabular_trainer.trainer import pick_device as tabular_device
from engines.tabular_trainer.trainer import train_plain

ENGINES = Path(__file__).resolve().parents[2] / "engines"
#: engines/FORMAT.md, "Devices and tolerance".
PROBABILITY_ATOL = 1e-5
LOGIT_MARGIN = 1e-4
LOSS_ATOL_F64 = 1e-5
GPU_WEIGHT_ATOL = 1e-3
GPU_LOSS_ATOL = 1e-3
GPU_ACCURACY_ROWS = 2

needs_gpu = pytest.mark.skipif(
    not torch.cuda.is_available(),
    reason="needs hardware: an NVIDIA GPU with CUDA (torch.cuda.is_available() is False here)",
)


@pytest.fixture(scope="module")
def digits():
    weights = train_reference_weights(seed=0, epochs=60)
    _, _, images, _ = digits_split()
    return weights, images[:200]


@pytest.fixture(scope="module")
def shares():
    return split_breast_cancer(3, seed=0)


def _digits_f64(weights, images):
    """Logits and probabilities recomputed in float64 with numpy."""
    x = images.reshape(len(images), 64).astype(np.float64) / 16.0
    w1, b1, w2, b2 = (
        weights[n].astype(np.float64) for n in ("fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias")
    )
    logits = np.maximum(x @ w1.T + b1, 0.0) @ w2.T + b2
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return logits, shifted / shifted.sum(axis=1, keepdims=True)


def _check_digits(result, logits, probs):
    got = np.array(result["probabilities"])
    assert got.shape == probs.shape
    assert np.max(np.abs(got - probs)) <= PROBABILITY_ATOL
    top2 = np.sort(logits, axis=1)[:, -2:]
    clear = (top2[:, 1] - top2[:, 0]) > LOGIT_MARGIN
    assert clear.sum() >= len(clear) - 2  # near-ties are rare; they are the only rows exempt
    assert np.array_equal(np.array(result["predictions"])[clear], logits.argmax(axis=1)[clear])


def _tabular_f64(shares, weights):
    """Loss and accuracy of the trained weights on the pooled rows, recomputed in float64."""
    x = np.concatenate([s[0] for s in shares]).astype(np.float32)
    y = np.concatenate([s[1] for s in shares])
    mean, std = weights["mean"].astype(np.float64), weights["std"].astype(np.float64)
    xs = ((x - mean) / std).astype(np.float32).astype(np.float64)
    h = np.maximum(xs @ weights["fc1.weight"].T.astype(np.float64) + weights["fc1.bias"], 0.0)
    logits = h @ weights["fc2.weight"].T.astype(np.float64) + weights["fc2.bias"]
    top = logits.max(axis=1, keepdims=True)
    log_probs = logits - top - np.log(np.exp(logits - top).sum(axis=1, keepdims=True))
    loss = float(-log_probs[np.arange(len(y)), y].mean())
    return loss, float((logits.argmax(axis=1) == y).mean()), len(y)


def test_the_device_is_cuda_exactly_when_torch_sees_a_gpu():
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert digits_device() == expected and tabular_device() == expected


def test_digits_on_cpu_equals_a_float64_recomputation(digits):
    weights, images = digits
    logits, probs = _digits_f64(weights, images)
    _check_digits(predict_plain(weights, images, "cpu"), logits, probs)


def test_tabular_on_cpu_reports_its_device_and_metrics_a_float64_recomputation_confirms(shares):
    weights, metrics = train_plain(shares, seed=7, device="cpu")
    loss, accuracy, rows = _tabular_f64(shares, weights)
    assert metrics["device"] == "cpu"
    assert abs(metrics["train_loss"] - loss) <= LOSS_ATOL_F64
    assert abs(metrics["train_accuracy"] - accuracy) <= 1.0 / rows
    again, _ = train_plain(shares, seed=7, device="cpu")  # CPU runs stay bit-identical
    assert all(again[n].tobytes() == weights[n].tobytes() for n in weights)


@needs_gpu
def test_digits_on_cuda_equals_cpu_within_tolerance(digits):
    weights, images = digits
    logits, probs = _digits_f64(weights, images)
    on_gpu = predict_plain(weights, images, "cuda")
    _check_digits(on_gpu, logits, probs)
    cpu = np.array(predict_plain(weights, images, "cpu")["probabilities"])
    assert np.max(np.abs(np.array(on_gpu["probabilities"]) - cpu)) <= PROBABILITY_ATOL
    assert predict_plain(weights, images, "cuda") == on_gpu  # a GPU run repeats itself


@needs_gpu
def test_tabular_on_cuda_equals_cpu_within_tolerance(shares):
    on_gpu, gpu_metrics = train_plain(shares, seed=7, device="cuda")
    cpu, cpu_metrics = train_plain(shares, seed=7, device="cpu")
    assert gpu_metrics["device"] == "cuda"
    for name in cpu:
        assert np.max(np.abs(on_gpu[name] - cpu[name])) <= GPU_WEIGHT_ATOL, name
    assert abs(gpu_metrics["train_loss"] - cpu_metrics["train_loss"]) <= GPU_LOSS_ATOL
    rows = sum(cpu_metrics["rows_per_share"])
    assert abs(gpu_metrics["train_accuracy"] - cpu_metrics["train_accuracy"]) * rows <= (
        GPU_ACCURACY_ROWS + 1e-9
    )
    loss, _, _ = _tabular_f64(shares, on_gpu)
    assert abs(gpu_metrics["train_loss"] - loss) <= LOSS_ATOL_F64
    again, _ = train_plain(shares, seed=7, device="cuda")
    assert all(again[n].tobytes() == on_gpu[n].tobytes() for n in on_gpu)


@needs_gpu
def test_tabular_in_the_sandbox_runs_on_the_exposed_gpu(tmp_path, shares):
    """A GPU host: with the CVM's NVIDIA nodes exposed the engine picks CUDA in the sandbox."""
    from trusted_loader.sandbox import gpu_devices_for, run_engine
    from trusted_loader.scratch import Scratch

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
            seed=7,
            order_id="0x07",
            scratch=scratch,
            gpu_devices=gpu_devices_for(True),
        )
        metrics = json.loads((scratch.path / "out" / "metrics.json").read_text())
        produced = (scratch.path / "out" / "weights.npz").read_bytes()
    assert metrics["device"] == "cuda"
    cpu, _ = train_plain(shares, seed=7, device="cpu")
    with np.load(io.BytesIO(produced), allow_pickle=False) as data:
        for name in cpu:
            assert np.max(np.abs(data[name] - cpu[name])) <= GPU_WEIGHT_ATOL, name
