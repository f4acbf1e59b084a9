"""Torch modules of a split digits-28 model: a head (linear or conv, then x²) and an MLP tail."""

from __future__ import annotations

import torch
from torch import nn

from enclava.splitnn.splits import SplitSpec

__all__ = ["Head", "Tail", "build_nets"]


class Head(nn.Module):
    """One affine layer (dense or 7×7 conv) followed by the FHE-friendly activation x²."""

    def __init__(self, spec: SplitSpec) -> None:
        super().__init__()
        self.spec = spec
        self.layer: nn.Linear | nn.Conv2d
        if spec.kind == "linear":
            self.layer = nn.Linear(spec.weight_shape[1], spec.weight_shape[0])
        else:
            ch, _, k, _ = spec.weight_shape
            self.layer = nn.Conv2d(1, ch, kernel_size=k, stride=spec.stride, padding=0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.spec.kind == "conv2d":
            x = x.reshape(-1, 1, 28, 28)
        z: torch.Tensor = self.layer(x)
        return (z * z).reshape(len(x), -1)


class Tail(nn.Module):
    """The model owner's remaining layers: d → hidden (ReLU) → 10 logits."""

    def __init__(self, spec: SplitSpec) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(spec.output_dim, spec.tail_hidden), nn.ReLU(), nn.Linear(spec.tail_hidden, 10)
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        logits: torch.Tensor = self.net(z)
        return logits


def build_nets(spec: SplitSpec, seed: int) -> tuple[Head, Tail]:
    torch.manual_seed(seed)
    return Head(spec), Tail(spec)
