"""FHE head engine: evaluate a model's head (affine + x²) on a customer's CKKS ciphertexts.

Customer-decrypt mode (no ``secret_key`` input): writes the encrypted result, masked with the
model's ``output_noise_sigma`` against weight extraction. Enclave-decrypt mode (the customer's
secret key released to this enclave): decrypts, floods, adds the model's ``obfuscation_sigma``
noise, and writes the activations for the model owner's tail as ``.npy``. Any failed check exits
non-zero with the typed error's code in ``error.json`` (stderr carries no secret).
"""

from __future__ import annotations

import io
import json
import os
import sys
from pathlib import Path

import numpy as np


def _one(root: Path, name: str) -> bytes:
    files = sorted((root / name).glob("*")) if (root / name).is_dir() else []
    if len(files) != 1:
        raise SystemExit(f"input {name!r}: expected exactly one file, found {len(files)}")
    return files[0].read_bytes()


def main() -> int:
    from enclava.fhe import (
        EvaluationKeys,
        FheError,
        FheRequest,
        check_public_context,
        enclave_decrypt,
        evaluate_request,
        head_from_arrays,
        split_head,
    )

    inp, out = Path(os.environ["ENCLAVA_INPUT_DIR"]), Path(os.environ["ENCLAVA_OUTPUT_DIR"])
    rng = np.random.default_rng(int(os.environ.get("ENCLAVA_SEED", "0")))
    try:
        manifest = json.loads(_one(inp, "model_manifest"))
        request = _one(inp, "request")
        split = FheRequest.from_bytes(request).split
        declared = split_head(manifest, split)
        with np.load(io.BytesIO(_one(inp, "head_weights")), allow_pickle=False) as npz:
            head = head_from_arrays(
                declared["kind"], dict(npz), stride=int(declared.get("stride", 3))
            )
        context_sha = check_public_context(_one(inp, "public_context"))
        secret_dir = inp / "secret_key"
        secrets = sorted(secret_dir.glob("*")) if secret_dir.is_dir() else []
        enclave_mode = bool(secrets)
        noise = 0.0 if enclave_mode else float(declared.get("output_noise_sigma", 0.0))
        result = evaluate_request(
            request,
            manifest,
            head,
            context_sha,
            EvaluationKeys(_one(inp, "eval_keys")),
            output_noise_sigma=noise,
            rng=rng,
        )
        if enclave_mode:
            acts = enclave_decrypt(
                result,
                secrets[0].read_bytes(),
                obfuscation_sigma=float(declared.get("obfuscation_sigma", 0.0)),
                rng=rng,
            )
            buf = io.BytesIO()
            np.save(buf, acts.astype(np.float32), allow_pickle=False)
            payload, fmt = buf.getvalue(), "npy"
        else:
            payload, fmt = result.to_bytes(), "fhe-result"
    except FheError as exc:
        (out / "error.json").write_text(json.dumps(exc.to_dict(), sort_keys=True))
        print(f"fhe-head: {exc.code}", file=sys.stderr)
        return 2
    (out / "head_output.bin").write_bytes(payload)
    summary = {
        "split": split,
        "mode": result.mode,
        "n_inputs": result.n_inputs,
        "rows": result.rows,
        "decrypt_mode": "enclave" if enclave_mode else "customer",
        "format": fmt,
        "request_sha256": result.request_sha256,
        "context_sha256": result.context_sha256,
    }
    (out / "summary.json").write_text(json.dumps(summary, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
