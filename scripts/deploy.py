"""Deploy the Enclava contracts to any brownie network.

    bash scripts/brownie.sh run scripts/deploy.py [--network <id>]

Deploys ProviderRegistry, ResourceRegistry, AttestationRegistry and Marketplace (the provider
registry is built for the marketplace's predicted address, which the marketplace checks in its
constructor), then ServiceMarket (confidential serving; it reads the other registries), authorises
CA signers and allow-lists SIMULATED measurements, then optionally hands governance to another
address and writes a manifest.

Environment (all optional):

- ``ENCLAVA_DEPLOYER_KEY``: hex private key of the deployer; required on non-development networks
  (on development networks brownie's ``accounts[0]`` deploys when it is unset).
- ``ENCLAVA_INSECURE_ALLOW_SIMULATED_TEE``: "1" lets the attestation registry accept SIMULATED
  TEEs (development only: the devnet sets it). Defaults to "0" on every network.
- ``ENCLAVA_CA_SIGNERS``: comma-separated CA signer addresses to authorise.
- ``ENCLAVA_SIMULATED_MEASUREMENTS``: comma-separated 0x-hex 32-byte measurements to allow-list
  for SIMULATED (refused unless simulated TEEs are allowed).
- ``ENCLAVA_MIN_STAKE`` (wei, default 1 ether), ``ENCLAVA_UNBONDING_DELAY`` (seconds, default
  7 days), ``ENCLAVA_SLASH_BPS`` (default 2000 = 20 %), ``ENCLAVA_REPORT_GRACE`` (seconds,
  default 3600), ``ENCLAVA_CLOSE_NOTICE`` (seconds a ServiceMarket account stays open for
  settlement after its customer asks to close, default 3600).
- ``ENCLAVA_GOVERNANCE``: address offered governance of the attestation registry (two-step: it
  must call ``acceptOwnership``); the deployer governs until then.
- ``ENCLAVA_DEPLOY_OUT``: path of the JSON manifest to write::

    {"chain_id": 31337, "deployer": "0x..", "block": 1,
     "contracts": {"ProviderRegistry": "0x..", "ResourceRegistry": "0x..",
                   "AttestationRegistry": "0x..", "Marketplace": "0x..",
                   "ServiceMarket": "0x.."},
     "parameters": {...}}

  ``block`` is the block of the first deployment: indexers start reading events there.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import rlp
from brownie import (
    AttestationRegistry,
    Marketplace,
    ProviderRegistry,
    ResourceRegistry,
    ServiceMarket,
    accounts,
    chain,
    network,
)
from eth_utils import keccak, to_checksum_address

SIMULATED = 3
DEFAULTS = {
    "ENCLAVA_MIN_STAKE": 10**18,
    "ENCLAVA_UNBONDING_DELAY": 7 * 24 * 3600,
    "ENCLAVA_SLASH_BPS": 2_000,
    "ENCLAVA_REPORT_GRACE": 3600,
    "ENCLAVA_CLOSE_NOTICE": 3600,
}


class DeployError(Exception):
    """A deployment setting is missing or wrong; the message says which and what to do."""


def main():
    deployment = deploy()
    print(json.dumps(deployment, indent=2))
    out = os.environ.get("ENCLAVA_DEPLOY_OUT")
    if out:
        path = Path(out)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(deployment, indent=2) + "\n")
        print(f"manifest written to {path}")
    return deployment


def deploy(deployer=None) -> dict:
    """Deploys and configures the whole set; returns the manifest (see the module docstring)."""
    deployer = deployer or _deployer()
    allow_simulated = _allow_simulated()
    params = {name: _int_env(name, default) for name, default in DEFAULTS.items()}
    ca_signers = _list_env("ENCLAVA_CA_SIGNERS")
    measurements = _list_env("ENCLAVA_SIMULATED_MEASUREMENTS")
    if measurements and not allow_simulated:
        raise DeployError(
            "ENCLAVA_SIMULATED_MEASUREMENTS is set but simulated TEEs are not allowed; "
            "set ENCLAVA_INSECURE_ALLOW_SIMULATED_TEE=1 (development only)"
        )
    tx = {"from": deployer}

    providers, resources, attestation, marketplace = deploy_contracts(
        deployer,
        min_stake=params["ENCLAVA_MIN_STAKE"],
        unbonding_delay=params["ENCLAVA_UNBONDING_DELAY"],
        slash_bps=params["ENCLAVA_SLASH_BPS"],
        allow_simulated=allow_simulated,
        report_grace=params["ENCLAVA_REPORT_GRACE"],
    )
    first_block = providers.tx.block_number
    service_market = deploy_service_market(
        deployer, providers, resources, attestation, close_notice=params["ENCLAVA_CLOSE_NOTICE"]
    )

    for ca in ca_signers:
        attestation.addCaSigner(ca, tx)
    for measurement in measurements:
        attestation.allowMeasurement(SIMULATED, _bytes32(measurement), tx)
    governance = os.environ.get("ENCLAVA_GOVERNANCE")
    if governance:
        attestation.transferOwnership(governance, tx)

    return {
        "chain_id": chain.id,
        "deployer": deployer.address,
        "block": first_block,
        "contracts": {
            "ProviderRegistry": providers.address,
            "ResourceRegistry": resources.address,
            "AttestationRegistry": attestation.address,
            "Marketplace": marketplace.address,
            "ServiceMarket": service_market.address,
        },
        "parameters": {
            "min_stake": params["ENCLAVA_MIN_STAKE"],
            "unbonding_delay": params["ENCLAVA_UNBONDING_DELAY"],
            "slash_bps": params["ENCLAVA_SLASH_BPS"],
            "report_grace_period": params["ENCLAVA_REPORT_GRACE"],
            "close_notice": params["ENCLAVA_CLOSE_NOTICE"],
            "allow_simulated": allow_simulated,
            "ca_signers": ca_signers,
            "simulated_measurements": measurements,
            "pending_governance": governance or None,
        },
    }


def deploy_contracts(
    deployer, *, min_stake, unbonding_delay, slash_bps, allow_simulated, report_grace
):
    """Deploys the four contracts in a fixed order.

    Returns ``(providers, resources, attestation, marketplace)``.

    The provider registry takes its marketplace at construction, so the marketplace's address is
    predicted from the deployer's nonce (it is the fourth contract created from here); the
    marketplace's constructor reverts if the registry names another address.
    """
    tx = {"from": deployer}
    predicted = create_address(deployer.address, deployer.nonce + 3)
    providers = ProviderRegistry.deploy(min_stake, unbonding_delay, slash_bps, predicted, tx)
    resources = ResourceRegistry.deploy(tx)
    attestation = AttestationRegistry.deploy(deployer, allow_simulated, tx)
    marketplace = Marketplace.deploy(providers, resources, attestation, report_grace, tx)
    return providers, resources, attestation, marketplace


def deploy_service_market(deployer, providers, resources, attestation, *, close_notice):
    """Deploys ServiceMarket over the deployed registries (after the four: it changes none of them,
    so nothing predicts its address)."""
    return ServiceMarket.deploy(providers, resources, attestation, close_notice, {"from": deployer})


def create_address(sender: str, nonce: int) -> str:
    """The address of the contract that ``sender`` creates with ``nonce`` (the CREATE rule)."""
    return to_checksum_address(
        keccak(rlp.encode([bytes.fromhex(sender.removeprefix("0x")), nonce]))[12:]
    )


def _is_development() -> bool:
    return (
        network.is_connected()
        and network.show_active() in ("development", "anvil")
        or _network_type() == "development"
    )


def _network_type() -> str | None:
    from brownie._config import CONFIG

    return CONFIG.network_type


def _deployer():
    key = os.environ.get("ENCLAVA_DEPLOYER_KEY")
    if key:
        return accounts.add(key if key.startswith("0x") else "0x" + key)
    if _is_development():
        return accounts[0]
    raise DeployError(
        f"network {network.show_active()!r} is not a development network: "
        "set ENCLAVA_DEPLOYER_KEY to the deployer's hex private key"
    )


def _allow_simulated() -> bool:
    value = os.environ.get("ENCLAVA_INSECURE_ALLOW_SIMULATED_TEE", "0")
    if value not in ("0", "1"):
        raise DeployError(f"ENCLAVA_INSECURE_ALLOW_SIMULATED_TEE must be 0 or 1, not {value!r}")
    return value == "1"


def _int_env(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value, 0)
    except ValueError:
        raise DeployError(f"{name} must be an integer, not {value!r}") from None


def _list_env(name: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, "").split(",") if item.strip()]


def _bytes32(value: str) -> bytes:
    raw = bytes.fromhex(value.removeprefix("0x"))
    if len(raw) != 32:
        raise DeployError(f"measurement {value!r} is not 32 bytes of hex")
    return raw
