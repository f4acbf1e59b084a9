"""FHE heads as dense affine maps on the flattened 28×28 input, and their cleartext reference.

A head is what the model owner's split point declares: ``linear`` (W [out, 784], b [out]) or
``conv2d`` (kernel [C, 1, k, k], bias [C], stride, no padding), each followed by x². The convolution
becomes its Toeplitz matrix [C·H'·W', 784] (outputs flattened channel-major, as torch does), so both
kinds run through the same diagonal layout.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from enclava.fhe.errors import InputShapeError

__all__ = ["Head", "INPUT_SIDE", "INPUT_DIM", "linear_head", "conv_head", "head_from_arrays"]

INPUT_SIDE = 28
INPUT_DIM = INPUT_SIDE * INPUT_SIDE


@dataclass(frozen=True)
class Head:
    kind: str  # "linear" | "conv2d"
    matrix: np.ndarray  # [out, 784]
    bias: np.ndarray  # [out]

    @property
    def output_dim(self) -> int:
        return int(self.matrix.shape[0])

    def affine(self, x: np.ndarray) -> np.ndarray:
        rows = np.asarray(x, dtype=np.float64).reshape(-1, INPUT_DIM)
        z: np.ndarray = rows @ self.matrix.T + self.bias
        return z

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Cleartext reference: (x·Mᵀ + b)², [N, out]."""
        z = self.affine(x)
        squared: np.ndarray = z * z
        return squared


def linear_head(weight: np.ndarray, bias: np.ndarray) -> Head:
    weight, bias = np.asarray(weight, np.float64), np.asarray(bias, np.float64)
    if weight.ndim != 2 or weight.shape[1] != INPUT_DIM or bias.shape != (weight.shape[0],):
        raise InputShapeError(
            f"linear head wants W [out, {INPUT_DIM}] and b [out]; got {weight.shape}, {bias.shape}"
        )
    return Head("linear", weight, bias)


def conv_head(kernel: np.ndarray, bias: np.ndarray, stride: int) -> Head:
    kernel, bias = np.asarray(kernel, np.float64), np.asarray(bias, np.float64)
    if (
        kernel.ndim != 4
        or kernel.shape[1] != 1
        or kernel.shape[2] != kernel.shape[3]
        or bias.shape != (kernel.shape[0],)
    ):
        raise InputShapeError(
            f"conv head wants kernel [C, 1, k, k] and bias [C]; got {kernel.shape}, {bias.shape}"
        )
    channels, _, k, _ = kernel.shape
    side = (INPUT_SIDE - k) // stride + 1
    matrix = np.zeros((channels, side, side, INPUT_SIDE, INPUT_SIDE))
    for i in range(side):
        for j in range(side):
            matrix[:, i, j, i * stride : i * stride + k, j * stride : j * stride + k] = kernel[:, 0]
    return Head(
        "conv2d", matrix.reshape(channels * side * side, INPUT_DIM), np.repeat(bias, side * side)
    )


def head_from_arrays(kind: str, arrays: dict[str, np.ndarray], stride: int = 3) -> Head:
    """From an ``.npz``-style mapping: ``weight``/``bias`` (aliases ``W``/``b``, ``kernel``)."""
    weight = next((arrays[k] for k in ("weight", "W", "kernel") if k in arrays), None)
    bias = next((arrays[k] for k in ("bias", "b") if k in arrays), None)
    if weight is None or bias is None:
        raise InputShapeError(f"head arrays need weight and bias; got {sorted(arrays)}")
    if "stride" in arrays:
        stride = int(np.asarray(arrays["stride"]).reshape(()))
    return linear_head(weight, bias) if kind == "linear" else conv_head(weight, bias, stride)
