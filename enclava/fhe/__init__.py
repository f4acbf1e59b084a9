"""CKKS homomorphic encryption for FHE split inference (customer keys, layouts, kernels, protocol).

The customer encrypts 28×28 images under CKKS (N = 8192); the enclave evaluates the model's head
(affine + x²) on the ciphertexts with a diagonal baby-step-giant-step layout (one input) or SIMD
batching (many inputs); decryption happens on the customer's device (with noise flooding) or, in
enclave-decrypt mode, inside the enclave with the secret key released to it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from enclava.lazy import lazy_exports

if TYPE_CHECKING:
    from enclava.fhe.decrypt import (
        CKKS_ERROR_BOUND,
        DEFAULT_STAT_BITS,
        decrypt_raw,
        decrypt_result,
        enclave_decrypt,
        enclave_mask_result,
        flood,
        flood_sigma,
    )
    from enclava.fhe.errors import (
        ContextMismatch,
        DecryptionError,
        EvaluationKeysInvalid,
        EvaluationKeysMissing,
        FheError,
        InputShapeError,
        MalformedBundle,
        SplitNotAllowed,
    )
    from enclava.fhe.heads import Head, conv_head, head_from_arrays, linear_head
    from enclava.fhe.kernels import BatchKernel, SingleKernel
    from enclava.fhe.keys import EvaluationKeys, KeyCache, KeySession, check_public_context
    from enclava.fhe.layout import DiagonalLayout
    from enclava.fhe.protocol import (
        FheRequest,
        FheResult,
        allowed_splits,
        check_request,
        layout_steps,
        prepare_request,
        split_head,
    )
    from enclava.fhe.service import evaluate_request

# Imported on first use (PEP 562): `enclava.fhe.errors`, which the client's errors import, must
# not pay for numpy and tenseal (CLI start-up, issue 15).
_LAZY = {
    "CKKS_ERROR_BOUND": "enclava.fhe.decrypt",
    "DEFAULT_STAT_BITS": "enclava.fhe.decrypt",
    "decrypt_raw": "enclava.fhe.decrypt",
    "decrypt_result": "enclava.fhe.decrypt",
    "enclave_decrypt": "enclava.fhe.decrypt",
    "enclave_mask_result": "enclava.fhe.decrypt",
    "flood": "enclava.fhe.decrypt",
    "flood_sigma": "enclava.fhe.decrypt",
    "ContextMismatch": "enclava.fhe.errors",
    "DecryptionError": "enclava.fhe.errors",
    "EvaluationKeysInvalid": "enclava.fhe.errors",
    "EvaluationKeysMissing": "enclava.fhe.errors",
    "FheError": "enclava.fhe.errors",
    "InputShapeError": "enclava.fhe.errors",
    "MalformedBundle": "enclava.fhe.errors",
    "SplitNotAllowed": "enclava.fhe.errors",
    "Head": "enclava.fhe.heads",
    "conv_head": "enclava.fhe.heads",
    "head_from_arrays": "enclava.fhe.heads",
    "linear_head": "enclava.fhe.heads",
    "BatchKernel": "enclava.fhe.kernels",
    "SingleKernel": "enclava.fhe.kernels",
    "EvaluationKeys": "enclava.fhe.keys",
    "KeyCache": "enclava.fhe.keys",
    "KeySession": "enclava.fhe.keys",
    "check_public_context": "enclava.fhe.keys",
    "DiagonalLayout": "enclava.fhe.layout",
    "FheRequest": "enclava.fhe.protocol",
    "FheResult": "enclava.fhe.protocol",
    "allowed_splits": "enclava.fhe.protocol",
    "check_request": "enclava.fhe.protocol",
    "layout_steps": "enclava.fhe.protocol",
    "prepare_request": "enclava.fhe.protocol",
    "split_head": "enclava.fhe.protocol",
    "evaluate_request": "enclava.fhe.service",
}

__all__ = [
    "CKKS_ERROR_BOUND",
    "DEFAULT_STAT_BITS",
    "decrypt_raw",
    "decrypt_result",
    "enclave_decrypt",
    "enclave_mask_result",
    "flood",
    "flood_sigma",
    "FheError",
    "MalformedBundle",
    "ContextMismatch",
    "EvaluationKeysMissing",
    "EvaluationKeysInvalid",
    "SplitNotAllowed",
    "InputShapeError",
    "DecryptionError",
    "Head",
    "linear_head",
    "conv_head",
    "head_from_arrays",
    "SingleKernel",
    "BatchKernel",
    "KeySession",
    "EvaluationKeys",
    "KeyCache",
    "check_public_context",
    "DiagonalLayout",
    "FheRequest",
    "FheResult",
    "allowed_splits",
    "split_head",
    "layout_steps",
    "prepare_request",
    "check_request",
    "evaluate_request",
]


__getattr__ = lazy_exports(__name__, _LAZY)
