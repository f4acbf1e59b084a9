"""The sandbox, run for real (namespaces, mounts, cgroup, seccomp, rlimits) on small misbehaving
engines."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from enclava.protocol.engine import (
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
from trusted_loader.scratch import Scratch


@pytest.fixture
def scratch(tmp_path):
    with Scratch(tmp_path / "scratch-root") as area:
        yield area


@pytest.fixture
def make_case(tmp_path, scratch):
    def make(fixture: str, *, cpu=20, memory=1024, wall=30, output=10_000, **fill):
        """An engine folder around ``fixture``, an input folder with one private file, an output
        path (the last two in the order's scratch area, as the loader lays them out)."""
        engine = write_engine(
            tmp_path / "engine",
            fixture_source(fixture, **fill),
            cpu=cpu,
            memory=memory,
            wall=wall,
            output=output,
        )
        inputs = scratch.sub("inputs")
        (inputs / "data").mkdir(parents=True)
        (inputs / "data" / "000").write_bytes(b"customer data")
        os.chmod(inputs / "data" / "000", 0o600)
        return engine, load_manifest(engine), inputs, scratch.path / "outputs", scratch

    return make


def run(case, **kwargs):
    engine, manifest, inputs, outputs, scratch = case
    return run_engine(
        engine, manifest, inputs, outputs, seed=42, order_id="0xabc", scratch=scratch, **kwargs
    )


def test_run_succeeds_with_private_view(tmp_path, make_case):
    case = make_case("ok")
    result = run(case)
    info = json.loads((case[3] / "out.json").read_text())
    assert result.exit_code == 0 and result.outputs == {"out.json": result.output_bytes}
    assert result.cpu_seconds > 0 and result.peak_rss_bytes > 0
    assert info["uid"] == SANDBOX_UID and info["gid"] == SANDBOX_UID
    assert info["cwd"] == "/scratch"
    assert [n for n in info["env"] if not n.startswith("ENCLAVA_")] == [
        "HOME",
        "LANG",
        "OMP_NUM_THREADS",
        "PATH",
        "TMPDIR",
    ]
    assert info["seed"] == "42" and info["order"] == "0xabc" and info["inputs"] == ["data"]
    assert len(info["pids"]) <= 2  # a fresh PID namespace: init and the engine only


def test_engine_cannot_see_files_outside_its_inputs(tmp_path, make_case):
    secret = tmp_path / "keys" / "secret.txt"
    secret.parent.mkdir(parents=True)
    secret.write_text("TOP-SECRET-KEY")
    repo = Path(__file__).resolve().parents[2]
    case = make_case("peek", SECRET_PATH=secret, SECRET_DIR=secret.parent, REPO=repo)
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


def test_socket_is_reported_as_network_denied(tmp_path, make_case):
    with pytest.raises(EngineNetworkDenied) as caught:
        run(make_case("socket_connect"))
    assert caught.value.reason_code == Reason.NETWORK_DENIED == 7


def test_network_namespace_blocks_connect_that_bypasses_the_hook(tmp_path, make_case):
    case = make_case("raw_connect")
    run(case)
    result = json.loads((case[3] / "out.json").read_text())
    assert result["socket_fd_ok"] and result["connect"] == -1
    assert result["errno"] == 101  # ENETUNREACH: no interface is up


def test_busy_loop_exceeds_cpu(tmp_path, make_case):
    with pytest.raises(EngineCpuExceeded) as caught:
        run(make_case("busy_loop", cpu=1, wall=60))
    assert caught.value.reason_code == Reason.CPU_EXCEEDED
    assert caught.value.run.signal == signal.SIGXCPU


def test_sleeping_engine_times_out_and_its_children_die(tmp_path, make_case):
    with pytest.raises(EngineTimeout) as caught:
        run(make_case("sleep_forever", wall=2))
    assert caught.value.reason_code == Reason.TIMEOUT
    leftovers = subprocess.run(
        ["pgrep", "-f", str(tmp_path)], capture_output=True, text=True
    ).stdout
    assert leftovers == ""


def test_huge_allocation_exceeds_memory(tmp_path, make_case):
    with pytest.raises(EngineMemoryExceeded) as caught:
        run(make_case("allocate", memory=512))
    assert caught.value.reason_code == Reason.MEMORY_EXCEEDED


def test_torch_import_over_the_memory_limit_is_memory_exceeded(tmp_path, make_case):
    with pytest.raises(EngineMemoryExceeded) as caught:
        run(make_case("import_torch", memory=150, cpu=60, wall=120))
    assert caught.value.reason_code == Reason.MEMORY_EXCEEDED


def test_torch_that_cannot_map_its_libraries_is_memory_exceeded(tmp_path, make_case):
    """The import dies with an error, not a kill: its stderr says why, and the customer gets it."""
    with pytest.raises(EngineMemoryExceeded) as caught:
        run(make_case("torch_address_space", cpu=60, wall=120))
    error = caught.value
    assert error.run.exit_code == 1
    assert "failed to map segment from shared object" in error.raw_stderr_tail


def test_every_run_error_keeps_the_raw_stderr_tail(tmp_path, make_case):
    with pytest.raises(EngineTimeout) as caught:
        run(make_case("stderr_then_sleep", wall=2))
    assert caught.value.raw_stderr_tail == "loading the customer's rows: 42.5 17.25\n"
    assert "42.5" not in str(caught.value)


def test_a_crash_shows_the_engine_s_traceback_from_its_own_frames(tmp_path, make_case):
    with pytest.raises(EngineFailed) as caught:
        run(make_case("crash_with_message"))
    tail = caught.value.raw_stderr_tail
    assert tail.startswith('Traceback (most recent call last):\n  File "/engine/main.py", line 2')
    assert tail.endswith("row 17 has 3 columns (marker e2e-7c1f)\n")
    assert "runpy" not in tail and "<string>" not in tail


def test_raw_stderr_tail_is_the_last_8_kib(tmp_path, make_case):
    with pytest.raises(EngineFailed) as caught:
        run(make_case("exit_nonzero"))
    assert caught.value.raw_stderr_tail.startswith("row 3 value 123456.789 token QUJDREVG")
    assert len(caught.value.raw_stderr_tail.encode()) <= 8192


def test_nonzero_exit_fails_with_redacted_tail(tmp_path, make_case):
    with pytest.raises(EngineFailed) as caught:
        run(make_case("exit_nonzero"))
    error = caught.value
    assert error.reason_code == Reason.ENGINE_FAILED and error.run.exit_code == 3
    assert "123456" not in error.stderr_tail and "QUJDREVG" not in error.stderr_tail
    assert "row 3 value <n> token <redacted>" in error.stderr_tail
    assert error.stderr_tail not in str(error)


def test_missing_output_is_reported(tmp_path, make_case):
    with pytest.raises(OutputMissing) as caught:
        run(make_case("no_output"))
    assert caught.value.reason_code == Reason.OUTPUT_MISSING


@pytest.mark.parametrize("fixture", ["big_output", "many_outputs"])
def test_oversize_output_is_refused(tmp_path, make_case, fixture):
    with pytest.raises(OutputTooLarge) as caught:
        run(make_case(fixture, output=10_000))
    assert caught.value.reason_code == Reason.OUTPUT_TOO_LARGE


def test_sandbox_fails_closed_without_namespace_privilege(tmp_path, make_case):
    """Without CAP_SYS_ADMIN no namespace can be made: the engine must not run at all."""
    case = make_case("ok")
    script = (
        "import sys; from pathlib import Path\n"
        "from enclava.protocol.engine import load_manifest, SandboxUnavailable\n"
        "from trusted_loader.sandbox import run_engine\n"
        "from trusted_loader.scratch import Scratch\n"
        "e, i, o = map(Path, sys.argv[1:4])\n"
        "try:\n"
        "    with Scratch(o.parent.parent) as s:\n"
        "        run_engine(e, load_manifest(e), i, s.path / 'outputs', seed=1, order_id='0x1', "
        "scratch=s)\n"
        "except SandboxUnavailable as exc:\n"
        "    print('UNAVAILABLE', exc.reason_code)\n"
    )
    result = subprocess.run(
        [
            "setpriv",
            "--bounding-set=-sys_admin",
            "--",
            sys.executable,
            "-c",
            script,
            str(case[0]),
            str(case[2]),
            str(case[3]),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.stdout.strip() == f"UNAVAILABLE {int(Reason.INTERNAL_ERROR)}", result.stderr
    assert not (case[3] / "out.json").exists()


def _sandbox_mounts(scratch) -> list[str]:
    with open("/proc/self/mountinfo") as handle:
        points = [line.split()[4] for line in handle]
    return [p for p in points if p.startswith(str(scratch.path) + "/.sandbox-")]


def test_failed_isolation_step_in_the_engine_process_is_sandbox_unavailable(
    tmp_path, make_case, monkeypatch
):
    """A step that fails after the fork (here: the kernel refuses the seccomp program) must read as
    a setup failure, never as the engine's own exit code."""
    from trusted_loader.sandbox import runner

    monkeypatch.setattr(runner, "build_filter", lambda: bytes(8))  # one `ld #0`, no return: EINVAL
    case = make_case("ok")
    with pytest.raises(SandboxUnavailable) as caught:
        run(case)
    assert "seccomp" in str(caught.value) and not isinstance(caught.value, EngineFailed)
    assert not (case[3] / "out.json").exists()
    assert _sandbox_mounts(case[4]) == []


def test_sandbox_fails_closed_on_an_architecture_without_a_filter(tmp_path, make_case, monkeypatch):
    from enclava.protocol.engine.errors import SandboxSeccompUnavailable
    from trusted_loader.sandbox import seccomp

    monkeypatch.setattr(seccomp.platform, "machine", lambda: "aarch64")
    case = make_case("ok")
    with pytest.raises(SandboxSeccompUnavailable):
        run(case)
    assert not (case[3] / "out.json").exists()


def test_sandbox_fails_closed_without_a_cgroup(tmp_path, make_case, monkeypatch):
    from enclava.protocol.engine.errors import SandboxCgroupUnavailable
    from trusted_loader.sandbox import runner

    def no_cgroup(limits):
        raise SandboxCgroupUnavailable("no cgroup for the engine run (test)")

    monkeypatch.setattr(runner, "create_run_cgroup", no_cgroup)
    case = make_case("ok")
    with pytest.raises(SandboxCgroupUnavailable):
        run(case)
    assert not (case[3] / "out.json").exists()
    assert _sandbox_mounts(case[4]) == []


def test_output_folder_outside_the_scratch_is_refused(tmp_path, make_case):
    engine, manifest, inputs, _, scratch = make_case("ok")
    with pytest.raises(SandboxUnavailable, match="inside the order's entered scratch"):
        run_engine(
            engine,
            manifest,
            inputs,
            tmp_path / "elsewhere",
            seed=1,
            order_id="0x1",
            scratch=scratch,
        )
