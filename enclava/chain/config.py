"""THE one way to reach a chain: :class:`ChainConfig` and its loader :func:`load_chain_config`.

A chain is an RPC URL, (optionally) the chain id it must report, the four contract addresses and
the block they were deployed at. Those come either from an *addresses file* (any EVM chain: a JSON
object ``{"Marketplace": "0x..", "ResourceRegistry": "0x..", ...}``, optionally with
``"chain_id"`` and ``"deploy_block"``) or from a *devnet manifest* (which also names the local
services; the deployment record ``scripts/deploy.py`` writes is an addresses file too). Every
service's settings reach the chain through :func:`load_chain_config`: the CA, the marketplace API,
the provider node and the trusted loader share the four fields of :class:`ChainSettings`
(``rpc_url``, ``chain_id``, ``addresses``, ``manifest``).

The devnet manifest is read here (the devnet writes it: :mod:`enclava.devnet.orchestrator`).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from enclava.chain.types import CONTRACT_NAMES, OPTIONAL_CONTRACT_NAMES
from enclava.errors import ConfigError, DevnetError
from enclava.paths import devnet_home

if TYPE_CHECKING:  # web3 loads when a client is made, not when a manifest is read
    from enclava.chain.contracts import ContractSet
    from enclava.chain.rpc import ChainClient

__all__ = [
    "ChainConfig",
    "ChainSettings",
    "load_chain_config",
    "load_addresses",
    "Manifest",
    "ServiceRecord",
    "manifest_path",
    "load_manifest",
    "read_manifest",
    "DEFAULT_DEVNET",
]

DEFAULT_DEVNET = "default"


@dataclass(frozen=True)
class ChainConfig:
    """Where the chain is and which contracts to talk to."""

    rpc_url: str
    contracts: dict[str, str]
    chain_id: int | None = None
    deploy_block: int = 0

    @classmethod
    def from_manifest(cls, manifest: Manifest) -> ChainConfig:
        return cls(
            rpc_url=manifest.rpc_url,
            contracts=dict(manifest.contracts),
            chain_id=manifest.chain_id,
            deploy_block=int(manifest.deploy_block or 0),
        )

    def client(self) -> ChainClient:
        from enclava.chain.rpc import ChainClient

        return ChainClient(self.rpc_url)

    def connect(self) -> tuple[ChainClient, ContractSet]:
        """A client and the bound contracts; a chain that reports another id is a ConfigError."""
        chain = self.client()
        served = None if self.chain_id is None else chain.chain_id()
        if served is not None and served != self.chain_id:
            raise ConfigError(
                f"the RPC at {self.rpc_url} serves chain {served}, not {self.chain_id}",
                hint="Point the RPC URL at the chain the contract addresses belong to.",
            )
        from enclava.chain.contracts import ContractSet

        return chain, ContractSet(chain.w3, self.contracts)


def load_addresses(source: str | Path) -> tuple[dict[str, str], dict[str, int]]:
    """Contract addresses from a JSON object or the path of a file holding one.

    Two shapes are read: a flat ``{"Marketplace": "0x..", ...}`` (optionally with ``chain_id`` and
    ``deploy_block``), or the deployment record ``scripts/deploy.py`` writes (``{"chain_id": ..,
    "block": .., "contracts": {...}, ...}``). Returns the name → address mapping and the extras
    found (``chain_id``, ``deploy_block``).
    """
    text = str(source).strip()
    try:
        raw = text if text.startswith("{") else Path(text).read_text()
    except OSError as exc:
        raise ConfigError(
            f"cannot read the contract addresses file {text}: {exc}",
            hint="Point it at a JSON file mapping contract names to addresses.",
        ) from exc
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            "the contract addresses are not JSON",
            hint='Use {"Marketplace": "0x..", "ResourceRegistry": "0x..", ...}.',
        ) from exc
    if not isinstance(data, dict):
        raise ConfigError("the contract addresses must be a JSON object of name → address")
    extras: dict[str, int] = {}
    block = data.get("deploy_block", data.get("block") if "contracts" in data else None)
    for key, value in (("chain_id", data.get("chain_id")), ("deploy_block", block)):
        if value is None:
            continue
        try:
            extras[key] = int(value)
        except (TypeError, ValueError) as exc:
            raise ConfigError(
                f"the contract addresses' {key} is not a number: {value!r}",
                hint=f"Give {key} as an integer, or leave it out.",
            ) from exc
    names = data["contracts"] if isinstance(data.get("contracts"), dict) else data
    known = (*CONTRACT_NAMES, *OPTIONAL_CONTRACT_NAMES)
    contracts = {name: str(names[name]) for name in known if name in names}
    missing = [name for name in CONTRACT_NAMES if name not in contracts]
    if missing:
        raise ConfigError(
            f"contract addresses missing: {', '.join(missing)}",
            hint=f"The addresses JSON must name {', '.join(CONTRACT_NAMES)}.",
        )
    return contracts, extras


def load_chain_config(
    *,
    rpc_url: str = "",
    chain_id: int | None = None,
    addresses: str | Path | None = None,
    manifest: str | Path | Manifest | None = None,
    deploy_block: int | None = None,
    env_prefix: str = "",
) -> ChainConfig:
    """The one loader: a devnet manifest, or an RPC URL with an addresses file (or JSON).

    Explicit values win over what the manifest or the addresses file say. ``env_prefix`` (say
    ``"CA_"``) only names the settings in error hints.
    """
    if manifest is not None and manifest != "":
        m = manifest if isinstance(manifest, Manifest) else read_manifest(Path(manifest))
        base = ChainConfig.from_manifest(m)
        return ChainConfig(
            rpc_url=rpc_url or base.rpc_url,
            contracts=load_addresses(addresses)[0] if addresses else base.contracts,
            chain_id=chain_id if chain_id is not None else base.chain_id,
            deploy_block=deploy_block if deploy_block is not None else base.deploy_block,
        )
    if rpc_url and addresses:
        contracts, extras = load_addresses(addresses)
        return ChainConfig(
            rpc_url=rpc_url,
            contracts=contracts,
            chain_id=chain_id if chain_id is not None else extras.get("chain_id"),
            deploy_block=(
                deploy_block if deploy_block is not None else extras.get("deploy_block", 0)
            ),
        )
    if rpc_url:
        raise ConfigError(
            f"{env_prefix}RPC_URL is set but the contract addresses are not",
            hint=f"Set {env_prefix}ADDRESSES to a JSON file of contract addresses "
            f"(or {env_prefix}MANIFEST to a devnet manifest).",
        )
    raise ConfigError(
        "no chain configured",
        hint=f"Set {env_prefix}RPC_URL and {env_prefix}ADDRESSES (an addresses JSON file), "
        f"or {env_prefix}MANIFEST (a devnet manifest).",
    )


# ---------------------------------------------------------------------- the devnet manifest


@dataclass
class ServiceRecord:
    name: str
    pid: int
    url: str
    log: str


@dataclass
class Manifest:
    """The devnet manifest: one JSON file that tells every service and the CLI where everything
    is."""

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
    def from_dict(cls, data: dict[str, Any]) -> Manifest:
        services = {k: ServiceRecord(**v) for k, v in data.get("services", {}).items()}
        return cls(**{**data, "services": services})

    def save(self) -> Path:
        path = Path(self.state_dir) / "manifest.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(self.to_json())
        tmp.replace(path)
        return path

    def chain_config(self) -> ChainConfig:
        return ChainConfig.from_manifest(self)


def manifest_path(name: str = DEFAULT_DEVNET) -> Path:
    return devnet_home() / name / "manifest.json"


def load_manifest(name: str | None = None) -> Manifest:
    """Read a devnet's manifest: ``ENCLAVA_MANIFEST`` (a path) wins, else the named devnet's."""
    explicit = os.environ.get("ENCLAVA_MANIFEST") if name is None else None
    return read_manifest(Path(explicit) if explicit else manifest_path(name or DEFAULT_DEVNET))


def read_manifest(path: Path) -> Manifest:
    """Parse the manifest at ``path``; a missing or broken file is a :class:`DevnetError`."""
    try:
        return Manifest.from_dict(json.loads(Path(path).read_text()))
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


class ChainSettings(BaseModel):
    """The chain fields every service's settings share (a mixin for ``BaseSettings`` classes).

    ``addresses`` is the path of an addresses JSON file (or the JSON itself); ``manifest`` a devnet
    manifest, which supplies whatever of the others is left empty.
    """

    rpc_url: str = ""
    chain_id: int | None = None
    addresses: str = ""
    manifest: Path | None = None

    def chain_config(self, *, deploy_block: int | None = None) -> ChainConfig:
        prefix = str(self.model_config.get("env_prefix", ""))
        return load_chain_config(
            rpc_url=self.rpc_url,
            chain_id=self.chain_id,
            addresses=self.addresses or None,
            manifest=self.manifest,
            deploy_block=deploy_block,
            env_prefix=prefix,
        )
