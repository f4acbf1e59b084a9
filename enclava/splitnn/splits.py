"""The split points a digits-28 model may declare, and their heads' shapes.

A split point names the head (the layers the enclave evaluates on the CKKS ciphertext, ending in the
FHE-friendly activation x²) and the size of what crosses to the model owner's tail. Conv outputs
are flattened channel-major (C, H, W).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["SplitSpec", "SPLIT_SPECS", "LINEAR_SPLIT", "CONV_SPLIT", "INPUT_DIM"]

INPUT_DIM = 784
LINEAR_SPLIT = "linear784x128_sq"
CONV_SPLIT = "conv7x7x4s3_sq"


@dataclass(frozen=True)
class SplitSpec:
    name: str
    kind: str  # "linear" | "conv2d"
    weight_shape: tuple[int, ...]  # linear: [out, in]; conv2d: [channels, 1, k, k]
    output_dim: int
    stride: int = 1
    tail_hidden: int = 64

    def head_manifest(self) -> dict[str, Any]:
        head: dict[str, Any] = {
            "kind": self.kind,
            "input_shape": [1, 28, 28] if self.kind == "conv2d" else [INPUT_DIM],
            "weight_shape": list(self.weight_shape),
            "bias_shape": [self.weight_shape[0]],
            "activation": "square",
            "output_dim": self.output_dim,
        }
        if self.kind == "conv2d":
            head.update(stride=self.stride, padding=0, output_layout="chw")
        return head


SPLIT_SPECS: dict[str, SplitSpec] = {
    LINEAR_SPLIT: SplitSpec(LINEAR_SPLIT, "linear", (128, INPUT_DIM), 128),
    CONV_SPLIT: SplitSpec(CONV_SPLIT, "conv2d", (4, 1, 7, 7), 256, stride=3),
}
