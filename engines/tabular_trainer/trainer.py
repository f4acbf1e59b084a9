"""Deterministic full-batch training of a small MLP classifier, shared by the sandbox and local
runs.

Shares are concatenated in order; standardization uses the pooled mean and standard deviation;
torch runs on one thread with a seeded initialization and full-batch Adam, so the same shares and
seed give bit-identical weights anywhere the same torch build runs on the CPU. Data files are
``.npz`` with ``X`` float32 ``[n, d]`` and ``y`` int64 ``[n]``, never pickled.

Device: CUDA when torch sees a GPU (in the sandbox only when the order's offer has one), else the
CPU (:func:`pick_device`); ``metrics["device"]`` says which. The initial weights are drawn on the
CPU either way; on CUDA, TF32 is off and torch's deterministic kernels are on, so a GPU run repeats
itself and equals the CPU run within the tolerance stated in engines/FORMAT.md.
"""

from __future__ import annotations

import contextlib
import io
import os
import zipfile
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch

EPOCHS = 400
HIDDEN = 16
LEARNING_RATE = 0.01
Share = tuple[np.ndarray, np.ndarray]


def load_share(path: str) -> Share:
    with np.load(path, allow_pickle=False) as data:
        x, y = np.asarray(data["X"], np.float32), np.asarray(data["y"], np.int64)
    if x.ndim != 2 or y.shape != (x.shape[0],):
        raise ValueError(f"share has X {list(x.shape)} and y {list(y.shape)}")
    return x, y


def npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    """A ``.npz`` with fixed timestamps and sorted names, so equal arrays give equal bytes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for name in sorted(arrays):
            member = io.BytesIO()
            np.lib.format.write_array(
                member, np.ascontiguousarray(arrays[name]), allow_pickle=False
            )
            archive.writestr(
                zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0)), member.getvalue()
            )
    return buffer.getvalue()


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


def train_plain(
    shares: list[Share], seed: int, device: str | None = None
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Train on the pooled shares; return (weights incl. standardization, metrics without data).
    ``device``: ``"cpu"``, ``"cuda"``, or ``None`` for :func:`pick_device`."""
    if not shares:
        raise ValueError("at least one dataset share is needed")
    x = np.concatenate([np.asarray(s[0], np.float32) for s in shares])
    y = np.concatenate([np.asarray(s[1], np.int64) for s in shares])
    mean = x.astype(np.float64).mean(axis=0)
    std = x.astype(np.float64).std(axis=0)
    std[std == 0] = 1.0
    xs = ((x - mean) / std).astype(np.float32)
    classes = int(y.max()) + 1
    device = device or pick_device()
    with on_device(device) as where:
        torch.manual_seed(seed)
        model = torch.nn.Sequential(
            torch.nn.Linear(x.shape[1], HIDDEN), torch.nn.ReLU(), torch.nn.Linear(HIDDEN, classes)
        ).to(where)
        optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
        tx, ty = torch.from_numpy(xs).to(where), torch.from_numpy(y).to(where)
        for _ in range(EPOCHS):
            optimizer.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(tx), ty)
            torch.autograd.backward(loss)
            optimizer.step()
        with torch.no_grad():
            logits = model(tx)
            final_loss = float(torch.nn.functional.cross_entropy(logits, ty))
            accuracy = float((logits.argmax(dim=1) == ty).float().mean())
        state = {k: v.detach().cpu().numpy().copy() for k, v in model.state_dict().items()}
    weights = {
        "fc1.weight": state["0.weight"],
        "fc1.bias": state["0.bias"],
        "fc2.weight": state["2.weight"],
        "fc2.bias": state["2.bias"],
        "mean": mean.astype(np.float32),
        "std": std.astype(np.float32),
    }
    metrics = {
        "train_accuracy": round(accuracy, 6),
        "train_loss": round(final_loss, 6),
        "rows_per_share": [int(s[0].shape[0]) for s in shares],
        "features": int(x.shape[1]),
        "classes": classes,
        "epochs": EPOCHS,
        "seed": int(seed),
        "device": device,
    }
    return weights, metrics
