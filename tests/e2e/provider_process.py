"""Run a real provider node and its Celery workers as processes, the way a provider does."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from enclava.devnet.provider import provider_config
from provider_node.jobs import JobStore

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class ProviderProcess:
    name: str
    folder: Path
    dev_role: str = "provider"
    slots: int = 2
    price_per_second: int = 10**9
    concurrency: int = 2
    lease_s: int = 20
    http_port: int = field(default_factory=free_port)
    #: More top-level TOML lines for the config (e.g. ``loader_rpc_url = "..."``).
    extra_config: str = ""
    #: The TEE offer's GPU class ("cpu": none); ``simulate_gpu=False`` leaves a GPU offer's loader
    #: without the GPU it promises (see ``enclava.devnet.provider.provider_config``).
    gpu_class: str = "cpu"
    simulate_gpu: bool = True
    node: subprocess.Popen | None = None
    workers: list[subprocess.Popen] = field(default_factory=list)

    @property
    def config(self) -> Path:
        return self.folder / "provider.toml"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def write_config(self, devnet: str) -> None:
        provider_config(
            self.folder,
            name=self.name,
            devnet=devnet,
            http_port=self.http_port,
            dev_role=self.dev_role,
            concurrency=self.concurrency,
            slots=self.slots,
            price_per_second=self.price_per_second,
            lease_s=self.lease_s,
            poll_interval_s=0.5,
            extra_config=self.extra_config,
            gpu_class=self.gpu_class,
            simulate_gpu=self.simulate_gpu,
        )

    def _spawn(self, *args: str, log: str) -> subprocess.Popen:
        env = {**os.environ, "ENCLAVA_PROVIDER_CONFIG": str(self.config)}
        out = open(self.folder / log, "ab")
        return subprocess.Popen(
            [str(BIN / "provider-node"), *args, "--config", str(self.config)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def start_node(self) -> None:
        self.node = self._spawn("run", log="node.log")
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.node.poll() is not None:
                raise RuntimeError(
                    f"provider node exited: {(self.folder / 'node.log').read_text()[-3000:]}"
                )
            try:
                if httpx.get(f"{self.url}/v1/status", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise RuntimeError("provider node did not come up")

    def start_worker(self) -> subprocess.Popen:
        worker = self._spawn("worker", log="worker.log")
        self.workers.append(worker)
        return worker

    def scratch_entries(self) -> list[str]:
        """What the loader left in its scratch area (it must wipe every order's folder)."""
        folder = self.folder / "scratch"
        return sorted(p.name for p in folder.iterdir()) if folder.exists() else []

    def status(self) -> dict:
        return httpx.get(f"{self.url}/v1/status", timeout=5).json()

    def tee_offer_id(self) -> int:
        return int(next(iter(self.status()["tee_offers"])))

    def jobs(self) -> JobStore:
        return JobStore(f"sqlite:///{self.folder / 'state' / 'provider-node.db'}")

    @staticmethod
    def _stop(proc: subprocess.Popen | None, sig=signal.SIGTERM, wait: float = 20) -> None:
        if proc is None or proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, sig)
            proc.wait(timeout=wait)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait(timeout=10)

    def kill_workers(self) -> None:
        for worker in self.workers:
            self._stop(worker, signal.SIGKILL)
        self.workers.clear()

    def stop(self) -> None:
        for worker in self.workers:
            self._stop(worker)
        self.workers.clear()
        self._stop(self.node)


@contextmanager
def running_provider(
    manifest, name: str, folder: Path, *, extra_config: str = ""
) -> Iterator[ProviderProcess]:
    """A provider node and its workers on ``manifest``'s devnet for the block's duration."""
    proc = ProviderProcess(name=name, folder=folder, extra_config=extra_config)
    proc.write_config(manifest.name)
    proc.start_node()
    proc.start_worker()
    try:
        yield proc
    finally:
        proc.stop()
