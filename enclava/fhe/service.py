"""The enclave's one call: check a request, evaluate the head, return the encrypted result."""

from __future__ import annotations

from typing import Any

import numpy as np

from enclava.fhe.errors import InputShapeError
from enclava.fhe.heads import Head
from enclava.fhe.kernels import BatchKernel, SingleKernel, add_output_noise
from enclava.fhe.keys import EvaluationKeys
from enclava.fhe.protocol import FheResult, check_request, split_head
from enclava.fhe.serial import seal_to_bytes, sha256_hex

__all__ = ["evaluate_request"]


def evaluate_request(
    request: bytes,
    model_manifest: dict[str, Any],
    head: Head,
    public_context_sha256: str,
    eval_keys: EvaluationKeys,
    *,
    output_noise_sigma: float = 0.0,
    rng: np.random.Generator | None = None,
) -> FheResult:
    """Evaluate ``head`` on a checked request. ``output_noise_sigma`` > 0 masks the result
    (customer-decrypt mode's defense against weight extraction)."""
    req, cts = check_request(request, model_manifest, public_context_sha256, eval_keys)
    declared = split_head(model_manifest, req.split)
    if head.kind != declared["kind"] or head.output_dim != int(declared["output_dim"]):
        raise InputShapeError(
            f"head weights ({head.kind}, {head.output_dim}) do not match split {req.split!r}"
        )
    if req.mode == "single":
        kernel = SingleKernel(head)
        outs = [kernel.evaluate(ct, eval_keys) for ct in cts]
    else:
        outs = BatchKernel(head).evaluate(cts, eval_keys)
    rng = rng or np.random.default_rng()
    for ct in outs:
        add_output_noise(ct, output_noise_sigma, rng)
    return FheResult(
        sha256_hex(request),
        req.context_sha256,
        req.split,
        req.mode,
        req.n_inputs,
        head.output_dim,
        tuple(seal_to_bytes(ct) for ct in outs),
    )
