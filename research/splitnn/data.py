"""The digits-28 data set and its fixed three-way split.

scikit-learn's ``digits`` (1,797 images of 8×8, values 0..16, shipped with the library, offline) is
upscaled to 28×28 with bilinear interpolation and scaled to [0, 1], the layout the FHE heads take.

The split is fixed once for everyone (stratified by label, seed 0) so that the model owner, the
customer-side tests and the leakage benchmark all agree on which images are which:

- ``train``  (50 %): the model owner trains head and tail on it;
- ``public`` (25 %): data an attacker may hold, e.g. to train an inversion network;
- ``test``   (25 %): held-out images, used for accuracy and for scoring reconstructions.

The three are disjoint; ``public`` never overlaps ``test``.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from research.splitnn.errors import UnknownDataSplit

__all__ = ["SPLITS", "IMAGE_SIDE", "digits_28", "upscale_28", "split_indices"]

SPLITS = ("train", "public", "test")
IMAGE_SIDE = 28
_FRACTIONS = {"train": 0.5, "public": 0.25}
_SEED = 0


def upscale_28(images_8x8: np.ndarray) -> np.ndarray:
    """Bilinear 8×8 → 28×28 (align-corners), values 0..16 scaled to [0, 1]; float32 [N, 28, 28]."""
    imgs = np.asarray(images_8x8, dtype=np.float64).reshape(-1, 8, 8) / 16.0
    pos = np.linspace(0.0, 7.0, IMAGE_SIDE)
    lo = np.minimum(np.floor(pos).astype(int), 6)
    frac = pos - lo
    # interpolate rows, then columns; A @ img @ A.T with A the [28, 8] interpolation matrix
    a = np.zeros((IMAGE_SIDE, 8))
    a[np.arange(IMAGE_SIDE), lo] = 1.0 - frac
    a[np.arange(IMAGE_SIDE), lo + 1] += frac
    out: np.ndarray = np.einsum("ij,njk,lk->nil", a, imgs, a)
    clipped: np.ndarray = np.clip(out, 0.0, 1.0).astype(np.float32)
    return clipped


@lru_cache(maxsize=1)
def _all() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    digits = load_digits()
    return upscale_28(digits.images), digits.target.astype(np.int64)


@lru_cache(maxsize=1)
def split_indices() -> dict[str, np.ndarray]:
    """Indices of each split: stratified per label, shuffled with seed 0, sorted within a split."""
    _, labels = _all()
    rng = np.random.default_rng(_SEED)
    parts: dict[str, list[int]] = {name: [] for name in SPLITS}
    for label in np.unique(labels):
        idx = np.flatnonzero(labels == label)
        rng.shuffle(idx)
        n_train = int(round(len(idx) * _FRACTIONS["train"]))
        n_public = int(round(len(idx) * _FRACTIONS["public"]))
        parts["train"] += idx[:n_train].tolist()
        parts["public"] += idx[n_train : n_train + n_public].tolist()
        parts["test"] += idx[n_train + n_public :].tolist()
    return {name: np.array(sorted(v), dtype=np.int64) for name, v in parts.items()}


def digits_28(split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """``(X, y)``: X float32 [N, 784] in [0, 1] (row-major 28×28), y int64 [N] in 0..9."""
    if split not in SPLITS:
        raise UnknownDataSplit(f"unknown data split {split!r}; choose one of {', '.join(SPLITS)}")
    images, labels = _all()
    idx = split_indices()[split]
    return images[idx].reshape(len(idx), -1).copy(), labels[idx].copy()
