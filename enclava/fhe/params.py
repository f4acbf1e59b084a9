"""CKKS parameters for one plaintext matmul + x², and the SEAL context built from them.

poly_modulus_degree 8192 gives 4096 slots and at most 218 bits of coefficient modulus for 128-bit
security. The chain [60, 40, 40, 60] spends one 40-bit prime on the rescale after the plaintext
matmul, one on the rescale after x², and keeps a 60-bit data prime for the result (enough headroom
for |x²| up to 2^19 at scale 2^40) plus the 60-bit special prime used only by key switching.
"""

from __future__ import annotations

from functools import lru_cache

import tenseal.sealapi as seal

__all__ = [
    "POLY_DEGREE",
    "SLOTS",
    "SCALE",
    "COEFF_BITS",
    "build_parms",
    "context_from_parms",
    "galois_elt",
]

POLY_DEGREE = 8192
SLOTS = POLY_DEGREE // 2
COEFF_BITS = (60, 40, 40, 60)
SCALE = 2.0**40


def build_parms() -> seal.EncryptionParameters:
    parms = seal.EncryptionParameters(seal.SCHEME_TYPE.CKKS)
    parms.set_poly_modulus_degree(POLY_DEGREE)
    parms.set_coeff_modulus(seal.CoeffModulus.Create(POLY_DEGREE, list(COEFF_BITS)))
    return parms


@lru_cache(maxsize=1)
def default_context() -> seal.SEALContext:
    return context_from_parms(build_parms())


def context_from_parms(parms: seal.EncryptionParameters) -> seal.SEALContext:
    return seal.SEALContext(parms, True, seal.SEC_LEVEL_TYPE.TC128)


def galois_elt(step: int) -> int:
    """SEAL's Galois element for a left rotation of the CKKS slot vector by ``step`` (0 < step <
    SLOTS)."""
    if not 0 < step < SLOTS:
        raise ValueError(f"rotation step {step} outside 1..{SLOTS - 1}")
    return pow(3, step, 2 * POLY_DEGREE)
