"""What data owners run: split scikit-learn's ``breast_cancer`` into deterministic shares."""

from __future__ import annotations

import numpy as np

from engines.tabular_trainer.trainer import Share, npz_bytes

__all__ = ["split_breast_cancer", "share_to_npz"]


def split_breast_cancer(parts: int, seed: int = 0) -> list[Share]:
    """``parts`` disjoint shares of the rows (shuffled with ``seed``), each ``(X float32, y
    int64)``."""
    from sklearn.datasets import load_breast_cancer

    if parts < 1:
        raise ValueError("parts must be at least 1")
    data = load_breast_cancer()
    order = np.random.default_rng(seed).permutation(data.data.shape[0])
    x = data.data[order].astype(np.float32)
    y = data.target[order].astype(np.int64)
    return [(xs, ys) for xs, ys in zip(np.array_split(x, parts), np.array_split(y, parts))]


def share_to_npz(share: Share) -> bytes:
    """The file a data owner encrypts and publishes: ``.npz`` with ``X`` and ``y``, no pickle."""
    return npz_bytes({"X": share[0], "y": share[1]})
