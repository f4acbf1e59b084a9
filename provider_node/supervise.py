"""Keep the Celery worker running: Celery's consumer can die on a broker it loses mid-read (a
restarted Redis), and an order must not wait for a person to notice. SIGTERM/SIGINT are passed on
and end supervision; any other exit restarts the worker after a short, growing pause."""

from __future__ import annotations

import signal
import subprocess
import time
from types import FrameType

from enclava.logs import get_logger

__all__ = ["supervise"]

log = get_logger("provider_node.supervise")


def supervise(command: list[str], *, max_pause_s: float = 10.0) -> int:
    stopping = False
    child: subprocess.Popen[bytes] | None = None

    def forward(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        if child is not None and child.poll() is None:
            child.send_signal(signum)

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, forward)
    pause = 0.5
    while True:
        started = time.monotonic()
        child = subprocess.Popen(command)
        code = child.wait()
        if stopping:
            return 0 if code in (0, -signal.SIGTERM, -signal.SIGINT) else code
        log.warning("worker exited; restarting", extra={"exit_code": code})
        pause = 0.5 if time.monotonic() - started > 60 else min(max_pause_s, pause * 2)
        time.sleep(pause)
