"""Enclava's deployed contracts as web3.py objects: ABI from brownie's build artifacts, address
from the devnet manifest (or any mapping of name → address for another chain)."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from web3 import Web3
from web3.contract import Contract

from enclava.chain.types import CONTRACT_NAMES, OPTIONAL_CONTRACT_NAMES
from enclava.errors import ChainError, ConfigError
from enclava.paths import project_root

__all__ = ["load_abi", "ContractSet", "CONTRACT_NAMES", "OPTIONAL_CONTRACT_NAMES"]


@lru_cache(maxsize=None)
def _artifact(name: str, build_dir: str) -> dict[str, Any]:
    path = Path(build_dir) / "contracts" / f"{name}.json"
    try:
        artifact: dict[str, Any] = json.loads(path.read_text())  # brownie's build artifact
    except FileNotFoundError as exc:
        raise ConfigError(
            f"no compiled artifact for {name} at {path}", hint="Run `make compile`."
        ) from exc
    return artifact


def load_abi(name: str, build_dir: Path | None = None) -> list[dict[str, Any]]:
    abi: list[dict[str, Any]] = _artifact(name, str(build_dir or project_root() / "build"))["abi"]
    return abi


class ContractSet:
    """Bound contract objects, e.g. ``contracts.marketplace.functions.createOrder(...)``.

    The four of :data:`CONTRACT_NAMES` are required; those of :data:`OPTIONAL_CONTRACT_NAMES`
    are bound when ``addresses`` names them (:attr:`service_market` says what to do otherwise).
    """

    def __init__(self, w3: Web3, addresses: dict[str, str], build_dir: Path | None = None) -> None:
        missing = [name for name in CONTRACT_NAMES if name not in addresses]
        if missing:
            raise ChainError(
                f"contract addresses missing: {', '.join(missing)}",
                hint="Deploy the contracts (`enclava devnet up` does) and use its manifest.",
            )
        self.w3 = w3
        self.addresses = {name: Web3.to_checksum_address(addr) for name, addr in addresses.items()}
        self._contracts: dict[str, Contract] = {
            name: w3.eth.contract(address=self.addresses[name], abi=load_abi(name, build_dir))
            for name in (*CONTRACT_NAMES, *OPTIONAL_CONTRACT_NAMES)
            if name in self.addresses
        }

    @property
    def provider_registry(self) -> Contract:
        return self._contracts["ProviderRegistry"]

    @property
    def resource_registry(self) -> Contract:
        return self._contracts["ResourceRegistry"]

    @property
    def attestation_registry(self) -> Contract:
        return self._contracts["AttestationRegistry"]

    @property
    def marketplace(self) -> Contract:
        return self._contracts["Marketplace"]

    @property
    def has_service_market(self) -> bool:
        """Whether this deployment names a ServiceMarket."""
        return "ServiceMarket" in self._contracts

    @property
    def service_market(self) -> Contract:
        """ServiceMarket (confidential serving); a ChainError when this deployment has none."""
        contract = self._contracts.get("ServiceMarket")
        if contract is None:
            raise ChainError(
                "this deployment names no ServiceMarket contract",
                hint="Redeploy with scripts/deploy.py (it deploys ServiceMarket after the four) "
                'and add its "ServiceMarket" address to the addresses file or manifest.',
            )
        return contract
