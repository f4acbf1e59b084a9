"""CKKS homomorphic encryption for FHE split inference (customer keys, layouts, kernels, protocol).

The customer encrypts 28×28 images under CKKS (N = 8192); the enclave evaluates the model's head
(affine + x²) on the ciphertexts with a diagonal baby-step-giant-step layout (one input) or SIMD
batching (many inputs); decryption happens on the customer's device (with noise flooding) or, in
enclave-decrypt mode, inside the enclave with the secret key released to it.
"""

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
