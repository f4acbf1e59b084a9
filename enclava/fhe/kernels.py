"""Server-side evaluation of a head on ciphertexts: one input (diagonal BSGS) or a batch (SIMD).

Both end the same way: rescale after the plaintext products, add the bias, square, relinearize,
rescale; the result sits at the last level of the chain (one 60-bit prime, ~130 kB per ciphertext).
Masks are encoded once per kernel (per model), so a long-lived server pays that only at start.
"""

from __future__ import annotations

import numpy as np
import tenseal.sealapi as seal

from enclava.fhe.heads import INPUT_DIM, Head
from enclava.fhe.keys import EvaluationKeys
from enclava.fhe.layout import DiagonalLayout
from enclava.fhe.params import SCALE, SLOTS, default_context
from enclava.fhe.rns import available as rns_available
from enclava.fhe.rns import (
    ciphertext_coefficients,
    ciphertext_from_coefficients,
    encode_weights,
    lincomb_mod,
)

__all__ = ["SingleKernel", "BatchKernel", "add_output_noise"]


class _Base:
    def __init__(self, head: Head) -> None:
        self.head = head
        self.context = default_context()
        self.encoder = seal.CKKSEncoder(self.context)
        self.evaluator = seal.Evaluator(self.context)
        self.first_parms = self.context.first_parms_id()

    def _encode(
        self, values: np.ndarray | float, parms_id: list[int], scale: float
    ) -> seal.Plaintext:
        pt = seal.Plaintext()
        if isinstance(values, np.ndarray):
            values = values.tolist()
        self.encoder.encode(values, parms_id, scale, pt)
        return pt

    def _finish(self, acc: seal.Ciphertext, bias: float, keys: EvaluationKeys) -> seal.Ciphertext:
        ev = self.evaluator
        ev.rescale_to_next_inplace(acc)
        ev.add_plain_inplace(acc, self._encode(bias, acc.parms_id(), acc.scale))
        ev.square_inplace(acc)
        ev.relinearize_inplace(acc, keys.relin)
        ev.rescale_to_next_inplace(acc)
        return acc


class SingleKernel(_Base):
    """784 → rows affine + x² on one ciphertext holding one input in the diagonal layout."""

    def __init__(self, head: Head) -> None:
        super().__init__(head)
        self.layout = DiagonalLayout(rows=head.output_dim)
        self.masks = [
            self._encode(m, self.first_parms, SCALE) for m in self.layout.masks(head.matrix)
        ]
        self.bias = self.layout.bias_vector(head.bias)

    def evaluate(self, ct: seal.Ciphertext, keys: EvaluationKeys) -> seal.Ciphertext:
        ev, lay, gk = self.evaluator, self.layout, keys.galois
        babies = [ct]
        for b in range(1, lay.baby):
            rotated = seal.Ciphertext()
            ev.rotate_vector(ct, b, gk, rotated)
            babies.append(rotated)
        acc = None
        for g in range(lay.giant):
            inner = None
            for b in range(lay.baby):
                term = seal.Ciphertext()
                ev.multiply_plain(babies[b], self.masks[g * lay.baby + b], term)
                inner = term if inner is None else (ev.add_inplace(inner, term) or inner)
            if g:
                ev.rotate_vector_inplace(inner, g * lay.baby, gk)
            acc = inner if acc is None else (ev.add_inplace(acc, inner) or acc)
        assert acc is not None  # a layout has at least one giant step
        ev.rescale_to_next_inplace(acc)
        for step in lay.fold_steps:  # after the rescale: rotations on fewer primes are cheaper
            rotated = seal.Ciphertext()
            ev.rotate_vector(acc, step, gk, rotated)
            ev.add_inplace(acc, rotated)
        ev.add_plain_inplace(acc, self._encode(self.bias, acc.parms_id(), acc.scale))
        ev.square_inplace(acc)
        ev.relinearize_inplace(acc, keys.relin)
        ev.rescale_to_next_inplace(acc)
        return acc


class BatchKernel(_Base):
    """784 → rows affine + x² on 784 ciphertexts, ciphertext p = pixel p of up to 4096 inputs.

    Dense heads take the weighted sums as one exact matrix product on the ciphertexts' RNS
    coefficients (:mod:`enclava.fhe.rns`, bit for bit what SEAL's scalar products give); heads with
    few nonzero weights per output (the strided convolution) stay on SEAL's scalar products, which
    then cost less than the dense product.
    """

    #: below this fraction of nonzero weights, per-weight SEAL products beat the dense matmul
    DENSE_FROM = 0.15

    def __init__(self, head: Head) -> None:
        super().__init__(head)
        self.weights = encode_weights(head.matrix, SCALE)
        self.dense = (
            np.count_nonzero(head.matrix) >= self.DENSE_FROM * head.matrix.size and rns_available()
        )

    def evaluate(self, cts: list[seal.Ciphertext], keys: EvaluationKeys) -> list[seal.Ciphertext]:
        assert len(cts) == INPUT_DIM
        sums = self._sums_rns(cts) if self.dense else self._sums_seal(cts)
        return [self._finish(acc, float(b), keys) for acc, b in zip(sums, self.head.bias)]

    def _sums_rns(self, cts: list[seal.Ciphertext]) -> list[seal.Ciphertext]:
        parms, scale = cts[0].parms_id(), cts[0].scale
        if any(ct.parms_id() != parms or ct.scale != scale for ct in cts):
            raise ValueError("batch ciphertexts differ in level or scale")
        first, template = ciphertext_coefficients(cts[0])
        coeffs = np.empty((len(cts), *first.shape), dtype=np.uint64)
        coeffs[0] = first
        for p in range(1, len(cts)):
            coeffs[p] = ciphertext_coefficients(cts[p])[0]
        moduli = [m.value() for m in self.context.get_context_data(parms).parms().coeff_modulus()]
        sums = lincomb_mod(self.weights, coeffs, moduli)
        return [
            ciphertext_from_coefficients(row, template, scale * SCALE, self.context) for row in sums
        ]

    def _sums_seal(self, cts: list[seal.Ciphertext]) -> list[seal.Ciphertext]:
        ev, parms = self.evaluator, cts[0].parms_id()
        out = []
        const, term = seal.Plaintext(), seal.Ciphertext()
        for row in self.head.matrix:
            acc = None
            for p in np.flatnonzero(row):
                self.encoder.encode(float(row[p]), parms, SCALE, const)
                if acc is None:
                    acc = seal.Ciphertext()
                    ev.multiply_plain(cts[p], const, acc)
                else:
                    ev.multiply_plain(cts[p], const, term)
                    ev.add_inplace(acc, term)
            out.append(acc)
        return out


def add_output_noise(ct: seal.Ciphertext, sigma: float, rng: np.random.Generator) -> None:
    """Add N(0, sigma²) to every slot (the enclave's defense against weight extraction)."""
    if sigma <= 0:
        return
    ctx = default_context()
    pt = seal.Plaintext()
    seal.CKKSEncoder(ctx).encode(
        rng.normal(0.0, sigma, SLOTS).tolist(), ct.parms_id(), ct.scale, pt
    )
    seal.Evaluator(ctx).add_plain_inplace(ct, pt)
