"""The local devnet: real anvil, Kubo and Redis processes, described by a JSON manifest."""

from enclava.chain.config import DEFAULT_DEVNET, Manifest, ServiceRecord, load_manifest
from enclava.devnet.accounts import DEV_MNEMONIC, ROLES, dev_account
from enclava.devnet.orchestrator import (
    devnet_names,
    down,
    forget_service,
    log_file,
    record_service,
    state_dir,
    status,
    up,
)

__all__ = [
    "DEFAULT_DEVNET",
    "DEV_MNEMONIC",
    "ROLES",
    "Manifest",
    "ServiceRecord",
    "dev_account",
    "devnet_names",
    "down",
    "forget_service",
    "load_manifest",
    "log_file",
    "record_service",
    "state_dir",
    "status",
    "up",
]
