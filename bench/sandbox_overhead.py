"""Sandbox overhead of the reference engines: sandboxed run vs the same work done plainly.

    .venv/bin/python bench/sandbox_overhead.py [--repeat 3]

Needs root (namespaces). For each engine, "plain" is the engine's own function called in this
process (torch already imported), "plain cold" adds a fresh interpreter importing torch (what any
separate-process run pays), and "sandbox" is ``run_engine`` end to end (namespaces, mounts,
interpreter start, torch import, work). Prints a table; writes bench/results/sandbox_overhead.json.
Nothing here is asserted.
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

import numpy as np

import engines
from enclava.protocol.engine import load_manifest
from engines.digits_classifier.model import predict_plain
from engines.digits_classifier.weights import digits_split, train_reference_weights, weights_to_npz
from engines.tabular_trainer.shares import share_to_npz, split_breast_cancer
from engines.tabular_trainer.trainer import Share, train_plain
from trusted_loader.sandbox import run_engine
from trusted_loader.scratch import Scratch


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def cold_torch_import() -> float:
    return timed(
        lambda: subprocess.run([sys.executable, "-E", "-s", "-c", "import torch"], check=True)
    )


def digits_inputs(folder: Path, weights: dict[str, np.ndarray], images: np.ndarray) -> None:
    (folder / "weights").mkdir(parents=True)
    (folder / "images").mkdir()
    (folder / "weights" / "000").write_bytes(weights_to_npz(weights))
    buffer = io.BytesIO()
    np.save(buffer, images, allow_pickle=False)
    (folder / "images" / "000").write_bytes(buffer.getvalue())


def tabular_inputs(folder: Path, shares: list[Share]) -> None:
    (folder / "datasets").mkdir(parents=True)
    for index, share in enumerate(shares):
        (folder / "datasets" / f"{index:03d}").write_bytes(share_to_npz(share))


def sandboxed(engine: str, prepare: Callable[[Path], None]) -> float:
    with tempfile.TemporaryDirectory() as tmp, Scratch(Path(tmp)) as scratch:
        area = scratch.path
        assert area is not None  # set when the scratch area is entered
        prepare(area / "in")
        path = Path(engines.__file__).resolve().parent / engine
        return timed(
            lambda: run_engine(
                path,
                load_manifest(path),
                area / "in",
                area / "out",
                seed=7,
                order_id="0xbench",
                scratch=scratch,
            )
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    weights = train_reference_weights(seed=0)
    images = digits_split()[2][:100]
    shares = split_breast_cancer(3)
    rows: dict[str, dict[str, float]] = {}
    cold = statistics.median(cold_torch_import() for _ in range(args.repeat))
    cases: dict[str, tuple[Callable[[], object], str, Callable[[Path], None]]] = {
        "digits infer 100 images": (
            lambda: predict_plain(weights, images),
            "digits_classifier",
            lambda d: digits_inputs(d, weights, images),
        ),
        "tabular train 3 shares": (
            lambda: train_plain(shares, 7),
            "tabular_trainer",
            lambda d: tabular_inputs(d, shares),
        ),
    }
    for name, (plain, engine, prepare) in cases.items():
        plain()  # warm-up
        plain_s = statistics.median(timed(plain) for _ in range(args.repeat))
        sandbox_s = statistics.median(sandboxed(engine, prepare) for _ in range(args.repeat))
        rows[name] = {
            "plain_s": round(plain_s, 4),
            "plain_cold_s": round(plain_s + cold, 4),
            "sandbox_s": round(sandbox_s, 4),
            "sandbox_over_plain": round(sandbox_s / plain_s, 2),
            "sandbox_over_plain_cold": round(sandbox_s / (plain_s + cold), 2),
        }
    print(f"cold `import torch` in a fresh interpreter: {cold:.3f} s (median of {args.repeat})")
    print(
        f"{'case':26} {'plain s':>9} {'plain+import s':>15} {'sandbox s':>10} {'÷plain':>7} "
        f"{'÷plain+import':>14}"
    )
    for name, row in rows.items():
        print(
            f"{name:26} {row['plain_s']:>9.3f} {row['plain_cold_s']:>15.3f} "
            f"{row['sandbox_s']:>10.3f} "
            f"{row['sandbox_over_plain']:>7.2f} {row['sandbox_over_plain_cold']:>14.2f}"
        )
    out = Path(__file__).resolve().parent / "results" / "sandbox_overhead.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(
            {
                "cold_torch_import_s": round(cold, 4),
                "repeat": args.repeat,
                "cases": rows,
                "measured": time.strftime("%Y-%m-%d"),
            },
            indent=2,
        )
        + "\n"
    )


if __name__ == "__main__":
    main()
