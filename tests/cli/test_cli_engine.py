"""`enclava engine test`: both reference engines and failing fixtures, through the real sandbox.

The command runs ``python -m trusted_loader.try_engine`` as a subprocess (the real sandbox: root,
namespaces, cgroups, seccomp); no devnet is needed.
"""

from __future__ import annotations

import io
import json
import re
import traceback
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner, Result

from enclava.cli.engine import app
from enclava.protocol.engine import engine_hash, order_seed
from engines.digits_classifier.model import predict_plain
from engines.digits_classifier.weights import digits_split, train_reference_weights, weights_to_npz
from engines.tabular_trainer.shares import share_to_npz, split_breast_cancer
from engines.tabular_trainer.trainer import npz_bytes, train_plain
from trusted_loader.try_engine import TRY_ORDER_ID

ROOT = Path(__file__).resolve().parents[2]
ENGINES = ROOT / "engines"
FIXTURES = ROOT / "tests" / "fixtures" / "engines"
ORDER_ID = "0x" + "ab" * 32


def engine_cli(*args: object, expect: int = 0) -> Result:
    """`enclava engine ...` in-process; fails on a traceback or another exit code."""
    result = CliRunner().invoke(app, [str(a) for a in args], env={"COLUMNS": "200"})
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError("".join(traceback.format_exception(result.exception)))
    assert "Traceback" not in result.output, result.output
    assert result.exit_code == expect, f"exit {result.exit_code} != {expect}:\n{result.output}"
    return result


def shown_hash(output: str) -> str:
    found = re.search(r"^engine_hash=([0-9a-f]{64})$", output, re.MULTILINE)
    assert found, output
    return found.group(1)


def npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


@pytest.fixture
def data_file(tmp_path: Path) -> Path:
    path = tmp_path / "input.json"
    path.write_text('{"rows": []}')
    return path


def test_digits_classifier_runs_with_weights_and_shows_its_predictions(tmp_path: Path) -> None:
    weights = train_reference_weights(seed=0, epochs=60)
    _, _, images, _ = digits_split()
    batch = images[:8]
    (tmp_path / "weights.npz").write_bytes(weights_to_npz(weights))
    (tmp_path / "digits.npy").write_bytes(npy(batch))
    engine = ENGINES / "digits_classifier"

    ran = engine_cli(
        "test",
        engine,
        "--weights",
        tmp_path / "weights.npz",
        "--input",
        tmp_path / "digits.npy",
        "--out",
        tmp_path / "out",
    )

    expected = predict_plain(weights, batch)
    written = (tmp_path / "out" / "predictions.json").read_text()
    assert json.loads(written) == expected
    assert "engine ok" in ran.stdout and "ok=true" in ran.stdout
    assert "predictions.json (predictions)" in ran.stdout
    assert written in ran.stdout  # a small text output is shown as it is
    assert re.search(r"memory peak \d+ MiB of 6144 MiB", ran.stdout)
    assert shown_hash(ran.stdout) == engine_hash(engine)
    assert "engineHash is the SHA-256 of its ciphertext" in ran.stdout


def test_tabular_trainer_runs_on_dataset_shares_with_the_orders_seed(tmp_path: Path) -> None:
    shares = split_breast_cancer(3, seed=0)
    args: list[object] = []
    for index, share in enumerate(shares):
        path = tmp_path / f"share{index}.npz"
        path.write_bytes(share_to_npz(share))
        args += ["--dataset", path]
    engine = ENGINES / "tabular_trainer"

    ran = engine_cli("test", engine, *args, "--order-id", ORDER_ID, "--out", tmp_path / "out")

    weights, metrics = train_plain(shares, seed=order_seed(ORDER_ID))
    assert (tmp_path / "out" / "weights.npz").read_bytes() == npz_bytes(weights)
    assert json.loads((tmp_path / "out" / "metrics.json").read_text()) == metrics
    assert "weights.npz (weights)" in ran.stdout and "metrics.json (metrics)" in ran.stdout
    assert '"rows_per_share":[190,190,189]' in ran.stdout  # the small JSON output, shown
    assert shown_hash(ran.stdout) == engine_hash(engine)
    assert order_seed(ORDER_ID) != order_seed(TRY_ORDER_ID)  # the seed really came from --order-id


def test_crashing_engine_shows_the_reason_in_words_and_its_stderr(data_file: Path) -> None:
    engine = FIXTURES / "crash_on_input"

    failed = engine_cli("test", engine, "--input", data_file, expect=1)

    assert "engine failed: the engine exited with an error (engine_failed, reason 3)" in (
        failed.output
    )
    assert "engine failed with exit code 1" in failed.output
    assert "crash-on-input: cannot parse the input, expected a JSON object" in failed.output
    assert "hint" in failed.output and "ok=false reason=engine_failed" in failed.stdout
    assert shown_hash(failed.stdout) == engine_hash(engine)


def test_crashing_engine_answers_json_with_reason_and_stderr_tail(data_file: Path) -> None:
    failed = engine_cli(
        "test", FIXTURES / "crash_on_input", "--input", data_file, "--json", expect=1
    )

    answer = json.loads(failed.stdout)
    assert answer["ok"] is False
    assert answer["reason"]["code"] == 3 and answer["reason"]["name"] == "engine_failed"
    assert answer["error"]["code"] == "engine_failed"
    assert "crash-on-input: cannot parse the input" in answer["stderr_tail"]
    assert answer["run"]["exit_code"] == 1 and answer["limits"]["memory_mb"] == 512


def test_engine_that_forgets_its_output_is_output_missing(data_file: Path, tmp_path: Path) -> None:
    failed = engine_cli(
        "test",
        FIXTURES / "output_forgotten",
        "--input",
        data_file,
        "--out",
        tmp_path / "o",
        expect=1,
    )

    assert "the engine did not write a declared output (output_missing, reason 9)" in failed.output
    assert "declared outputs missing: result.json" in failed.output
    assert "every output declared in engine.toml" in failed.output
    assert not (tmp_path / "o").exists()  # nothing is copied out of a failed run


def test_engine_over_its_memory_limit_is_memory_exceeded(data_file: Path) -> None:
    failed = engine_cli("test", FIXTURES / "memory_hog", "--input", data_file, expect=1)

    assert "the engine needed more memory than its limit (memory_exceeded, reason 6)" in (
        failed.output
    )
    assert "needed more than 128 MiB" in failed.output and "limits.memory_mb" in failed.output
    assert "ok=false reason=memory_exceeded" in failed.stdout


def test_files_that_do_not_fit_the_declared_inputs_are_refused_with_a_hint() -> None:
    failed = engine_cli("test", FIXTURES / "crash_on_input", expect=1)

    assert "the engine did not start" in failed.output and "engine_invalid" in failed.output
    assert "needs a customer" in failed.output and "--input FILE per customer input" in (
        failed.output
    )


def test_missing_folder_is_a_typed_error_with_a_hint(tmp_path: Path) -> None:
    failed = engine_cli("test", tmp_path / "nowhere", expect=1)

    assert "error (engine_dir_missing)" in failed.output and "hint" in failed.output


def test_invalid_engine_toml_is_a_typed_error_with_a_hint(tmp_path: Path, data_file: Path) -> None:
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "main.py").write_text("print('hi')\n")
    (folder / "engine.toml").write_text('[engine]\nname = "bad"\nversion = "1"\n')

    failed = engine_cli("test", folder, "--input", data_file, expect=1)

    assert "error (engine_invalid)" in failed.output
    assert f"{folder} is not a valid engine" in failed.output
    assert "engine.toml is invalid" in failed.output
    assert "hint" in failed.output and "FORMAT.md" in failed.output


def test_missing_input_file_and_busy_out_folder_are_refused_before_running(
    tmp_path: Path, data_file: Path
) -> None:
    missing = engine_cli(
        "test", FIXTURES / "crash_on_input", "--input", tmp_path / "nope.json", expect=1
    )
    assert "error (file_missing)" in missing.output and "--input" in missing.output

    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "keep.txt").write_text("mine")
    refused = engine_cli(
        "test", FIXTURES / "crash_on_input", "--input", data_file, "--out", busy, expect=1
    )
    assert "error (file_invalid)" in refused.output and "empty folder" in refused.output
    assert (busy / "keep.txt").read_text() == "mine"


def test_declared_input_schema_that_does_not_load_is_refused(
    tmp_path: Path, data_file: Path
) -> None:
    folder = tmp_path / "schema"
    folder.mkdir()
    (folder / "main.py").write_text((FIXTURES / "crash_on_input" / "main.py").read_text())
    manifest = (FIXTURES / "crash_on_input" / "engine.toml").read_text()
    manifest = manifest.replace('count = "one"', 'count = "one"\nschema = "input.schema.json"')
    (folder / "engine.toml").write_text(manifest)
    (folder / "input.schema.json").write_text("not json")

    failed = engine_cli("test", folder, "--input", data_file, expect=1)

    assert "error (engine_invalid)" in failed.output
    assert "'input.schema.json' is not JSON" in failed.output


def test_a_loader_program_that_gives_no_answer_is_a_typed_error(
    tmp_path: Path, data_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = tmp_path / "trusted_loader"  # found first: `python -m` looks in the cwd
    broken.mkdir()
    (broken / "__init__.py").write_text("")
    (broken / "try_engine.py").write_text("raise SystemExit('no sandbox on this machine')\n")
    monkeypatch.chdir(tmp_path)

    failed = engine_cli("test", FIXTURES / "crash_on_input", "--input", data_file, expect=1)

    assert "error (sandbox_unavailable)" in failed.output
    assert "gave no answer (exit 1): no sandbox on this machine" in failed.output
    assert "hint" in failed.output


def test_input_that_the_declared_schema_refuses_is_refused_before_running(tmp_path: Path) -> None:
    (tmp_path / "weights.npz").write_bytes(weights_to_npz(train_reference_weights(epochs=1)))
    (tmp_path / "flat.npy").write_bytes(npy(np.zeros((4, 64), dtype=np.float32)))

    refused = engine_cli(
        "test",
        ENGINES / "digits_classifier",
        "--weights",
        tmp_path / "weights.npz",
        "--input",
        tmp_path / "flat.npy",
        expect=1,
    )

    assert "input_schema_mismatch" in refused.output
    assert "does not match the engine's input schema at /0" in refused.output
    assert "engine ok" not in refused.output
