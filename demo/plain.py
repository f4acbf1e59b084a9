"""The baseline: an engine's own entrypoint on the plaintext inputs, in a fresh interpreter, with no
chain, IPFS, keys, encryption or sandbox — what anyone could run locally on the same inputs."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from demo.context import ENGINES
from demo.facts import DemoStepFailed

__all__ = ["plain_run"]


def plain_run(
    engine: str, inputs: dict[str, list[bytes]], *, seed: int = 0
) -> tuple[float, dict[str, bytes]]:
    """Run ``engines/<engine>/main.py`` on ``inputs`` (input name → files); return (seconds,
    outputs)."""
    with tempfile.TemporaryDirectory(prefix="enclava-plain-") as tmp:
        in_dir, out_dir = Path(tmp, "in"), Path(tmp, "out")
        out_dir.mkdir()
        for name, files in inputs.items():
            (in_dir / name).mkdir(parents=True)
            for index, data in enumerate(files):
                (in_dir / name / f"{index:03d}").write_bytes(data)
        env = {
            **os.environ,
            "ENCLAVA_INPUT_DIR": str(in_dir),
            "ENCLAVA_OUTPUT_DIR": str(out_dir),
            "ENCLAVA_SEED": str(seed),
            "OMP_NUM_THREADS": "1",
        }
        start = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "main.py"], cwd=ENGINES / engine, env=env, capture_output=True
        )
        seconds = time.perf_counter() - start
        if done.returncode != 0:
            raise DemoStepFailed(
                f"the plain run of {engine} exited {done.returncode}: "
                f"{done.stderr.decode(errors='replace')[-500:]}"
            )
        return seconds, {p.name: p.read_bytes() for p in out_dir.iterdir() if p.is_file()}
