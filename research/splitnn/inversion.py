"""Model-inversion attacks on what the model owner receives, and how their reconstructions score.

The attacker is the model owner: it sees obfuscated activations and holds the tail. Two attacks:

- an inversion network (activations → 28×28 image; standardise, MLP decoder, sigmoid output)
  trained with MSE on the ``public`` split's activations, obfuscated exactly as the owner would
  receive them;
- a label attack: run the owner's own tail and answer the mean ``public`` image of the predicted
  class. It needs no training and shows the floor no obfuscation can go under while the tail still
  classifies: whoever computes the label learns what a typical image of that label looks like.

Both are scored on held-out ``test`` images with PSNR and SSIM (skimage, data range 1), next to the
baseline of an attacker who answers the average ``public`` image for everything.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
from torch import nn

__all__ = ["ReconstructionScore", "score_reconstructions", "train_inversion", "class_mean_images"]


@dataclass(frozen=True)
class ReconstructionScore:
    psnr: float
    ssim: float

    def to_dict(self) -> dict[str, float]:
        return {"psnr": round(self.psnr, 3), "ssim": round(self.ssim, 4)}


def score_reconstructions(truth: np.ndarray, guess: np.ndarray) -> ReconstructionScore:
    """Mean PSNR (dB) and SSIM over paired 28×28 images in [0, 1]."""
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    # skimage leaves these unannotated; both return a float per image pair
    psnr_of: Callable[..., float] = peak_signal_noise_ratio
    ssim_of: Callable[..., float] = structural_similarity

    truth = np.asarray(truth, dtype=np.float64).reshape(-1, 28, 28)
    guess = np.clip(np.asarray(guess, dtype=np.float64).reshape(-1, 28, 28), 0.0, 1.0)
    with np.errstate(divide="ignore"):  # a perfect guess has infinite PSNR; it is capped at 100 dB
        psnr = [psnr_of(t, g, data_range=1.0) for t, g in zip(truth, guess)]
    ssim = [ssim_of(t, g, data_range=1.0) for t, g in zip(truth, guess)]
    return ReconstructionScore(float(np.mean(np.minimum(psnr, 100.0))), float(np.mean(ssim)))


def class_mean_images(x_public: np.ndarray, y_public: np.ndarray) -> np.ndarray:
    """[10, 784]: the mean public image of each class."""
    return np.stack([x_public[y_public == c].mean(axis=0) for c in range(10)])


def train_inversion(
    z_public: np.ndarray,
    x_public: np.ndarray,
    *,
    epochs: int = 300,
    hidden: int = 256,
    seed: int = 0,
) -> Callable[[np.ndarray], np.ndarray]:
    """Fit a decoder on (activation, image) pairs; returns ``invert(z) -> images [n, 784]``."""
    torch.manual_seed(seed)
    mean, std = z_public.mean(axis=0), z_public.std(axis=0) + 1e-6
    zt = torch.as_tensor((z_public - mean) / std, dtype=torch.float32)
    xt = torch.as_tensor(x_public, dtype=torch.float32)
    decoder = nn.Sequential(
        nn.Linear(zt.shape[1], hidden),
        nn.ReLU(),
        nn.Dropout(0.1),
        nn.Linear(hidden, xt.shape[1]),
        nn.Sigmoid(),
    )
    opt = torch.optim.Adam(decoder.parameters(), lr=2e-3, weight_decay=1e-4)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        order = torch.randperm(len(zt), generator=gen)
        for start in range(0, len(zt), 64):
            idx = order[start : start + 64]
            loss = torch.mean((decoder(zt[idx]) - xt[idx]) ** 2)
            opt.zero_grad()
            torch.autograd.backward(loss)
            opt.step()
    decoder.eval()

    def invert(z: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            images: np.ndarray = decoder(
                torch.as_tensor((z - mean) / std, dtype=torch.float32)
            ).numpy()
            return images

    return invert
