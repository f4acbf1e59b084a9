"""Errors of FHE split inference (CKKS keys, requests, evaluation).

Every check that can fail on a customer's request runs before the order is placed or accepted, so
each of these is raised before any money moves::

    EnclavaError
    └── FheError                     fhe_error
        ├── MalformedBundle          fhe_malformed_bundle: bytes are not a well-formed bundle
        ├── ContextMismatch          fhe_context_mismatch: a ciphertext/key for another CKKS context
        ├── EvaluationKeysMissing    fhe_eval_keys_missing: no Galois/relin keys (or none cached)
        ├── EvaluationKeysInvalid    fhe_eval_keys_invalid: keys present but wrong for the layout
        ├── SplitNotAllowed          fhe_split_not_allowed: the model does not declare that split
        ├── InputShapeError          fhe_input_shape: images of the wrong shape, size or range
        └── DecryptionError          fhe_decryption: the secret key cannot decrypt the result
"""

from __future__ import annotations

from enclava.errors import EnclavaError

__all__ = [
    "FheError",
    "MalformedBundle",
    "ContextMismatch",
    "EvaluationKeysMissing",
    "EvaluationKeysInvalid",
    "SplitNotAllowed",
    "InputShapeError",
    "DecryptionError",
]


class FheError(EnclavaError):
    code = "fhe_error"
    hint = "See the FHE request's details; regenerate the request with `enclava` if unsure."


class MalformedBundle(FheError):
    code = "fhe_malformed_bundle"
    hint = "The bundle is truncated or was not produced by Enclava; prepare the request again."


class ContextMismatch(FheError):
    code = "fhe_context_mismatch"
    hint = "Encrypt the input with the same key session whose public context you uploaded."


class EvaluationKeysMissing(FheError):
    code = "fhe_eval_keys_missing"
    hint = (
        "Upload this session's evaluation keys (relin + Galois) once; requests refer to them by "
        "hash."
    )


class EvaluationKeysInvalid(FheError):
    code = "fhe_eval_keys_invalid"
    hint = (
        "Generate the session keys for the split you chose: each layout needs its own rotation "
        "steps."
    )


class SplitNotAllowed(FheError):
    code = "fhe_split_not_allowed"
    hint = "Pick one of the split points the model's listing declares."


class InputShapeError(FheError):
    code = "fhe_input_shape"
    hint = "Give 28×28 images (or flattened 784 values) in [0, 1], as the model's head expects."


class DecryptionError(FheError):
    code = "fhe_decryption"
    hint = "Decrypt with the secret key of the session that encrypted the request."
