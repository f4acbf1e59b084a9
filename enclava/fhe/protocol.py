"""FHE requests and results: canonical bundles, built by the customer and checked by the enclave.

Every check here runs before an order is placed (customer side, :func:`prepare_request`) and again
before it is accepted (enclave side, :func:`check_request`), so a bad request costs nobody anything:
a split the model does not declare, images of the wrong shape, evaluation keys that lack the
layout's rotations, or a ciphertext / key bundle bound to another CKKS context.

A model manifest declares its split points as ``{"splits": {name: head, ...}}`` (or a list of heads
with a ``name``), each head as ``enclava.splitnn`` writes it: ``kind`` (linear | conv2d),
``output_dim``, ...
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import tenseal.sealapi as seal

from enclava.fhe.errors import (
    ContextMismatch,
    EvaluationKeysInvalid,
    InputShapeError,
    MalformedBundle,
    SplitNotAllowed,
)
from enclava.fhe.heads import INPUT_DIM, INPUT_SIDE
from enclava.fhe.keys import EvaluationKeys, KeySession
from enclava.fhe.layout import DiagonalLayout
from enclava.fhe.params import SCALE, SLOTS, default_context
from enclava.fhe.serial import (
    pack_bundle,
    seal_from_bytes,
    seal_to_bytes,
    sha256_hex,
    unpack_bundle,
)

__all__ = [
    "FheRequest",
    "FheResult",
    "MODES",
    "DECRYPT_MODES",
    "allowed_splits",
    "split_head",
    "layout_steps",
    "prepare_request",
    "check_request",
]

MODES = ("single", "batch")
DECRYPT_MODES = ("customer", "enclave")


@dataclass(frozen=True)
class FheRequest:
    split: str
    mode: str
    decrypt_mode: str
    n_inputs: int
    context_sha256: str
    eval_keys_sha256: str
    ciphertexts: tuple[bytes, ...] = field(repr=False)

    def to_bytes(self) -> bytes:
        fields = {
            "split": self.split,
            "mode": self.mode,
            "decrypt_mode": self.decrypt_mode,
            "n_inputs": self.n_inputs,
            "context_sha256": self.context_sha256,
            "eval_keys_sha256": self.eval_keys_sha256,
        }
        return pack_bundle("fhe-request", fields, list(self.ciphertexts))

    @classmethod
    def from_bytes(cls, data: bytes) -> "FheRequest":
        f, blobs = unpack_bundle(data, "fhe-request")
        try:
            return cls(
                str(f["split"]),
                str(f["mode"]),
                str(f["decrypt_mode"]),
                int(f["n_inputs"]),
                str(f["context_sha256"]),
                str(f["eval_keys_sha256"]),
                tuple(blobs),
            )
        except (KeyError, ValueError, TypeError) as exc:
            raise MalformedBundle("the FHE request header lacks a field") from exc


@dataclass(frozen=True)
class FheResult:
    """The head's output, still encrypted: single mode one ciphertext per input (slots 0..rows-1),
    batch mode one ciphertext per output unit (slot i = input i)."""

    request_sha256: str
    context_sha256: str
    split: str
    mode: str
    n_inputs: int
    rows: int
    ciphertexts: tuple[bytes, ...] = field(repr=False)

    def to_bytes(self) -> bytes:
        fields = {
            "request_sha256": self.request_sha256,
            "context_sha256": self.context_sha256,
            "split": self.split,
            "mode": self.mode,
            "n_inputs": self.n_inputs,
            "rows": self.rows,
        }
        return pack_bundle("fhe-result", fields, list(self.ciphertexts))

    @classmethod
    def from_bytes(cls, data: bytes) -> "FheResult":
        f, blobs = unpack_bundle(data, "fhe-result")
        try:
            return cls(
                str(f["request_sha256"]),
                str(f["context_sha256"]),
                str(f["split"]),
                str(f["mode"]),
                int(f["n_inputs"]),
                int(f["rows"]),
                tuple(blobs),
            )
        except (KeyError, ValueError, TypeError) as exc:
            raise MalformedBundle("the FHE result header lacks a field") from exc


def allowed_splits(model_manifest: dict[str, Any]) -> dict[str, dict[str, Any]]:
    splits = model_manifest.get("splits", {}) if isinstance(model_manifest, dict) else {}
    if isinstance(splits, list):
        splits = {s.get("name"): s for s in splits if isinstance(s, dict)}
    return {str(k): v for k, v in splits.items() if isinstance(v, dict)}


def split_head(model_manifest: dict[str, Any], split: str) -> dict[str, Any]:
    splits = allowed_splits(model_manifest)
    if split not in splits:
        raise SplitNotAllowed(
            f"split {split!r} is not declared by the model; allowed: {sorted(splits) or 'none'}"
        )
    head = splits[split]
    if head.get("kind") not in ("linear", "conv2d") or head.get("activation", "square") != "square":
        raise SplitNotAllowed(f"split {split!r} has no FHE-friendly head (linear/conv2d + x²)")
    return head


def layout_steps(head: dict[str, Any], mode: str) -> list[int]:
    """Rotation steps a (head, mode) needs: the diagonal layout's, or none for SIMD batches."""
    return [] if mode == "batch" else DiagonalLayout(rows=int(head["output_dim"])).steps


def _images(images: Any) -> np.ndarray:
    x = np.asarray(images, dtype=np.float64)
    if x.ndim == 2 and x.shape == (INPUT_SIDE, INPUT_SIDE) or x.ndim == 1 and x.size == INPUT_DIM:
        x = x.reshape(1, INPUT_DIM)
    if x.ndim == 3 and x.shape[1:] == (INPUT_SIDE, INPUT_SIDE):
        x = x.reshape(len(x), INPUT_DIM)
    if x.ndim != 2 or x.shape[1] != INPUT_DIM or len(x) == 0:
        raise InputShapeError(
            f"images must be [N, 28, 28] or [N, 784]; got {list(np.shape(images))}"
        )
    if not np.all(np.isfinite(x)) or x.min() < -1e-6 or x.max() > 1 + 1e-6:
        raise InputShapeError("image values must be finite and within [0, 1]")
    return x


def _encrypt(session: KeySession, slots: np.ndarray) -> bytes:
    pt = seal.Plaintext()
    session.encoder.encode(slots.tolist(), SCALE, pt)
    return seal_to_bytes(session.encryptor.encrypt_symmetric(pt))  # seeded: half the size


def prepare_request(
    model_manifest: dict[str, Any],
    split: str,
    images: Any,
    keys: KeySession,
    eval_keys: bytes,
    *,
    mode: str = "auto",
    decrypt_mode: str = "customer",
) -> tuple[FheRequest, bytes]:
    """Customer side: validate, encrypt, and return the request with its canonical bytes."""
    head = split_head(model_manifest, split)
    x = _images(images)
    mode = ("single" if len(x) < 64 else "batch") if mode == "auto" else mode
    if mode not in MODES or decrypt_mode not in DECRYPT_MODES:
        raise InputShapeError(
            f"mode must be one of {MODES} and decrypt_mode one of {DECRYPT_MODES}"
        )
    if mode == "batch" and len(x) > SLOTS:
        raise InputShapeError(f"a batch holds at most {SLOTS} images; got {len(x)}")
    ek = EvaluationKeys(eval_keys)
    ek.require(layout_steps(head, mode), keys.context_sha256)
    if mode == "single":
        lay = DiagonalLayout(rows=int(head["output_dim"]))
        cts = tuple(_encrypt(keys, lay.pack(row)) for row in x)
    else:
        cts = tuple(_encrypt(keys, x[:, p]) for p in range(INPUT_DIM))
    req = FheRequest(split, mode, decrypt_mode, len(x), keys.context_sha256, ek.sha256, cts)
    return req, req.to_bytes()


def check_request(
    data: bytes,
    model_manifest: dict[str, Any],
    public_context_sha256: str,
    eval_keys: EvaluationKeys,
) -> tuple[FheRequest, list[seal.Ciphertext]]:
    """Enclave side: every check, then the loaded ciphertexts. Raises a typed FheError."""
    req = FheRequest.from_bytes(data)
    head = split_head(model_manifest, req.split)
    if req.mode not in MODES or req.decrypt_mode not in DECRYPT_MODES:
        raise MalformedBundle(f"unknown mode {req.mode!r} / decrypt mode {req.decrypt_mode!r}")
    if req.context_sha256 != public_context_sha256:
        raise ContextMismatch(
            "the request's ciphertexts belong to another CKKS context than the session's"
        )
    if req.eval_keys_sha256 != eval_keys.sha256:
        raise EvaluationKeysInvalid(
            "the request names other evaluation keys than the ones supplied"
        )
    eval_keys.require(layout_steps(head, req.mode), req.context_sha256)
    expected = req.n_inputs if req.mode == "single" else INPUT_DIM
    if (
        req.n_inputs < 1
        or len(req.ciphertexts) != expected
        or (req.mode == "batch" and req.n_inputs > SLOTS)
    ):
        raise InputShapeError(
            f"{req.mode} request for {req.n_inputs} inputs must hold {expected} ciphertexts"
        )
    ctx = default_context()
    cts = []
    for blob in req.ciphertexts:
        ct = seal_from_bytes(seal.Ciphertext(), ctx, blob, "ciphertext")
        if ct.size() != 2 or ct.parms_id() != ctx.first_parms_id() or abs(ct.scale - SCALE) > 1:
            raise InputShapeError(
                "a ciphertext is not a fresh CKKS encryption at the top level, scale 2^40"
            )
        cts.append(ct)
    return req, cts


def request_sha256(data: bytes) -> str:
    return sha256_hex(data)
