"""Obfuscations of what the model owner receives: the head's output after decryption.

Each setting perturbs the activations z [n, d] before they leave the enclave (enclave-decrypt mode)
or the customer's device (customer-decrypt mode). Magnitudes are *relative* to the head's activation
scale (the RMS of z over the training set, stored per split in the manifest), so one setting means
the same thing for every split and every retrained head.

- ``gaussian(sigma)``: z + N(0, (sigma·rms)²), fresh per query.
- ``dropout(p)``: each coordinate zeroed with probability p, fresh per query (no rescaling; the tail
  is trained with the same masking).
- ``quantize(step)``: z rounded to multiples of step·rms (deterministic).

A secret permutation or sign-flip mask is deliberately absent: the tail must undo it, and the tail
is the model owner's, so the owner would hold the key; against the party it is meant to stop it
hides nothing. During training (noise-aware training) the torch variant uses the batch's own RMS,
not a frozen one, so the head cannot shrink the relative noise by growing its outputs.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import torch

from enclava.splitnn.errors import ModelFormatError

__all__ = ["Obfuscation", "NONE"]

_KINDS = ("none", "gaussian", "dropout", "quantize")


@dataclass(frozen=True)
class Obfuscation:
    kind: str = "none"
    amount: float = 0.0  # gaussian: sigma; dropout: p; quantize: step (all relative to the rms)

    def __post_init__(self) -> None:
        if self.kind not in _KINDS:
            raise ModelFormatError(
                f"unknown obfuscation kind {self.kind!r}; known: {', '.join(_KINDS)}"
            )
        if (
            not np.isfinite(self.amount)
            or self.amount < 0
            or (self.kind == "dropout" and self.amount >= 1)
        ):
            raise ModelFormatError(
                f"obfuscation amount {self.amount!r} is out of range for {self.kind}"
            )

    @property
    def label(self) -> str:
        return "none" if self.kind == "none" else f"{self.kind}({self.amount:g})"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Obfuscation":
        try:
            return cls(kind=str(data["kind"]), amount=float(data.get("amount", 0.0)))
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelFormatError(f"bad obfuscation entry {data!r}") from exc

    def apply(
        self, z: np.ndarray, rms: float, rng: np.random.Generator | None = None
    ) -> np.ndarray:
        """Obfuscate a batch with the frozen activation scale ``rms`` (numpy; what the enclave
        does)."""
        z = np.asarray(z, dtype=np.float64)
        rng = rng if rng is not None else np.random.default_rng()
        if self.kind == "gaussian":
            return z + rng.normal(0.0, self.amount * rms, size=z.shape)
        if self.kind == "dropout":
            return z * (rng.random(z.shape) >= self.amount)
        if self.kind == "quantize" and self.amount > 0:
            step = self.amount * rms
            return np.round(z / step) * step
        return z

    def apply_torch(
        self, z: torch.Tensor, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """The same perturbation inside a training graph (scale = the batch's own RMS)."""
        import torch

        if self.kind == "none" or self.amount == 0:
            return z
        rms = torch.sqrt(torch.mean(z * z) + 1e-12)
        if self.kind == "gaussian":
            return z + self.amount * rms * torch.randn(z.shape, generator=generator)
        if self.kind == "dropout":
            return z * (torch.rand(z.shape, generator=generator) >= self.amount).to(z.dtype)
        step = self.amount * rms.detach()
        return z + (torch.round(z / step) * step - z).detach()  # straight-through rounding


NONE = Obfuscation()
