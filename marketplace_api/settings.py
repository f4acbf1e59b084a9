"""Marketplace API settings: ``MARKET_*`` environment variables. Security loosening is opt-in.

``MARKET_SIWE_DOMAIN`` and ``MARKET_SIWE_URI`` are required: :func:`check_settings` (called when the
app
is built) refuses to start without them, so sign-in never falls back to what a request's Host says.
"""

from __future__ import annotations

import re

import httpx
from pydantic_settings import BaseSettings, SettingsConfigDict

from enclava.chain.config import ChainSettings
from marketplace_api.errors import SiweNotConfigured

__all__ = ["MarketSettings", "check_settings"]

_DOMAIN = re.compile(r"^[A-Za-z0-9.-]+(:[0-9]{1,5})?$|^\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?$")


class MarketSettings(ChainSettings, BaseSettings):
    """The API's settings; the chain fields (``MARKET_RPC_URL``, ``MARKET_CHAIN_ID``,
    ``MARKET_ADDRESSES``, ``MARKET_MANIFEST``) are :class:`enclava.chain.config.ChainSettings`'s."""

    model_config = SettingsConfigDict(env_prefix="MARKET_", env_file=None, extra="forbid")

    #: SQLAlchemy URL of the index and the sessions (PostgreSQL works: postgresql+psycopg://...)
    database_url: str = "sqlite:///marketplace.sqlite"
    #: first block the indexer reads (0: the deployment block the chain settings name)
    start_block: int = 0
    #: key of the account that pays for relayed listings (hex); empty disables the relay
    relayer_key: str = ""
    #: HMAC key of session tokens; empty means a random key per process (sessions end on restart)
    session_secret: str = ""
    session_ttl_s: int = 12 * 3600
    #: the cookie is sent only over HTTPS unless this is relaxed (local development over HTTP)
    insecure_http_cookies: bool = False
    #: EIP-4361 domain (host[:port]) and URI that sign-in messages must name; both required
    siwe_domain: str = ""
    siwe_uri: str = ""
    siwe_nonce_ttl_s: int = 600
    #: origins allowed by CORS (JSON list in the environment)
    cors_origins: list[str] = []
    #: per-client-IP token bucket: burst size and refill rate; 0 burst disables the limit
    rate_limit_burst: int = 60
    rate_limit_per_s: float = 20.0
    #: peers (addresses or CIDR networks, JSON list) whose X-Forwarded-For / -Proto are believed;
    #: empty: none
    trusted_proxies: list[str] = []
    #: devnet only: let a listing's tail_url be plain http on a loopback address (never private or
    #: other hosts)
    insecure_allow_loopback_tail: bool = False
    #: the background indexer: on/off, poll interval and blocks per batch
    indexer_enabled: bool = True
    index_interval_s: float = 1.0
    index_batch_blocks: int = 2000
    #: where the web pages' links to the CA and IPFS gateway point (informational)
    ipfs_gateway: str = ""
    #: the CA whose audit log owners read through their resource page (``/resources/{id}/audit``);
    #: empty: the CA the manifest names (``MARKET_MANIFEST``)
    ca_url: str = ""
    #: devnet only: accept a CA whose evidence comes from the simulated TEE (no hardware)
    insecure_allow_simulated_ca: bool = False


def check_settings(settings: MarketSettings) -> None:
    """Refuse to start without what security depends on (raises a typed :class:`ConfigError`)."""
    if not settings.siwe_domain or not _DOMAIN.match(settings.siwe_domain):
        raise SiweNotConfigured(
            f"MARKET_SIWE_DOMAIN is {settings.siwe_domain!r}: the marketplace needs the domain "
            "(host[:port], no scheme or path) that sign-in messages must name"
        )
    try:
        uri = httpx.URL(settings.siwe_uri)
    except httpx.InvalidURL:
        uri = None
    if uri is None or uri.scheme not in ("http", "https") or not uri.host:
        raise SiweNotConfigured(
            f"MARKET_SIWE_URI is {settings.siwe_uri!r}: the marketplace needs the absolute "
            "http(s) URI that sign-in messages must name"
        )
