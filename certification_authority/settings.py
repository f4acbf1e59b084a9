"""CA settings: ``CA_*`` environment variables (or a .env file). Security loosening is opt-in."""

from __future__ import annotations

from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

from enclava.chain.config import ChainSettings

__all__ = ["CaSettings"]


class CaSettings(ChainSettings, BaseSettings):
    """The CA's settings; the chain fields (``CA_RPC_URL``, ``CA_CHAIN_ID``, ``CA_ADDRESSES``,
    ``CA_MANIFEST``) are :class:`enclava.chain.config.ChainSettings`'s: an RPC URL with an
    addresses file reaches any EVM chain, a devnet manifest the local devnet."""

    model_config = SettingsConfigDict(env_prefix="CA_", env_file=None, extra="forbid")

    ca_id: str = "enclava-ca"
    #: folder for the sealed keys, the CA and TLS certificates and the SQLite database
    state_dir: Path = Path(".enclava-ca")
    #: SQLAlchemy URL; empty means SQLite in ``state_dir``
    database_url: str = ""
    #: simulated-TEE sealing key file; on hardware the key comes from the TEE instead
    sealing_key_file: Path | None = None
    #: accept evidence from the simulated TEE (development only; certificates are marked simulated)
    insecure_allow_simulated_tee: bool = False
    certificate_lifetime_s: int = 3600
    nonce_ttl_s: int = 300
    #: secp256k1 key imported as the CA signer on first start (devnet only; otherwise generated)
    signer_key: str = ""
    #: comma-separated wallet addresses whose EIP-191 signature may revoke certificates and
    #: enclaves;
    #: empty (the default) means nobody may (the devnet sets its deployer / governance account)
    admin_addresses: str = ""
    #: comma-separated host names or IP addresses its TLS certificate names besides 127.0.0.1 and
    #: localhost (the CA serves HTTPS only; clients pin the key its evidence binds, not the name)
    tls_hostnames: str = ""

    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.state_dir / 'ca.sqlite').resolve()}"
