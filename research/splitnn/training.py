"""Deterministic training of a split model on digits-28, with the obfuscation in the loop.

Head and tail are trained together (Adam, minibatches, fixed seeds). Two optional privacy terms:

- noise-aware training: the chosen :class:`Obfuscation` perturbs the head's output on every forward
  pass, so the tail learns to classify what it will really receive;
- NoPeek: ``nopeek`` · dCor(x, z) is added to the loss, pushing the head's output to carry as little
  about the raw image as the classification allows (Vepakomma et al., 2020).

A few seconds per split on 2 CPU threads.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from enclava.splitnn.obfuscation import NONE, Obfuscation
from enclava.splitnn.splits import SplitSpec
from research.splitnn.dcor import distance_correlation_torch
from research.splitnn.nets import Head, Tail, build_nets

__all__ = ["TrainConfig", "TrainedSplit", "train_split", "head_outputs"]


@dataclass(frozen=True)
class TrainConfig:
    obfuscation: Obfuscation = NONE
    nopeek: float = 0.0
    epochs: int = 60
    batch_size: int = 64
    lr: float = 3e-3
    weight_decay: float = 1e-4
    seed: int = 0


@dataclass
class TrainedSplit:
    spec: SplitSpec
    config: TrainConfig
    head: Head
    tail: Tail
    activation_rms: float  # RMS of the head's output over the training set (the noise scale unit)


def head_outputs(head: Head, x: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        outputs: np.ndarray = head(torch.as_tensor(x, dtype=torch.float32)).double().numpy()
        return outputs


def train_split(
    spec: SplitSpec, x: np.ndarray, y: np.ndarray, config: TrainConfig = TrainConfig()
) -> TrainedSplit:
    head, tail = build_nets(spec, config.seed)
    params = list(head.parameters()) + list(tail.parameters())
    opt = torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay)
    gen = torch.Generator().manual_seed(config.seed)
    xt, yt = torch.as_tensor(x, dtype=torch.float32), torch.as_tensor(y)
    loss_fn = nn.CrossEntropyLoss()
    for _ in range(config.epochs):
        order = torch.randperm(len(xt), generator=gen)
        for start in range(0, len(xt), config.batch_size):
            idx = order[start : start + config.batch_size]
            if len(idx) < 2:
                continue
            z = head(xt[idx])
            logits = tail(config.obfuscation.apply_torch(z, gen))
            loss = loss_fn(logits, yt[idx])
            if config.nopeek > 0:
                loss = loss + config.nopeek * distance_correlation_torch(xt[idx], z)
            opt.zero_grad()
            loss.backward()
            opt.step()
    head.eval(), tail.eval()
    z_all = head_outputs(head, x)
    rms = float(np.sqrt(np.mean(z_all * z_all)))
    return TrainedSplit(spec, config, head, tail, rms)
