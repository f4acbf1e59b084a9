"""Start and stop devnet services as detached process groups, and find any that escaped.

Each service runs in its own session (process group) with its output in a log file, so it outlives
the ``enclava devnet up`` command that started it. Every process carries ``ENCLAVA_DEVNET_ID`` in
its environment and starts inside the devnet's state folder; :func:`tagged_processes` scans
``/proc`` for either mark (redis rewrites its environment block for its process title, so the
working directory is the mark that always holds), which is how ``down`` proves it left nothing.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

__all__ = ["spawn", "stop_group", "is_alive", "tagged_processes", "DEVNET_TAG"]

DEVNET_TAG = "ENCLAVA_DEVNET_ID"


def spawn(
    cmd: list[str], *, log_path: Path, env: dict[str, str], tag: str, cwd: Path | None = None
) -> int:
    """Start ``cmd`` detached in a new session; returns its pid (= its process group id)."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    full_env = {**os.environ, **env, DEVNET_TAG: tag}
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=full_env,
            cwd=cwd,
            start_new_session=True,
        )
    return proc.pid


def _reap(pid: int) -> None:
    """Collect an exited child of ours so it does not linger as a zombie."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def is_alive(pid: int) -> bool:
    _reap(pid)
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state not in ("Z", "X")


def stop_group(pgid: int, *, grace: float = 10.0) -> None:
    """SIGTERM the whole process group, then SIGKILL whatever is left after ``grace`` seconds."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if not _group_alive(pgid):
                return
            time.sleep(0.05)


def _group_alive(pgid: int) -> bool:
    _reap(pgid)
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
            return True
    return False


def tagged_processes(tag: str) -> list[int]:
    """Pids of live processes tagged with ``tag`` (a state folder path) or running inside it."""
    needle = f"{DEVNET_TAG}={tag}".encode()
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        pid = int(proc.name)
        if pid == os.getpid():
            continue
        try:
            cwd = os.readlink(proc / "cwd")
            tagged = needle in (proc / "environ").read_bytes().split(b"\0")
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
        if (tagged or cwd == tag or cwd.startswith(tag + "/")) and is_alive(pid):
            found.append(pid)
    return found
