"""What the model owner runs, outside the enclave: train reference weights on scikit-learn
digits."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import torch

from engines.digits_classifier.model import WEIGHT_NAMES, build_model

__all__ = ["train_reference_weights", "weights_to_npz", "digits_split"]

TRAIN_ROWS = 1400


def digits_split() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(train images, train labels, held-out images, held-out labels), images ``[N, 8, 8]``
    float32."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = digits.images.astype(np.float32)
    labels = digits.target.astype(np.int64)
    return images[:TRAIN_ROWS], labels[:TRAIN_ROWS], images[TRAIN_ROWS:], labels[TRAIN_ROWS:]


def train_reference_weights(seed: int = 0, epochs: int = 300) -> dict[str, np.ndarray]:
    """Deterministic full-batch Adam training; returns float32 arrays named as ``WEIGHT_NAMES``."""
    images, labels, _, _ = digits_split()
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        torch.manual_seed(seed)
        model = build_model()
        optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
        x = torch.from_numpy(images / np.float32(16.0))
        y = torch.from_numpy(labels)
        for _ in range(epochs):
            optimizer.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(x), y)
            torch.autograd.backward(loss)
            optimizer.step()
        state = model.state_dict()
    finally:
        torch.set_num_threads(previous)
    tensors = [state["1.weight"], state["1.bias"], state["3.weight"], state["3.bias"]]
    return {name: t.detach().numpy().astype(np.float32) for name, t in zip(WEIGHT_NAMES, tensors)}


def weights_to_npz(weights: dict[str, np.ndarray]) -> bytes:
    """The weights file the owner encrypts and publishes (``.npz``, no pickle)."""
    buffer = io.BytesIO()
    # dict[str, Any]: numpy's stub would match the ** names against savez's allow_pickle: bool
    payload: dict[str, Any] = dict(weights)
    np.savez(buffer, **payload)
    return buffer.getvalue()
