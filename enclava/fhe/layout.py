"""Slot layouts that turn a head's affine map into few rotations.

**Single input — diagonal layout with baby-step giant-step.** A head is a dense matrix
``M [rows, cols]`` (a linear layer, or a convolution written as its Toeplitz matrix). The input is
zero-padded to ``PAD = 1024`` and packed into the 4096 slots through a fixed permutation ``sigma``.
Slot ``s`` accumulates row ``s mod rows``; with ``K = PAD·rows/4096`` rotations of the ciphertext,
each of the ``4096/rows`` slots that hold a row sees ``K`` distinct input entries, and ``sigma`` is
built so that, for every row, these cover all ``PAD`` inputs exactly once::

    z = Σ_{k<K} P_k ⊙ rot(ct, k),   P_k[s] = M[s mod rows, sigma[(s+k) mod 4096]]
    y = Σ_{u} rot(z, u·rows)        (log2(4096/rows) rotate-and-add steps)

``K = B·G`` is evaluated as ``Σ_g rot(Σ_b P'_{gB+b} ⊙ rot(ct, b), gB)`` with pre-rotated masks, so
784→128 costs 7 baby + 3 giant + 5 fold = 15 rotations and 32 plaintext products (TenSEAL's
``matmul`` rotates once per input element), and the 7×7/stride-3 convolution (784→256) costs
7 + 7 + 4 = 18 rotations. ``sigma(q·rows + r) = (r + K·(q // H)) mod rows + rows·(q mod H)``,
``H = PAD/rows``: a window of K consecutive residues shifted by K·g covers every residue once,
and ``(q // H, q mod H)`` runs over every (shift, block) pair once.

**Batch — one ciphertext per pixel.** Slot ``i`` of ciphertext ``p`` holds pixel ``p`` of input
``i``; the head is 128·784 scalar products per 4096 inputs and needs no rotation at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from enclava.fhe.params import SLOTS

__all__ = ["DiagonalLayout", "PAD", "layout_for_rows"]

PAD = 1024


@dataclass(frozen=True)
class DiagonalLayout:
    rows: int
    cols: int = 784
    baby: int = 8

    def __post_init__(self) -> None:
        if SLOTS % self.rows or self.rows > PAD or self.cols > PAD or self.rotations % self.baby:
            raise ValueError(f"no diagonal layout for {self.rows}×{self.cols}")
        if self.rows % self.rotations:
            raise ValueError(f"rows {self.rows} not a multiple of K={self.rotations}")

    @property
    def name(self) -> str:
        return f"diag{self.rows}x{self.cols}b{self.baby}"

    @property
    def rotations(self) -> int:
        """K: rotations of the input each slot sees."""
        return PAD * self.rows // SLOTS

    @property
    def giant(self) -> int:
        return self.rotations // self.baby

    @property
    def fold_steps(self) -> list[int]:
        steps, step = [], self.rows
        while step < SLOTS:
            steps.append(step)
            step *= 2
        return steps

    @property
    def steps(self) -> list[int]:
        """Every rotation step the layout uses: the Galois keys a session must provide."""
        baby = list(range(1, self.baby))
        giant = [g * self.baby for g in range(1, self.giant)]
        return sorted(set(baby + giant + self.fold_steps))

    @cached_property
    def sigma(self) -> np.ndarray:
        p = np.arange(SLOTS)
        q, r = p // self.rows, p % self.rows
        h_count = PAD // self.rows
        return (r + self.rotations * (q // h_count)) % self.rows + self.rows * (q % h_count)

    def pack(self, x: np.ndarray) -> np.ndarray:
        """One input [cols] → the slot vector the customer encrypts."""
        padded = np.zeros(PAD)
        padded[: self.cols] = x
        packed: np.ndarray = padded[self.sigma]
        return packed

    def masks(self, matrix: np.ndarray) -> np.ndarray:
        """Pre-rotated masks ``[K, SLOTS]``, index ``g·B + b``, for :meth:`apply_plain` and the
        kernel."""
        if matrix.shape != (self.rows, self.cols):
            raise ValueError(f"matrix {matrix.shape} does not fit layout {self.rows}×{self.cols}")
        s = np.arange(SLOTS)
        out = np.empty((self.rotations, SLOTS))
        for k in range(self.rotations):
            idx = self.sigma[(s + k) % SLOTS]
            valid = idx < self.cols
            vals = np.where(valid, matrix[s % self.rows, np.minimum(idx, self.cols - 1)], 0.0)
            out[k] = np.roll(vals, (k // self.baby) * self.baby)
        return out

    def bias_vector(self, bias: np.ndarray) -> np.ndarray:
        return np.asarray(bias, dtype=np.float64)[np.arange(SLOTS) % self.rows]

    def apply_plain(self, slots: np.ndarray, masks: np.ndarray) -> np.ndarray:
        """The kernel's exact schedule on cleartext slots (tests check the layout with it)."""

        def rot(v: np.ndarray, k: int) -> np.ndarray:  # left rotation, as SEAL's rotate_vector
            return np.roll(v, -k)

        babies = [rot(slots, b) for b in range(self.baby)]
        acc = np.zeros(SLOTS)
        for g in range(self.giant):
            inner = sum(masks[g * self.baby + b] * babies[b] for b in range(self.baby))
            acc += rot(inner, g * self.baby)
        for step in self.fold_steps:
            acc += rot(acc, step)
        return acc[: self.rows]


def layout_for_rows(rows: int) -> DiagonalLayout:
    return DiagonalLayout(rows=rows)
