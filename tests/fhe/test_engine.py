"""engines/fhe_head run as the sandbox runs it: main.py in its own process with the input layout."""

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from enclava.fhe import FheResult, decrypt_raw, prepare_request

from .conftest import CONV, MANIFEST

ENGINE = Path(__file__).resolve().parents[2] / "engines" / "fhe_head"


def _run(tmp_path, inputs: dict[str, list[bytes]]):
    inp, out = tmp_path / "in", tmp_path / "out"
    for name, blobs in inputs.items():
        for i, blob in enumerate(blobs):
            (inp / name).mkdir(parents=True, exist_ok=True)
            (inp / name / f"{i:03d}").write_bytes(blob)
    out.mkdir()
    env = dict(
        os.environ,
        ENCLAVA_INPUT_DIR=str(inp),
        ENCLAVA_OUTPUT_DIR=str(out),
        ENCLAVA_SEED="5",
        ENCLAVA_ORDER_ID="ab",
    )
    proc = subprocess.run(
        [sys.executable, str(ENGINE / "main.py")], env=env, capture_output=True, timeout=300
    )
    return proc, out


def _inputs(session, heads, eval_keys, digits, manifest=MANIFEST):
    w, b = heads["conv_arrays"]
    buf = io.BytesIO()
    np.savez(buf, weight=w, bias=b)
    _, req = prepare_request(MANIFEST, CONV, digits[:2], session, eval_keys[CONV])
    return {
        "head_weights": [buf.getvalue()],
        "model_manifest": [json.dumps(manifest).encode()],
        "request": [req],
        "public_context": [session.public_context()],
        "eval_keys": [eval_keys[CONV]],
    }


def test_engine_customer_decrypt_returns_masked_ciphertext(
    tmp_path, session, heads, eval_keys, digits
):
    manifest = json.loads(json.dumps(MANIFEST))
    manifest["splits"][CONV]["output_noise_sigma"] = 0.05
    proc, out = _run(tmp_path, _inputs(session, heads, eval_keys, digits, manifest))
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["format"] == "fhe-result" and summary["decrypt_mode"] == "customer"
    got = decrypt_raw(FheResult.from_bytes((out / "head_output.bin").read_bytes()), session)
    err = got - heads[CONV].forward(digits[:2])
    assert 0.03 < err.std() < 0.07  # the enclave's mask is there, and only it


def test_engine_enclave_decrypt_outputs_activations(tmp_path, session, heads, eval_keys, digits):
    inputs = _inputs(session, heads, eval_keys, digits)
    inputs["secret_key"] = [session.export_secret_for_enclave()]
    proc, out = _run(tmp_path, inputs)
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    acts = np.load(out / "head_output.bin", allow_pickle=False)
    assert acts.shape == (2, 256)
    assert np.abs(acts - heads[CONV].forward(digits[:2])).max() < 0.2  # flooding only (σ ≈ 0.03)


def test_engine_refuses_undeclared_split_with_typed_error(
    tmp_path, session, heads, eval_keys, digits
):
    proc, out = _run(tmp_path, _inputs(session, heads, eval_keys, digits, {"splits": {}}))
    assert proc.returncode == 2
    assert json.loads((out / "error.json").read_text())["type"] == "fhe_split_not_allowed"
    assert not (out / "head_output.bin").exists()


def test_published_engine_folder_runs_in_the_real_sandbox(
    tmp_path, session, heads, eval_keys, digits
):
    """What the owner publishes (the engine plus the library code it carries) is all the sandbox
    shows the engine besides site-packages: a library module it forgets is an import error here."""
    from enclava.client.fhe_split_listing import fhe_head_engine_folder
    from enclava.protocol.engine import load_manifest
    from trusted_loader.sandbox import run_engine
    from trusted_loader.scratch import Scratch

    engine = fhe_head_engine_folder(tmp_path / "published")
    with Scratch(tmp_path / "scratch-root") as scratch:
        inputs = scratch.sub("inputs")
        for name, blobs in _inputs(session, heads, eval_keys, digits).items():
            (inputs / name).mkdir(parents=True)
            for i, blob in enumerate(blobs):
                (inputs / name / f"{i:03d}").write_bytes(blob)
        run = run_engine(
            engine,
            load_manifest(engine),
            inputs,
            scratch.path / "outputs",
            seed=5,
            order_id="0xab",
            scratch=scratch,
        )
        assert run.exit_code == 0
        summary = json.loads((scratch.path / "outputs" / "summary.json").read_text())
    assert summary["format"] == "fhe-result" and summary["decrypt_mode"] == "customer"
