"""`enclava devnet up | down | status | logs`: run a complete local devnet from real programs.

A devnet is a named folder under ``.devnet/`` holding each service's data and log, and a manifest
that everything else reads. Devnets with different names use different free ports and run side by
side. ``up`` is idempotent (a healthy devnet is left as it is); ``down`` stops every process group
it started and then sweeps for any process still carrying the devnet's tag.
"""

from __future__ import annotations

import fcntl
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from enclava.chain.config import DEFAULT_DEVNET, Manifest, ServiceRecord, read_manifest
from enclava.devnet.accounts import ACCOUNT_COUNT, dev_account
from enclava.devnet.deploy import deploy_available, deploy_contracts
from enclava.devnet.ports import free_ports
from enclava.devnet.processes import is_alive, spawn, stop_group, tagged_processes
from enclava.devnet.services import (
    CHAIN_ID,
    ServiceSpec,
    attested_ca,
    contract_services,
    core_services,
)
from enclava.errors import DevnetError
from enclava.logs import get_logger
from enclava.paths import devnet_home

__all__ = [
    "up",
    "down",
    "status",
    "log_file",
    "devnet_names",
    "state_dir",
    "record_service",
    "forget_service",
]

log = get_logger("enclava.devnet")


def state_dir(name: str = DEFAULT_DEVNET) -> Path:
    if not name or "/" in name or name.startswith("."):
        raise DevnetError(
            f"invalid devnet name {name!r}", hint="Use a plain name such as `default` or `ci-2`."
        )
    return (devnet_home() / name).resolve()


def _tag(name: str) -> str:
    return str(state_dir(name))


@contextmanager
def _locked(name: str) -> Iterator[Path]:
    state = state_dir(name)
    state.mkdir(parents=True, exist_ok=True)
    with open(state / ".lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield state


def _read_manifest(state: Path) -> Manifest | None:
    try:
        return read_manifest(state / "manifest.json")
    except DevnetError:
        return None


def _health(manifest: Manifest, specs: list[ServiceSpec]) -> dict[str, bool]:
    result = {}
    specs = specs + [spec for spec in contract_services() if spec.name in manifest.services]
    for spec in specs:
        record = manifest.services.get(spec.name)
        port = int(record.url.rsplit(":", 1)[1].split("/")[0]) if record else 0
        result[spec.name] = record is not None and is_alive(record.pid) and spec.healthy(port)
    return result


def up(name: str = DEFAULT_DEVNET, *, deploy: bool = True, timeout: float = 90.0) -> Manifest:
    """Start the devnet (or return it unchanged if it already runs healthy)."""
    specs = core_services()
    with _locked(name) as state:
        existing = _read_manifest(state)
        wants_contracts = deploy and deploy_available()
        if (
            existing
            and all(_health(existing, specs).values())
            and (existing.contracts or not wants_contracts)
        ):
            log.info("devnet already running", extra={"devnet": name})
            return existing
        _stop_everything(name, existing)

        late = contract_services() if deploy and deploy_available() else []
        every = specs + late
        names = [spec.name for spec in every] + [
            extra for spec in every for extra in spec.extra_ports
        ]
        ports = dict(zip(names, free_ports(len(names))))
        records: dict[str, ServiceRecord] = {}
        try:
            _start(name, state, specs, ports, records, timeout)
            manifest = Manifest(
                name=name,
                state_dir=str(state),
                chain_id=CHAIN_ID,
                rpc_url=records["anvil"].url,
                ipfs_api=records["ipfs"].url,
                ipfs_gateway=f"http://127.0.0.1:{ports['ipfs_gateway']}",
                redis_url=records["redis"].url,
                accounts=[dev_account(i).address for i in range(ACCOUNT_COUNT)],
                services=records,
                started_at=time.time(),
            )
            manifest.save()
            if deploy:
                deployment = deploy_contracts(manifest)
                if deployment:
                    manifest.contracts = deployment["contracts"]
                    manifest.deploy_block = deployment.get("block")
                    manifest.save()
                    _start(name, state, late, ports, records, timeout)
                    manifest.save()
                    if (
                        "ca" in records
                    ):  # ready only once the CA's own evidence vouches for its TLS key
                        attested_ca(manifest).close()
        except BaseException:
            _stop_records(records)
            _sweep(name)
            (state / "manifest.json").unlink(missing_ok=True)
            raise
        log.info("devnet up", extra={"devnet": name, "rpc_url": manifest.rpc_url})
        return manifest


def _start(
    name: str,
    state: Path,
    specs: list[ServiceSpec],
    ports: dict[str, int],
    records: dict[str, ServiceRecord],
    timeout: float,
) -> None:
    for spec in specs:
        env = spec.prepare(state, ports) if spec.prepare else {}
        log_path = state / "logs" / f"{spec.name}.log"
        pid = spawn(
            spec.command(state, ports), log_path=log_path, env=env, tag=_tag(name), cwd=state
        )
        records[spec.name] = ServiceRecord(
            spec.name, pid, spec.url(ports[spec.name]), str(log_path)
        )
    _wait_healthy(specs, ports, records, timeout)


def _wait_healthy(
    specs: list[ServiceSpec],
    ports: dict[str, int],
    records: dict[str, ServiceRecord],
    timeout: float,
) -> None:
    deadline = time.monotonic() + timeout
    pending = {spec.name: spec for spec in specs}
    while pending:
        for svc_name, spec in list(pending.items()):
            record = records[svc_name]
            if not is_alive(record.pid):
                raise DevnetError(
                    f"{svc_name} exited during start-up: {_tail(Path(record.log))}",
                    hint=f"Read the whole log at {record.log}.",
                )
            if spec.healthy(ports[svc_name]):
                del pending[svc_name]
        if pending and time.monotonic() > deadline:
            raise DevnetError(
                f"{', '.join(pending)} did not become healthy within {timeout:.0f}s",
                hint="Check `enclava devnet logs`; the machine may be overloaded.",
            )
        time.sleep(0.1)


def _tail(path: Path, lines: int = 5) -> str:
    try:
        return " | ".join(path.read_text(errors="replace").strip().splitlines()[-lines:])
    except FileNotFoundError:
        return "(no log)"


def _stop_records(records: dict[str, ServiceRecord]) -> None:
    for record in records.values():
        stop_group(record.pid)


def _sweep(name: str) -> list[int]:
    """Kill any process still tagged with this devnet; return what survived (should be none)."""
    for pid in tagged_processes(_tag(name)):
        stop_group(pid, grace=2.0)
    return tagged_processes(_tag(name))


def _stop_everything(name: str, manifest: Manifest | None) -> list[int]:
    if manifest:
        _stop_records(manifest.services)
    return _sweep(name)


def down(name: str = DEFAULT_DEVNET) -> list[int]:
    """Stop the devnet. Returns the pids of processes that could not be stopped (normally none)."""
    with _locked(name) as state:
        survivors = _stop_everything(name, _read_manifest(state))
        (state / "manifest.json").unlink(missing_ok=True)
    log.info("devnet down", extra={"devnet": name, "survivors": len(survivors)})
    return survivors


def status(name: str = DEFAULT_DEVNET) -> dict[str, bool]:
    """Health of each service; an empty dict means the devnet is not running.

    Processes added later with :func:`record_service` (a provider node) count as healthy while
    alive.
    """
    manifest = _read_manifest(state_dir(name))
    if not manifest:
        return {}
    health = _health(manifest, core_services())
    return {
        **health,
        **{n: is_alive(r.pid) for n, r in manifest.services.items() if n not in health},
    }


def record_service(name: str, record: ServiceRecord) -> Manifest:
    """Add a process started beside the devnet to its manifest, so ``down`` stops its process group.

    ``up`` never checks or restarts such records; it stops them when it has to restart the devnet.
    """
    with _locked(name) as state:
        manifest = _read_manifest(state)
        if manifest is None:
            raise DevnetError(
                f"devnet {name!r} is not running",
                hint=f"Start it with `enclava devnet up --name {name}`.",
            )
        manifest.services[record.name] = record
        manifest.save()
        return manifest


def forget_service(name: str, service: str) -> None:
    """Stop a recorded process group and drop its record (a no-op for an unknown service)."""
    with _locked(name) as state:
        manifest = _read_manifest(state)
        record = manifest.services.pop(service, None) if manifest else None
        if manifest is not None and record is not None:
            stop_group(record.pid)
            manifest.save()


def log_file(name: str, service: str) -> Path:
    path = state_dir(name) / "logs" / f"{service}.log"
    if not path.exists():
        raise DevnetError(
            f"no log for service {service!r} in devnet {name!r}",
            hint="Services: anvil, ipfs, redis (after `enclava devnet up`).",
        )
    return path


def devnet_names() -> list[str]:
    home = devnet_home()
    return sorted(p.parent.name for p in home.glob("*/manifest.json")) if home.exists() else []
