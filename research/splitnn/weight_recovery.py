"""Weight recovery by a customer who sees head outputs, and the enclave-side mitigation.

In customer-decrypt mode the customer decrypts the head's output y = (W x + b)² for inputs of their
choice. With exact outputs, d_in + 1 chosen inputs give the head away: query x = 0 and x = t·e_j
(j = 1..d_in) with a small t, take s = √y (which equals W x + b up to each row's sign when t is
small enough for b + t·w not to change sign), and solve the square linear system [X 1]·[Wᵀ; b] = s
by least squares: the model owner's weights, to rounding error, for the price of 785 queries.

The mitigation has two parts, both enforced by the enclave, not by the customer:

- :func:`enclave_output_noise`: fresh Gaussian noise of the split's calibrated scale (its declared
  obfuscation σ × the activation RMS) added to the ciphertext before it is returned; it is the same
  perturbation the tail was trained with, so predictions keep their accuracy, while the division by
  t in any differencing attack amplifies it;
- :class:`QueryBudget`: the listing policy's ``max_queries_per_customer`` bounds how many noisy
  outputs a customer can average (n queries cut the noise only by √n).
"""

from __future__ import annotations

import secrets
from collections import Counter
from pathlib import Path
from typing import Callable

import numpy as np

from enclava.splitnn.model_format import DEFAULT_MODEL_DIR, HeadWeights, load_model
from research.splitnn.errors import QueryLimitExceeded

__all__ = [
    "enclave_output_noise",
    "noise_scale",
    "QueryBudget",
    "recover_head_weights",
    "recovery_error",
    "dense_form",
]

DEFAULT_MIN_NOISE = 0.5  # relative σ when a split declares no Gaussian obfuscation of its own


def noise_scale(head: HeadWeights, min_relative: float = DEFAULT_MIN_NOISE) -> float:
    """Absolute σ of the enclave's output noise for this head."""
    declared = head.obfuscation.amount if head.obfuscation.kind == "gaussian" else 0.0
    return max(declared, min_relative) * head.activation_rms


def enclave_output_noise(
    split: str,
    batch: int = 1,
    *,
    model_dir: str | Path = DEFAULT_MODEL_DIR,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """Noise [batch, output_dim] (float64) for the enclave to add to the head's output ciphertext.

    Drawn from a fresh OS-seeded generator unless ``rng`` is given (tests). Add it homomorphically
    (a plaintext addition) before the ciphertext leaves the enclave, in either decryption mode.
    """
    model = load_model(model_dir)
    head = model.head(split)
    minimum = float(model.policy.get("min_output_noise", DEFAULT_MIN_NOISE))
    rng = rng if rng is not None else np.random.default_rng(secrets.randbits(128))
    return rng.normal(0.0, noise_scale(head, minimum), size=(batch, head.output_dim))


class QueryBudget:
    """Counts head evaluations per customer against the policy's ``max_queries_per_customer``."""

    def __init__(self, max_queries_per_customer: int) -> None:
        self.limit = int(max_queries_per_customer)
        self.used: Counter[str] = Counter()

    def charge(self, customer: str, n: int = 1) -> int:
        """Record ``n`` more queries; raises before counting when the allowance would be
        exceeded."""
        if self.used[customer] + n > self.limit:
            raise QueryLimitExceeded(
                f"customer {customer} asked for {self.used[customer] + n} head evaluations; "
                f"the policy allows {self.limit}"
            )
        self.used[customer] += n
        return self.limit - self.used[customer]


def recover_head_weights(
    oracle: Callable[[np.ndarray], np.ndarray], d_in: int, *, step: float = 1e-4
) -> tuple[np.ndarray, np.ndarray]:
    """The chosen-input attack on a linear+x² head: d_in + 1 queries → (W_hat [out, d_in], b_hat).

    Rows come back up to their sign ((−w, −b) gives the same outputs), normalised to b_hat ≥ 0.
    """
    inputs = np.vstack([np.zeros((1, d_in)), step * np.eye(d_in)])
    s = np.sqrt(np.maximum(np.asarray(oracle(inputs), dtype=np.float64), 0.0))
    design = np.hstack([inputs, np.ones((d_in + 1, 1))])
    solution, *_ = np.linalg.lstsq(design, s, rcond=None)
    return solution[:-1].T, solution[-1]


def dense_form(head: HeadWeights) -> tuple[np.ndarray, np.ndarray]:
    """Any affine head (dense or conv) as W [out, 784] and b [out], read off its pre-activation."""
    b = head.pre_activation(np.zeros((1, 784)))[0]
    return (head.pre_activation(np.eye(784)) - b).T, b


def recovery_error(head: HeadWeights, w_hat: np.ndarray) -> float:
    """Relative Frobenius error of recovered weights, after aligning each row's sign with
    sign(b)."""
    w, b = dense_form(head)
    aligned = w * np.where(b >= 0, 1.0, -1.0)[:, None]
    return float(np.linalg.norm(w_hat - aligned) / np.linalg.norm(aligned))
