"""Marketplace API settings: ``MARKET_*`` environment variables. Security loosening is opt-in."""

from __future__ import annotations

from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["MarketSettings"]


class MarketSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MARKET_", env_file=None, extra="forbid")

    #: SQLAlchemy URL of the index and the sessions (PostgreSQL works: postgresql+psycopg://...)
    database_url: str = "sqlite:///marketplace.sqlite"
    #: chain access: a devnet manifest (RPC URL + contract addresses + deploy block) ...
    manifest: Path | None = None
    #: ... or an RPC URL and the four addresses as JSON ({"Marketplace": "0x..", ...})
    rpc_url: str = ""
    contracts_json: str = ""
    start_block: int = 0
    #: key of the account that pays for relayed listings (hex); empty disables the relay
    relayer_key: str = ""
    #: HMAC key of session tokens; empty means a random key per process (sessions end on restart)
    session_secret: str = ""
    session_ttl_s: int = 12 * 3600
    #: the cookie is sent only over HTTPS unless this is relaxed (local development over HTTP)
    insecure_http_cookies: bool = False
    #: EIP-4361 domain and URI that sign-in messages must name; empty domain accepts the Host header
    siwe_domain: str = ""
    siwe_nonce_ttl_s: int = 600
    #: origins allowed by CORS (JSON list in the environment)
    cors_origins: list[str] = []
    #: per-client-IP token bucket: burst size and refill rate; 0 burst disables the limit
    rate_limit_burst: int = 60
    rate_limit_per_s: float = 20.0
    #: the background indexer: on/off, poll interval and blocks per batch
    indexer_enabled: bool = True
    index_interval_s: float = 1.0
    index_batch_blocks: int = 2000
    #: where the web pages' links to the CA and IPFS gateway point (informational)
    ipfs_gateway: str = ""
