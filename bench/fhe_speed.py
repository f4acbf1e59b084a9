"""FHE head speed, sizes and agreement in one run; prints a table, writes
bench/results/fhe_speed.json.

    .venv/bin/python bench/fhe_speed.py [--batch 4096] [--single 20]

Rows: TenSEAL's high-level ``matmul`` (the naive baseline, one input), the diagonal/BSGS layout on
SEAL (784→128 + x², one input), SIMD batching (784 ciphertexts, slot = input; the dense head as one
exact matmul on RNS coefficients, see enclava/fhe/rns.py), and the 7×7/4/stride-3
convolution head through the same diagonal layout. Server time is the evaluation of one request
(masks are encoded once per model: reported apart as setup). Sizes exclude keys (reported apart).
Heads are the trained ones when the model half has written them, random of the trained scale
otherwise (the JSON says which). Nothing here asserts.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any, Callable, TypeVar

import numpy as np

from enclava.fhe import (
    BatchKernel,
    DiagonalLayout,
    EvaluationKeys,
    FheResult,
    Head,
    KeySession,
    SingleKernel,
    conv_head,
    decrypt_raw,
    evaluate_request,
    head_from_arrays,
    linear_head,
    prepare_request,
)
from research.splitnn.data import digits_28

LINEAR, CONV = "linear784x128_sq", "conv7x7x4s3_sq"
MANIFEST = {
    "splits": {
        LINEAR: {"kind": "linear", "output_dim": 128, "activation": "square"},
        CONV: {"kind": "conv2d", "output_dim": 256, "stride": 3, "activation": "square"},
    }
}
TARGETS = {
    "single_ms": 150,
    "batch_ms_per_input": 5,
    "conv_ms": 400,
    "request_mb": 0.5,
    "agreement": 0.995,
}


def load_heads() -> tuple[dict[str, Head], str]:
    """Trained heads from enclava.splitnn when it provides them, else random weights of that
    scale."""
    try:
        from enclava import splitnn

        path_of = getattr(splitnn, "trained_head_path")
        heads: dict[str, Head] = {}
        for split, kind in ((LINEAR, "linear"), (CONV, "conv2d")):
            with np.load(path_of(split), allow_pickle=False) as npz:
                heads[split] = head_from_arrays(kind, dict(npz))
        return heads, "trained"
    except Exception:  # noqa: BLE001 - any absence means: no trained head yet
        rng = np.random.default_rng(0)
        return {
            LINEAR: linear_head(rng.normal(0, 1 / 28, (128, 784)), rng.normal(0, 0.1, 128)),
            CONV: conv_head(rng.normal(0, 1 / 7, (4, 1, 7, 7)), rng.normal(0, 0.1, 4), 3),
        }, "random"


T = TypeVar("T")


def timed(fn: Callable[[], T], repeat: int = 1) -> tuple[T, float]:
    """``fn()``'s last result and its median time in ms over ``repeat`` calls."""
    times: list[float] = []
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return out, statistics.median(times) * 1000


def baseline_tenseal(head: Head, x: np.ndarray) -> tuple[float, float, int, int]:
    import tenseal as ts

    ctx = ts.context(ts.SCHEME_TYPE.CKKS, 8192, coeff_mod_bit_sizes=[60, 40, 40, 60])
    ctx.global_scale = 2**40
    ctx.generate_galois_keys()
    enc = ts.ckks_vector(ctx, x.tolist())
    w, b = head.matrix.T.tolist(), head.bias.tolist()
    out, ms = timed(lambda: (enc.matmul(w) + b).square())
    got = np.array(out.decrypt())
    return (
        ms,
        float(np.abs(got - head.forward(x)[0]).max()),
        len(enc.serialize()),
        len(out.serialize()),
    )


def agreement(got: np.ndarray, want: np.ndarray) -> tuple[float, float]:
    return float((got.argmax(1) == want.argmax(1)).mean()), float(np.abs(got - want).max())


def run_single(
    split: str, head: Head, session: KeySession, x_all: np.ndarray, n: int
) -> dict[str, Any]:
    lay = DiagonalLayout(head.output_dim)
    keys_bytes, keys_ms = timed(lambda: session.evaluation_keys(lay.steps))
    ek = EvaluationKeys(keys_bytes)
    _, setup_ms = timed(lambda: SingleKernel(head))
    kernel = SingleKernel(head)
    x = x_all[:n]
    req, data = prepare_request(MANIFEST, split, x, session, keys_bytes, mode="single")
    from enclava.fhe import check_request

    _, cts = check_request(data, MANIFEST, session.context_sha256, ek)
    times: list[float] = []
    outs = []
    for ct in cts:
        out, ms = timed(lambda: kernel.evaluate(ct, ek))
        outs.append(out)
        times.append(ms)
    result, e2e_ms = timed(
        lambda: evaluate_request(data, MANIFEST, head, session.context_sha256, ek)
    )
    got = decrypt_raw(result, session)
    agree, err = agreement(got, head.forward(x))
    return {
        "server_ms_median": statistics.median(times),
        "server_ms_min": min(times),
        "inputs": n,
        "mask_setup_ms": setup_ms,
        "request_incl_setup_ms_per_input": e2e_ms / n,
        "request_bytes_per_input": len(req.ciphertexts[0]),
        "response_bytes_per_input": len(result.ciphertexts[0]),
        "eval_key_bytes": len(keys_bytes),
        "galois_steps": len(lay.steps),
        "keygen_ms": keys_ms,
        "argmax_agreement": agree,
        "max_abs_error": err,
    }


def run_batch(
    split: str, head: Head, session: KeySession, x_all: np.ndarray, n: int
) -> dict[str, Any]:
    keys_bytes = session.evaluation_keys([])
    ek = EvaluationKeys(keys_bytes)
    x = np.resize(x_all, (n, 784))
    (req, data), enc_ms = timed(
        lambda: prepare_request(MANIFEST, split, x, session, keys_bytes, mode="batch")
    )
    from enclava.fhe import check_request

    _, cts = check_request(data, MANIFEST, session.context_sha256, ek)
    outs, ms = timed(lambda: BatchKernel(head).evaluate(cts, ek))
    from enclava.fhe.serial import seal_to_bytes, sha256_hex

    result = FheResult(
        sha256_hex(data),
        session.context_sha256,
        split,
        "batch",
        n,
        head.output_dim,
        tuple(seal_to_bytes(c) for c in outs),
    )
    got = decrypt_raw(result, session)
    agree, err = agreement(got, head.forward(x))
    path = "rns_matmul" if BatchKernel(head).dense else "seal_scalar_products"
    return {
        "inputs": n,
        "path": path,
        "server_ms_total": ms,
        "server_ms_per_input": ms / n,
        "customer_encrypt_ms": enc_ms,
        "request_bytes_per_input": len(data) / n,
        "response_bytes_per_input": len(result.to_bytes()) / n,
        "request_bytes_total": len(data),
        "argmax_agreement": agree,
        "max_abs_error": err,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=4096)
    ap.add_argument("--single", type=int, default=20)
    ap.add_argument(
        "--out", default=str(Path(__file__).resolve().parent / "results" / "fhe_speed.json")
    )
    args = ap.parse_args()
    heads, weights = load_heads()
    x_test, _ = digits_28("test")
    session = KeySession.generate()
    res: dict[str, Any] = {
        "weights": weights,
        "poly_modulus_degree": 8192,
        "coeff_bits": [60, 40, 40, 60],
        "targets": TARGETS,
        "public_context_bytes": len(session.public_context()),
    }
    ms, err, req_b, resp_b = baseline_tenseal(heads[LINEAR], x_test[0])
    res["tenseal_matmul"] = {
        "server_ms": ms,
        "max_abs_error": err,
        "request_bytes": req_b,
        "response_bytes": resp_b,
    }
    res["bsgs_linear"] = run_single(LINEAR, heads[LINEAR], session, x_test, args.single)
    res["conv_single"] = run_single(CONV, heads[CONV], session, x_test, args.single)
    res["batch_linear"] = run_batch(LINEAR, heads[LINEAR], session, x_test, args.batch)
    res["batch_conv"] = run_batch(CONV, heads[CONV], session, x_test, args.batch)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(res, indent=2, sort_keys=True))
    rows = [
        ("TenSEAL matmul (1 input)", res["tenseal_matmul"]["server_ms"], req_b, resp_b, None, err),
        (
            "BSGS 784→128+x² (1 input)",
            res["bsgs_linear"]["server_ms_median"],
            *_sz(res["bsgs_linear"]),
        ),
        (
            "SIMD batch 784→128 (/input)",
            res["batch_linear"]["server_ms_per_input"],
            *_sz(res["batch_linear"]),
        ),
        (
            "conv 7×7×4 s3 (1 input)",
            res["conv_single"]["server_ms_median"],
            *_sz(res["conv_single"]),
        ),
        (
            "SIMD batch conv (/input)",
            res["batch_conv"]["server_ms_per_input"],
            *_sz(res["batch_conv"]),
        ),
    ]
    print(f"weights: {weights}")
    print(
        f"{'kernel':32} {'server ms':>10} {'req kB':>9} {'resp kB':>9} {'argmax':>7} {'max err':>9}"
    )
    for name, ms, rq, rs, ag, er in rows:
        print(
            f"{name:32} {ms:10.2f} {rq / 1e3:9.1f} {rs / 1e3:9.1f} "
            f"{'' if ag is None else f'{ag:.4f}':>7} {er:9.2e}"
        )
    for key in ("bsgs_linear", "conv_single"):
        r = res[key]
        print(
            f"{key}: eval keys {r['eval_key_bytes'] / 1e6:.1f} MB ({r['galois_steps']} steps), "
            f"mask setup {r['mask_setup_ms']:.0f} ms, "
            f"incl. setup {r['request_incl_setup_ms_per_input']:.1f} ms/input"
        )
    print(f"wrote {args.out}")


def _sz(r: dict[str, Any]) -> tuple[float, float, float, float]:
    return (
        r["request_bytes_per_input"],
        r["response_bytes_per_input"],
        r["argmax_agreement"],
        r["max_abs_error"],
    )


if __name__ == "__main__":
    main()
