"""The digits MLP and its inference, shared by the sandboxed entrypoint and plain local runs.

Deterministic: one thread, float32, no randomness at inference. Inputs are ``[N, 8, 8]`` float32
images with values 0..16; weights are a dict of float32 arrays (``fc1.weight``, ``fc1.bias``,
``fc2.weight``, ``fc2.bias``) stored as ``.npz`` without pickle.

Device: CUDA when torch sees a GPU (in the sandbox only when the order's offer has one and the
loader exposed its nodes), else the CPU; :func:`pick_device`. On CUDA, TF32 is off and torch's
deterministic algorithms are on, so a GPU run repeats itself; it equals the CPU run within the
tolerance in engines/FORMAT.md (probabilities within 1e-5), not bit for bit.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import numpy as np
import torch

HIDDEN = 64
WEIGHT_NAMES = ("fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias")


def build_model() -> torch.nn.Sequential:
    return torch.nn.Sequential(
        torch.nn.Flatten(),
        torch.nn.Linear(64, HIDDEN),
        torch.nn.ReLU(),
        torch.nn.Linear(HIDDEN, 10),
    )


def _state(weights: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
    missing = [n for n in WEIGHT_NAMES if n not in weights]
    if missing:
        raise ValueError(f"weights lack {missing}")
    index = {"fc1": "1", "fc2": "3"}
    return {
        f"{index[n.split('.')[0]]}.{n.split('.')[1]}": torch.from_numpy(
            np.asarray(weights[n], np.float32)
        )
        for n in WEIGHT_NAMES
    }


def pick_device() -> str:
    """``"cuda"`` when torch can use a GPU, else ``"cpu"``."""
    return "cuda" if torch.cuda.is_available() else "cpu"


@contextlib.contextmanager
def on_device(device: str) -> Iterator[torch.device]:
    """One CPU thread; on CUDA also no TF32 and deterministic kernels (restored afterwards)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    cuda = device == "cuda"
    if cuda:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # read when cuBLAS starts
        saved = (
            torch.are_deterministic_algorithms_enabled(),
            torch.backends.cuda.matmul.allow_tf32,
        )
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cuda.matmul.allow_tf32 = False
    try:
        yield torch.device(device)
    finally:
        torch.set_num_threads(previous)
        if cuda:
            torch.use_deterministic_algorithms(saved[0])
            torch.backends.cuda.matmul.allow_tf32 = saved[1]


def predict_plain(
    weights: dict[str, np.ndarray], images: np.ndarray, device: str | None = None
) -> dict[str, list[int] | list[list[float]]]:
    """Class predictions and probabilities for ``images``; exactly what the engine writes.
    ``device``: ``"cpu"``, ``"cuda"``, or ``None`` for :func:`pick_device`."""
    images = np.asarray(images, dtype=np.float32)
    if images.ndim != 3 or images.shape[1:] != (8, 8):
        raise ValueError(f"images must be [N, 8, 8], got {list(images.shape)}")
    with on_device(device or pick_device()) as where:
        model = build_model()
        model.load_state_dict(_state(weights))
        model.to(where).eval()
        with torch.no_grad():
            logits = model(torch.from_numpy(images / np.float32(16.0)).to(where))
            probs = torch.softmax(logits, dim=1)
            predictions = logits.argmax(dim=1).cpu().tolist()
            rows = probs.cpu().tolist()
    return {
        "predictions": [int(v) for v in predictions],
        "probabilities": [[round(float(p), 6) for p in row] for row in rows],
    }


def load_weights(path: str) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as data:
        return {name: data[name] for name in data.files}
