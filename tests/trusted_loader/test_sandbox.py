"""The sandbox, run for real (namespaces, mounts, rlimits) on small misbehaving engines."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from enclava.engine import (
    EngineCpuExceeded,
    EngineFailed,
    EngineMemoryExceeded,
    EngineNetworkDenied,
    EngineTimeout,
    OutputMissing,
    OutputTooLarge,
    Reason,
    SandboxUnavailable,
    load_manifest,
)
from tests.engines.fixture_engine import fixture_source, write_engine
from trusted_loader.sandbox import SANDBOX_UID, run_engine


def make_case(tmp_path: Path, fixture: str, *, cpu=20, memory=1024, wall=30, output=10_000, **fill):
    """An engine folder around ``fixture``, an input folder with one private file, an output path."""
    engine = write_engine(tmp_path / "engine", fixture_source(fixture, **fill), cpu=cpu, memory=memory, wall=wall,
                          output=output)
    inputs = tmp_path / "scratch" / "inputs"
    (inputs / "data").mkdir(parents=True)
    (inputs / "data" / "000").write_bytes(b"customer data")
    os.chmod(inputs / "data" / "000", 0o600)
    return engine, load_manifest(engine), inputs, tmp_path / "scratch" / "outputs"


def run(case, **kwargs):
    engine, manifest, inputs, outputs = case
    return run_engine(engine, manifest, inputs, outputs, seed=42, order_id="0xabc", **kwargs)


def test_run_succeeds_with_private_view(tmp_path):
    case = make_case(tmp_path, "ok")
    result = run(case)
    info = json.loads((case[3] / "out.json").read_text())
    assert result.exit_code == 0 and result.outputs == {"out.json": result.output_bytes}
    assert result.cpu_seconds > 0 and result.peak_rss_bytes > 0
    assert info["uid"] == SANDBOX_UID and info["gid"] == SANDBOX_UID
    assert info["cwd"] == "/scratch"
    assert [n for n in info["env"] if not n.startswith("ENCLAVA_")] == ["HOME", "LANG", "OMP_NUM_THREADS",
                                                                        "PATH", "TMPDIR"]
    assert info["seed"] == "42" and info["order"] == "0xabc" and info["inputs"] == ["data"]
    assert len(info["pids"]) <= 2  # a fresh PID namespace: init and the engine only


def test_engine_cannot_see_files_outside_its_inputs(tmp_path):
    secret = tmp_path / "scratch" / "keys" / "secret.txt"
    secret.parent.mkdir(parents=True)
    secret.write_text("TOP-SECRET-KEY")
    repo = Path(__file__).resolve().parents[2]
    case = make_case(tmp_path, "peek", SECRET_PATH=secret, SECRET_DIR=secret.parent, REPO=repo)
    run(case)
    seen = json.loads((case[3] / "out.json").read_text())
    assert "TOP-SECRET-KEY" not in json.dumps(seen)
    assert seen[str(secret)] == "FileNotFoundError"
    assert seen[str(secret.parent)] == "FileNotFoundError"
    # Only the interpreter's folders are bound in; the checkout shows at most its virtualenv.
    assert seen[str(repo)] in ("FileNotFoundError", "listed:.venv")
    assert seen["/etc/shadow"] == "FileNotFoundError"
    assert seen[os.path.join("/input", "planted")] == "OSError"  # read-only file system
    assert seen["/engine/planted"] == "OSError"


def test_socket_is_reported_as_network_denied(tmp_path):
    with pytest.raises(EngineNetworkDenied) as caught:
        run(make_case(tmp_path, "socket_connect"))
    assert caught.value.reason_code == Reason.NETWORK_DENIED == 7


def test_network_namespace_blocks_connect_that_bypasses_the_hook(tmp_path):
    case = make_case(tmp_path, "raw_connect")
    run(case)
    result = json.loads((case[3] / "out.json").read_text())
    assert result["socket_fd_ok"] and result["connect"] == -1
    assert result["errno"] == 101  # ENETUNREACH: no interface is up


def test_busy_loop_exceeds_cpu(tmp_path):
    with pytest.raises(EngineCpuExceeded) as caught:
        run(make_case(tmp_path, "busy_loop", cpu=1, wall=60))
    assert caught.value.reason_code == Reason.CPU_EXCEEDED
    assert caught.value.run.signal == signal.SIGXCPU


def test_sleeping_engine_times_out_and_its_children_die(tmp_path):
    with pytest.raises(EngineTimeout) as caught:
        run(make_case(tmp_path, "sleep_forever", wall=2))
    assert caught.value.reason_code == Reason.TIMEOUT
    leftovers = subprocess.run(["pgrep", "-f", str(tmp_path)], capture_output=True, text=True).stdout
    assert leftovers == ""


def test_huge_allocation_exceeds_memory(tmp_path):
    with pytest.raises(EngineMemoryExceeded) as caught:
        run(make_case(tmp_path, "allocate", memory=512))
    assert caught.value.reason_code == Reason.MEMORY_EXCEEDED


def test_nonzero_exit_fails_with_redacted_tail(tmp_path):
    with pytest.raises(EngineFailed) as caught:
        run(make_case(tmp_path, "exit_nonzero"))
    error = caught.value
    assert error.reason_code == Reason.ENGINE_FAILED and error.run.exit_code == 3
    assert "123456" not in error.stderr_tail and "QUJDREVG" not in error.stderr_tail
    assert "row 3 value <n> token <redacted>" in error.stderr_tail
    assert error.stderr_tail not in str(error)


def test_missing_output_is_reported(tmp_path):
    with pytest.raises(OutputMissing) as caught:
        run(make_case(tmp_path, "no_output"))
    assert caught.value.reason_code == Reason.OUTPUT_MISSING


@pytest.mark.parametrize("fixture", ["big_output", "many_outputs"])
def test_oversize_output_is_refused(tmp_path, fixture):
    with pytest.raises(OutputTooLarge) as caught:
        run(make_case(tmp_path, fixture, output=10_000))
    assert caught.value.reason_code == Reason.OUTPUT_TOO_LARGE


def test_sandbox_fails_closed_without_namespace_privilege(tmp_path):
    """Without CAP_SYS_ADMIN no namespace can be made: the engine must not run at all."""
    case = make_case(tmp_path, "ok")
    script = (
        "import sys; from pathlib import Path\n"
        "from enclava.engine import load_manifest, SandboxUnavailable\n"
        "from trusted_loader.sandbox import run_engine\n"
        "e, i, o = map(Path, sys.argv[1:4])\n"
        "try:\n"
        "    run_engine(e, load_manifest(e), i, o, seed=1, order_id='0x1')\n"
        "except SandboxUnavailable as exc:\n"
        "    print('UNAVAILABLE', exc.reason_code)\n"
    )
    result = subprocess.run(
        ["setpriv", "--bounding-set=-sys_admin", "--", sys.executable, "-c", script,
         str(case[0]), str(case[2]), str(case[3])],
        capture_output=True, text=True, timeout=120,
    )
    assert result.stdout.strip() == f"UNAVAILABLE {int(Reason.INTERNAL_ERROR)}", result.stderr
    assert not (case[3] / "out.json").exists()
