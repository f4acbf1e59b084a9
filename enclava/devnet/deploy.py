"""Deploy the contracts onto a devnet with the project's brownie script (``scripts/deploy.py``).

Brownie manages networks in its own global config; the devnet registers itself there as a live
network named ``enclava-<devnet>`` pointing at its anvil, then runs the deploy script with the
deployer's devnet key. A machine-wide lock serialises this, since brownie's config file is shared.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

from enclava.chain.config import Manifest
from enclava.devnet.accounts import dev_account
from enclava.devnet.measurements import devnet_allowed_digests
from enclava.errors import DevnetError
from enclava.paths import project_root

__all__ = ["deploy_available", "deploy_contracts", "brownie_network_id"]


def brownie_network_id(devnet: str) -> str:
    return f"enclava-{devnet}"


def _brownie(
    *args: str, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(project_root() / "scripts" / "brownie.sh"), *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=timeout,
    )


def deploy_available() -> bool:
    return (project_root() / "scripts" / "deploy.py").exists()


def deploy_contracts(manifest: Manifest) -> dict[str, Any]:
    """Run scripts/deploy.py against the devnet; returns its JSON (``{}`` without a script)."""
    root = project_root()
    if not deploy_available():
        return {}
    network = brownie_network_id(manifest.name)
    out = Path(manifest.state_dir) / "deployment.json"
    out.unlink(missing_ok=True)
    (root / "build").mkdir(exist_ok=True)
    # one lock per project checkout (not per devnet home): every devnet deploys from this build
    # folder
    with open(root / "build" / ".deploy.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        # brownie records live deployments per chain id and reloads them on connect; every devnet is
        # a fresh chain with the same id, so earlier records would point at missing contracts
        shutil.rmtree(root / "build" / "deployments", ignore_errors=True)
        settings = [f"host={manifest.rpc_url}", f"chainid={manifest.chain_id}"]
        if _brownie("networks", "modify", network, *settings).returncode != 0:
            added = _brownie("networks", "add", "Ethereum", network, *settings)
            if added.returncode != 0:
                raise DevnetError(
                    f"could not register brownie network {network}: {added.stdout[-500:]}"
                )
        result = _brownie(
            "run",
            "scripts/deploy.py",
            "--network",
            network,
            env={
                "ENCLAVA_DEPLOYER_KEY": dev_account("deployer").key.hex(),
                "ENCLAVA_DEPLOY_OUT": str(out),
                "ENCLAVA_INSECURE_ALLOW_SIMULATED_TEE": "1",
                "ENCLAVA_CA_SIGNERS": dev_account("ca").address,
                "ENCLAVA_SIMULATED_MEASUREMENTS": ",".join(devnet_allowed_digests()),
            },
        )
        shutil.rmtree(
            root / "build" / "deployments", ignore_errors=True
        )  # leave no record to go stale
    if result.returncode != 0 or not out.exists():
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-15:])
        raise DevnetError(
            f"contract deployment failed:\n{tail}",
            hint="Run `make compile` and read the error above.",
        )
    deployment: dict[str, Any] = json.loads(out.read_text())  # scripts/deploy.py's manifest
    return deployment
