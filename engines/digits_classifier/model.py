"""The digits MLP and its inference, shared by the sandboxed entrypoint and plain local runs.

Deterministic: one thread, float32, no randomness at inference. Inputs are ``[N, 8, 8]`` float32
images with values 0..16; weights are a dict of float32 arrays (``fc1.weight``, ``fc1.bias``,
``fc2.weight``, ``fc2.bias``) stored as ``.npz`` without pickle.
"""

from __future__ import annotations

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


def predict_plain(
    weights: dict[str, np.ndarray], images: np.ndarray
) -> dict[str, list[int] | list[list[float]]]:
    """Class predictions and probabilities for ``images``; exactly what the engine writes."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        images = np.asarray(images, dtype=np.float32)
        if images.ndim != 3 or images.shape[1:] != (8, 8):
            raise ValueError(f"images must be [N, 8, 8], got {list(images.shape)}")
        model = build_model()
        model.load_state_dict(_state(weights))
        model.eval()
        with torch.no_grad():
            logits = model(torch.from_numpy(images / np.float32(16.0)))
            probs = torch.softmax(logits, dim=1)
        return {
            "predictions": [int(v) for v in logits.argmax(dim=1).tolist()],
            "probabilities": [[round(float(p), 6) for p in row] for row in probs.tolist()],
        }
    finally:
        torch.set_num_threads(previous)


def load_weights(path: str) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as data:
        return {name: data[name] for name in data.files}
