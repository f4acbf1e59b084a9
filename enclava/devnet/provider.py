"""A provider node and its Celery workers beside a running devnet, stopped by `enclava devnet down`.

`devnet.up()` starts the shared services only (tests start providers of their own); the demo and the
end-to-end benchmark need a provider too. :func:`start_provider` writes the node's TOML config under
the devnet's folder, spawns `provider-node run` and `provider-node worker` as detached process
groups carrying the devnet's tag, waits until the node answers ``/v1/status``, and records both pids
in the manifest (``provider-NAME-node``, ``provider-NAME-worker``), so ``down`` stops them with the
rest. A provider already running healthy under the same name is reused.

A devnet provider can offer a simulated CPU + GPU TEE: ``gpu_class="H100"`` publishes its TEE offer
with that GPU class, and its loader then attests simulated GPUs of that class beside the simulated
CPU (``loader_gpu = "simulated"``), bound into one attestation the devnet's CA certifies (with the
insecure flag, as for the CPU side).
"""

from __future__ import annotations

import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from enclava.chain.config import DEFAULT_DEVNET, ServiceRecord, read_manifest
from enclava.devnet.orchestrator import forget_service, record_service, state_dir
from enclava.devnet.ports import free_ports
from enclava.devnet.processes import is_alive, spawn
from enclava.errors import DevnetError
from enclava.protocol.tee import is_gpu_class, offer_requires_gpu

__all__ = ["ProviderHandle", "start_provider", "stop_provider", "provider_config"]

BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class ProviderHandle:
    """A running provider: its HTTP face, folder and the on-chain TEE offer its node serves."""

    name: str
    devnet: str
    url: str
    folder: Path
    node_pid: int
    worker_pid: int

    def status(self) -> dict[str, Any]:
        body: dict[str, Any] = httpx.get(f"{self.url}/v1/status", timeout=10).json()
        return body

    def tee_offer_id(self) -> int:
        return int(next(iter(self.status()["tee_offers"])))

    @property
    def database_url(self) -> str:
        return f"sqlite:///{self.folder / 'state' / 'provider-node.db'}"


def _services(name: str) -> tuple[str, str]:
    return f"provider-{name}-node", f"provider-{name}-worker"


def provider_config(
    folder: Path,
    *,
    name: str,
    devnet: str,
    http_port: int,
    dev_role: str = "provider",
    concurrency: int = 1,
    slots: int = 2,
    price_per_second: int = 10**9,
    lease_s: int = 20,
    poll_interval_s: float = 0.25,
    extra_config: str = "",
    gpu_class: str = "cpu",
    simulate_gpu: bool = True,
) -> Path:
    """Write the node's TOML config (endpoints come from the devnet's manifest) and return its
    path. ``extra_config`` is more top-level TOML lines (e.g. ``loader_rpc_url = "..."``).
    ``gpu_class`` other than ``"cpu"``: a simulated CPU + GPU TEE offer, whose loader attests
    simulated GPUs of that class; ``simulate_gpu=False`` leaves the loader without them (a provider
    that promises a GPU it does not have: its orders must be refused)."""
    if not is_gpu_class(gpu_class):
        raise DevnetError(f"gpu_class {gpu_class!r} is not a GPU class label (e.g. H100)")
    gpu_lines = (
        f'loader_gpu = "simulated"\nsimulated_gpu_class = "{gpu_class}"\n'
        if offer_requires_gpu(gpu_class) and simulate_gpu
        else ""
    )
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "provider.toml"
    path.write_text(
        f'name = "{name}"\ndevnet = "{devnet}"\ndev_role = "{dev_role}"\n'
        f'state_dir = "{folder / "state"}"\n'
        f"poll_interval_s = {poll_interval_s}\nlease_s = {lease_s}\nhttp_port = {http_port}\n"
        f"concurrency = {concurrency}\n"
        f'deadline_margin_s = 5\nscratch_root = "{folder / "scratch"}"\n'
        # the devnet has no TEE: its loader attests with the simulated one (its CA accepts it)
        "insecure_allow_simulated_tee = true\n"
        f"{gpu_lines}"
        f"{extra_config}"
        f'[[tee_offers]]\ntee_type = "simulated"\ngpu_class = "{gpu_class}"\n'
        f"price_per_second = {price_per_second}\n"
        f"slots = {slots}\n"
    )
    return path


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/v1/status", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _running(devnet: str, name: str, folder: Path) -> ProviderHandle | None:
    manifest = read_manifest(state_dir(devnet) / "manifest.json")
    node, worker = (manifest.services.get(s) for s in _services(name))
    if node and worker and is_alive(node.pid) and is_alive(worker.pid) and _healthy(node.url):
        return ProviderHandle(name, devnet, node.url, folder, node.pid, worker.pid)
    return None


def _fresh_state(folder: Path, started_at: float) -> None:
    """Drop the node's job table and block cursor when they belong to an earlier devnet of this
    name.

    A devnet folder outlives ``down``; a new chain starts at block 0 again, so an old cursor would
    hide every new order from the node.
    """
    marker = folder / "devnet-started-at"
    if marker.exists() and marker.read_text().strip() == repr(started_at):
        return
    shutil.rmtree(folder / "state", ignore_errors=True)
    folder.mkdir(parents=True, exist_ok=True)
    marker.write_text(repr(started_at))


def start_provider(
    devnet: str = DEFAULT_DEVNET,
    *,
    name: str = "demo",
    dev_role: str = "provider",
    concurrency: int = 1,
    slots: int = 2,
    timeout: float = 120.0,
    gpu_class: str = "cpu",
) -> ProviderHandle:
    """Start (or reuse) provider ``name`` on the running devnet; returns once its node answers."""
    state = state_dir(devnet)
    folder = state / f"provider-{name}"
    running = _running(devnet, name, folder)
    if running:
        return running
    stop_provider(devnet, name)
    _fresh_state(folder, read_manifest(state / "manifest.json").started_at)
    (port,) = free_ports(1)
    config = provider_config(
        folder,
        name=name,
        devnet=devnet,
        http_port=port,
        dev_role=dev_role,
        concurrency=concurrency,
        slots=slots,
        gpu_class=gpu_class,
    )
    env = {"ENCLAVA_PROVIDER_CONFIG": str(config), "OMP_NUM_THREADS": "1"}
    tag = str(state)
    node_svc, worker_svc = _services(name)
    url = f"http://127.0.0.1:{port}"
    records = []
    for svc, verb in ((node_svc, "run"), (worker_svc, "worker")):
        log = state / "logs" / f"{svc}.log"
        pid = spawn(
            [str(BIN / "provider-node"), verb, "--config", str(config)],
            log_path=log,
            env=env,
            tag=tag,
            cwd=folder,
        )
        records.append(ServiceRecord(svc, pid, url if verb == "run" else "", str(log)))
        record_service(devnet, records[-1])
    node = records[0]
    deadline = time.monotonic() + timeout
    while not _healthy(url):
        if not is_alive(node.pid) or time.monotonic() > deadline:
            tail = " | ".join(Path(node.log).read_text(errors="replace").strip().splitlines()[-5:])
            stop_provider(devnet, name)
            raise DevnetError(
                f"provider node {name!r} did not come up: {tail}",
                hint=f"Read {node.log} (or `enclava devnet logs {node_svc} --name {devnet}`).",
            )
        time.sleep(0.3)
    return ProviderHandle(name, devnet, url, folder, node.pid, records[1].pid)


def stop_provider(devnet: str = DEFAULT_DEVNET, name: str = "demo") -> None:
    """Stop provider ``name``'s node and workers and drop their records (no-op when not running)."""
    for svc in _services(name):
        forget_service(devnet, svc)
