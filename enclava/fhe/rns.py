"""Plaintext-weight linear combinations of ciphertexts as one matrix product on RNS coefficients.

A CKKS ciphertext is two polynomials stored per prime ``q_l`` of the chain (in NTT form, SEAL's
layout ``[poly, prime, coefficient]``). Multiplying by an encoded scalar ``w`` multiplies every
coefficient by the integer ``W = round(w·Δ)`` modulo ``q_l`` (the encoded constant's NTT is that
constant everywhere), so ``Σ_p w_jp·ct_p`` for all outputs ``j`` is the integer matrix product
``W [rows, inputs] · C [inputs, coefficients]`` reduced modulo each prime: exactly what SEAL's
``multiply_plain`` + ``add_inplace`` would give, bit for bit, in one BLAS call instead of
``rows·inputs`` SEAL calls.

Exactness in float64: weights and centred residues are cut into balanced limbs of ``LIMB_BITS``
bits (|limb| ≤ 2^21), so a limb product summed over ≤ 2048 inputs stays below 2^53. The limb
products are recombined per prime with a Horner scheme in uint64 (shifts small enough not to wrap).

Raw coefficients come from SEAL's own serialization (zstd, decompressed with the zstd that ships
inside TenSEAL's extension module) and go back through an uncompressed one, which SEAL validates
against the context when it loads it.
"""

from __future__ import annotations

import ctypes
import struct
from collections.abc import Callable
from functools import lru_cache
from typing import cast

import numpy as np
import tenseal.sealapi as seal

from enclava.fhe.serial import seal_from_bytes, seal_to_bytes

__all__ = [
    "available",
    "ciphertext_coefficients",
    "ciphertext_from_coefficients",
    "lincomb_mod",
    "encode_weights",
]

LIMB_BITS = 22
_HEADER = 16  # SEAL header: magic, header size, version, compression, reserved, total size
_SCALE_AT = 32 + 1 + 8 + 8 + 8  # parms_id, is_ntt_form, size, poly degree, prime count → scale
_DATA_AT = _SCALE_AT + 8 + 8 + _HEADER + 8  # scale, correction factor, DynArray header, length
_COLUMN_CHUNK = 4096


@lru_cache(maxsize=1)
def _zstd_decompress() -> tuple[Callable[..., int], Callable[..., int]]:
    # the extension module behind tenseal.sealapi; it exports zstd's C API
    import _sealapi_cpp  # type: ignore[import-not-found]  # a C extension that ships no stubs

    lib = ctypes.CDLL(_sealapi_cpp.__file__)
    fn = lib.ZSTD_decompress
    fn.restype, fn.argtypes = (
        ctypes.c_size_t,
        [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_char_p, ctypes.c_size_t],
    )
    lib.ZSTD_isError.restype, lib.ZSTD_isError.argtypes = ctypes.c_uint, [ctypes.c_size_t]
    return fn, lib.ZSTD_isError


def available() -> bool:
    """Whether this TenSEAL build exposes the zstd decoder the coefficient access needs."""
    try:
        _zstd_decompress()
    except (ImportError, OSError, AttributeError):
        return False
    return True


def _members(ct: seal.Ciphertext) -> tuple[bytes, bytes]:
    """(SEAL header, uncompressed members) of a ciphertext's serialization."""
    blob = seal_to_bytes(ct)
    header, body = blob[:_HEADER], blob[_HEADER:]
    mode = header[5]
    if mode == 0:
        return header, body
    if mode != int(seal.COMPR_MODE_TYPE.ZSTD):
        raise RuntimeError(f"unexpected SEAL compression mode {mode}")
    expected = _DATA_AT + 8 * ct.size() * ct.coeff_modulus_size() * ct.poly_modulus_degree()
    decompress, is_error = _zstd_decompress()
    out = ctypes.create_string_buffer(expected)
    got = decompress(out, expected, body, len(body))
    if is_error(got) or got != expected:
        raise RuntimeError("SEAL ciphertext did not decompress to its declared size")
    return header, out.raw


def ciphertext_coefficients(ct: seal.Ciphertext) -> tuple[np.ndarray, bytes]:
    """Coefficients ``uint64 [size, primes, N]`` and the member prefix (a template for new ones)."""
    header, body = _members(ct)
    shape = (ct.size(), ct.coeff_modulus_size(), ct.poly_modulus_degree())
    data = np.frombuffer(body, dtype=np.uint64, offset=_DATA_AT).reshape(shape)
    return data, header + body[:_DATA_AT]


def ciphertext_from_coefficients(
    data: np.ndarray, template: bytes, scale: float, context: seal.SEALContext
) -> seal.Ciphertext:
    """A ciphertext with ``template``'s parameters (same shape), ``scale`` and coefficients
    ``data``."""
    head = bytearray(template)
    raw = np.ascontiguousarray(data, dtype=np.uint64).tobytes()
    if (
        len(head) + len(raw) - _HEADER
        != _DATA_AT + int(struct.unpack_from("<Q", head, _HEADER + _DATA_AT - 8)[0]) * 8
    ):
        raise ValueError("coefficient array does not match the template ciphertext")
    head[5] = 0  # no compression
    struct.pack_into("<Q", head, 8, len(head) + len(raw))
    struct.pack_into("<d", head, _HEADER + _SCALE_AT, scale)
    return seal_from_bytes(
        seal.Ciphertext(), context, bytes(head) + raw, "linear-combination ciphertext"
    )


def encode_weights(values: np.ndarray, scale: float) -> np.ndarray:
    """``round(w·scale)`` as SEAL's scalar encoder rounds (half away from zero), int64."""
    scaled = np.asarray(values, dtype=np.float64) * scale
    if np.abs(scaled).max(initial=0.0) >= 2.0**62:
        raise ValueError("weights too large for the encoding scale")
    return (np.sign(scaled) * np.floor(np.abs(scaled) + 0.5)).astype(np.int64)


def _limbs(x: np.ndarray, count: int) -> list[np.ndarray]:
    """Balanced base-2^LIMB_BITS digits of signed int64 ``x``: x = Σ_k d_k·2^(k·LIMB_BITS),
    |d_k| ≤ 2^21."""
    half, base = 1 << (LIMB_BITS - 1), 1 << LIMB_BITS
    out = []
    for _ in range(count):
        d = ((x + half) & (base - 1)) - half
        out.append(d)
        x = (x - d) >> LIMB_BITS
    if np.any(x):
        raise ValueError("value does not fit the limb count")
    return out


def _limb_count(bits: int) -> int:
    return max(1, -(-(bits + 1) // LIMB_BITS))


def lincomb_mod(weights: np.ndarray, coeffs: np.ndarray, moduli: list[int]) -> np.ndarray:
    """``weights [rows, k] (int64) · coeffs [k, size, primes, N] (uint64)`` mod each prime →
    uint64."""
    rows, k = weights.shape
    if coeffs.shape[0] != k or coeffs.shape[2] != len(moduli) or k > 2048:
        raise ValueError("weights and coefficients do not line up")
    size, primes, n = coeffs.shape[1:]
    w_bits = int(np.abs(weights).max(initial=1)).bit_length()
    w_limbs = np.concatenate(_limbs(weights, _limb_count(w_bits))).astype(
        np.float64
    )  # [nw·rows, k]
    nw = w_limbs.shape[0] // rows
    out = np.empty((rows, size, primes, n), dtype=np.uint64)
    for qi, q in enumerate(moduli):
        nc = _limb_count(q.bit_length() - 1)
        step = 64 - q.bit_length()  # r < q, so r << step never wraps in uint64
        qu = np.uint64(q)
        for s in range(size):
            for c0 in range(0, n, _COLUMN_CHUNK):
                x = coeffs[:, s, qi, c0 : c0 + _COLUMN_CHUNK].astype(np.int64)
                x[x > q // 2] -= q
                width = x.shape[1]
                x_limbs = np.concatenate(_limbs(x, nc), axis=1).astype(np.float64)  # [k, nc·width]
                prod = (w_limbs @ x_limbs).reshape(nw, rows, nc, width)
                acc = np.zeros((rows, width), dtype=np.uint64)
                for deg in range(nw + nc - 2, -1, -1):  # Horner over 2^(deg·LIMB_BITS)
                    for done in range(0, LIMB_BITS, step):
                        acc = (acc << np.uint64(min(step, LIMB_BITS - done))) % qu
                    term = cast(
                        np.ndarray,
                        sum(
                            prod[a, :, deg - a, :].astype(np.int64)
                            for a in range(nw)
                            if 0 <= deg - a < nc
                        ),
                    )
                    acc = (acc + (term % q).astype(np.uint64)) % qu
                out[:, s, qi, c0 : c0 + width] = acc
    return out
