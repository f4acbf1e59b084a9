"""The devnet manifest: one JSON file that tells every service and the CLI where everything is."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from enclava.errors import DevnetError
from enclava.paths import devnet_home

__all__ = [
    "Manifest",
    "ServiceRecord",
    "manifest_path",
    "load_manifest",
    "read_manifest",
    "DEFAULT_DEVNET",
]

DEFAULT_DEVNET = "default"


@dataclass
class ServiceRecord:
    name: str
    pid: int
    url: str
    log: str


@dataclass
class Manifest:
    name: str
    state_dir: str
    chain_id: int
    rpc_url: str
    ipfs_api: str
    ipfs_gateway: str
    redis_url: str
    accounts: list[str]
    services: dict[str, ServiceRecord] = field(default_factory=dict)
    contracts: dict[str, str] = field(default_factory=dict)
    deploy_block: int | None = None
    started_at: float = 0.0

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Manifest":
        services = {k: ServiceRecord(**v) for k, v in data.get("services", {}).items()}
        return cls(**{**data, "services": services})

    def save(self) -> Path:
        path = Path(self.state_dir) / "manifest.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(self.to_json())
        tmp.replace(path)
        return path


def manifest_path(name: str = DEFAULT_DEVNET) -> Path:
    return devnet_home() / name / "manifest.json"


def load_manifest(name: str | None = None) -> Manifest:
    """Read a devnet's manifest: ``ENCLAVA_MANIFEST`` (a path) wins, else the named devnet's."""
    explicit = os.environ.get("ENCLAVA_MANIFEST") if name is None else None
    return read_manifest(Path(explicit) if explicit else manifest_path(name or DEFAULT_DEVNET))


def read_manifest(path: Path) -> Manifest:
    """Parse the manifest at ``path``; a missing or broken file is a :class:`DevnetError`."""
    try:
        return Manifest.from_dict(json.loads(path.read_text()))
    except FileNotFoundError as exc:
        raise DevnetError(
            f"no devnet manifest at {path}",
            hint="Start the devnet with `enclava devnet up` (or set ENCLAVA_MANIFEST).",
        ) from exc
    except (json.JSONDecodeError, TypeError) as exc:
        raise DevnetError(
            f"the devnet manifest at {path} is unreadable",
            hint="Run `enclava devnet down` and `enclava devnet up` to recreate it.",
        ) from exc
