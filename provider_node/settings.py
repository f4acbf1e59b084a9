"""Provider node settings: a TOML file (``provider-node run --config FILE``), overridden by
``PROVIDER_*`` environment variables. Empty endpoints mean "the local devnet's"."""

from __future__ import annotations

import json
import os
import tomllib
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import (
    BaseModel,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from enclava.chain.config import ChainConfig, ChainSettings, Manifest, load_manifest
from enclava.errors import ConfigError
from provider_node.errors import ProviderWalletInvalid

if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount
from enclava.protocol.tee import TeeWireName, encode_gpu_class

__all__ = ["ProviderSettings", "TeeOfferConfig", "load_settings", "CONFIG_ENV"]

#: Workers started by the node find the node's config file through this variable.
CONFIG_ENV = "ENCLAVA_PROVIDER_CONFIG"


class TeeOfferConfig(BaseModel):
    tee_type: TeeWireName = "simulated"
    #: "cpu" promises no GPU; any other label promises a GPU of exactly that class (e.g. "H100"),
    #: and only an enclave the CA certified with that GPU may serve the offer's orders
    gpu_class: str = Field(default="cpu", max_length=32)
    price_per_second: int = Field(default=10**9, ge=0, lt=2**96)
    slots: int = Field(default=2, ge=1, le=65535)

    @field_validator("gpu_class")
    @classmethod
    def _chain_label(cls, value: str) -> str:
        encode_gpu_class(value)  # ASCII, no zero byte: what the chain stores comes back unchanged
        return value


def _addresses_json(table: Any) -> str:
    return json.dumps(dict(table)) if table else ""


#: old key -> (new key, how its value converts, the deprecation notice)
_RENAMED: dict[str, tuple[str, Callable[[Any], Any], str]] = {
    "insecure_simulated_tee": (
        "insecure_allow_simulated_tee",
        lambda value: value,
        "insecure_simulated_tee is deprecated: use insecure_allow_simulated_tee "
        "(PROVIDER_INSECURE_ALLOW_SIMULATED_TEE)",
    ),
    "offers": (
        "tee_offers",  # a *TEE offer* is provider capacity, a *resource* what owners list
        lambda value: value,
        "[[offers]] is deprecated: name the table [[tee_offers]]",
    ),
    "contracts": (
        "addresses",  # every service's field: an addresses JSON file, or the JSON itself
        _addresses_json,
        "the [contracts] table is deprecated: set addresses to an addresses JSON file "
        "(PROVIDER_ADDRESSES), as for every Enclava service",
    ),
}


class ProviderSettings(ChainSettings, BaseSettings):
    """The chain fields (``rpc_url``, ``chain_id``, ``addresses``: an addresses JSON file or the
    JSON itself, ``manifest``) are :class:`enclava.chain.config.ChainSettings`'s, as for every
    service; left empty, they come from the devnet named by ``devnet``."""

    model_config = SettingsConfigDict(env_prefix="PROVIDER_", extra="forbid")

    name: str = Field(default="provider", pattern=r"^[a-z0-9][a-z0-9-]{0,40}$")
    devnet: str = "default"
    #: The RPC node the trusted loader reads the chain through (default: ``rpc_url``). The loader
    #: trusts none of its answers beyond what the order id commits to.
    loader_rpc_url: str = ""
    ipfs_api: str = ""
    redis_url: str = ""
    ca_url: str = ""
    deploy_block: int = 0
    #: The provider wallet, one of: ``wallet``, the name of a keystore made by `enclava wallet new`
    #: (in ``$ENCLAVA_HOME/wallets``, else ``~/.config/enclava/wallets``) opened with
    #: ``PROVIDER_WALLET_PASSWORD`` or the first line of ``wallet_password_file``; or
    #: ``private_key`` (hex, ``PROVIDER_PRIVATE_KEY``); or neither: (devnet only) ``dev_role``.
    wallet: str = ""
    wallet_password: SecretStr | None = None
    wallet_password_file: str = ""
    private_key: SecretStr | None = None
    dev_role: str = "provider"
    stake_wei: int = Field(default=10**18, ge=0)
    tee_offers: list[TeeOfferConfig] = Field(default_factory=lambda: [TeeOfferConfig()])
    #: SQLAlchemy URL of the job table and block cursor; empty = SQLite in ``state_dir``.
    database_url: str = ""
    state_dir: str = ""
    poll_interval_s: float = Field(default=1.0, gt=0)
    max_attempts: int = Field(default=3, ge=1, le=20)
    lease_s: int = Field(default=60, ge=5)
    #: Fail an in-flight order cleanly when less than this remains before its deadline.
    deadline_margin_s: int = Field(default=30, ge=0)
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=0, ge=0, le=65535)
    tee: TeeWireName = "simulated"
    #: Development only (``PROVIDER_INSECURE_ALLOW_SIMULATED_TEE``, default off): let the loader
    #: attest with the simulated TEE, whose evidence only a CA with its own insecure flag accepts.
    insecure_allow_simulated_tee: bool = False
    #: The CVM's confidential GPUs, attested with the CPU (``LOADER_GPU``): ``none``, ``nvml`` (a
    #: real host), or ``simulated`` (development only: ``tee = "simulated"`` and the switch above;
    #: GPUs of class ``simulated_gpu_class``).
    loader_gpu: Literal["none", "simulated", "nvml"] = "none"
    simulated_gpu_class: str = Field(default="H100", min_length=1, max_length=32)

    @model_validator(mode="before")
    @classmethod
    def _deprecated_keys(cls, data: Any) -> Any:
        """Keys renamed by the vocabulary and settings work still work for one release, each with
        a deprecation warning (:data:`_RENAMED`): the value moves to its new key unless that one is
        given too."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        for old, (new, convert, notice) in _RENAMED.items():
            if old in data:
                # FutureWarning is shown by default: the user's config needs the change
                warnings.warn(notice, FutureWarning, stacklevel=2)
                data.setdefault(new, convert(data.pop(old)))
        return data

    @model_validator(mode="after")
    def _one_wallet(self) -> "ProviderSettings":
        """The wallet is named once: a keystore with a password source, or a raw key."""
        if self.wallet and self.private_key is not None:
            raise ValueError("give wallet or private_key, not both")
        if self.wallet and self.wallet_password is None and not self.wallet_password_file:
            raise ValueError(
                f"wallet {self.wallet!r} needs its password: set PROVIDER_WALLET_PASSWORD or "
                "wallet_password_file"
            )
        return self

    scratch_root: str = ""
    concurrency: int = Field(default=2, ge=1, le=64)

    def _manifest(self) -> Manifest:
        return load_manifest(self.devnet)

    def chain_config(self, *, deploy_block: int | None = None) -> ChainConfig:
        """The chain these settings reach (:func:`resolved` first fills it from the devnet)."""
        block = self.deploy_block if deploy_block is None else deploy_block
        return super().chain_config(deploy_block=block or None)

    def resolved(self) -> "ProviderSettings":
        """A copy with every empty endpoint filled from the devnet's manifest."""
        needs = not all([self.rpc_url, self.ipfs_api, self.redis_url, self.ca_url, self.addresses])
        if not needs:
            return self
        manifest = self._manifest()
        return self.model_copy(
            update={
                "rpc_url": self.rpc_url or manifest.rpc_url,
                "ipfs_api": self.ipfs_api or manifest.ipfs_api,
                "redis_url": self.redis_url or manifest.redis_url,
                "ca_url": self.ca_url or manifest.services["ca"].url,
                "addresses": self.addresses or json.dumps(dict(manifest.contracts)),
                "deploy_block": self.deploy_block or int(manifest.deploy_block or 0),
                "chain_id": manifest.chain_id if self.chain_id is None else self.chain_id,
                "state_dir": self.state_dir
                or str(Path(manifest.state_dir) / f"provider-{self.name}"),
            }
        )

    @property
    def queue_name(self) -> str:
        return f"enclava-{self.name}"

    def resolved_redis_url(self) -> str:
        return self.redis_url or self._manifest().redis_url

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        folder = Path(self.state_dir or ".")
        folder.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{folder / 'provider-node.db'}"

    def account(self) -> LocalAccount:
        """The provider's signing account: the keystore ``wallet``, the raw ``private_key``, or
        (devnet only) the dev account of ``dev_role``."""
        if self.wallet:
            return self._unlock_wallet()
        if self.private_key is not None:
            from eth_account import Account

            account: LocalAccount = Account.from_key(self.private_key.get_secret_value())
            return account
        from enclava.devnet import dev_account

        return dev_account(self.dev_role)

    def _unlock_wallet(self) -> LocalAccount:
        from enclava.wallet import WrongPassword, unlock

        try:
            return unlock(self.wallet, self._wallet_password())
        except WrongPassword as exc:
            raise WrongPassword(
                exc.message,
                hint="Set PROVIDER_WALLET_PASSWORD, or wallet_password_file, to the password "
                f"`enclava wallet new --wallet {self.wallet}` was given.",
            ) from exc

    def _wallet_password(self) -> str:
        if self.wallet_password is not None:
            return self.wallet_password.get_secret_value()
        path = Path(self.wallet_password_file).expanduser()
        try:
            lines = path.read_text().splitlines()
        except OSError as exc:
            raise ProviderWalletInvalid(
                f"cannot read the wallet password file {path}: {type(exc).__name__}"
            ) from exc
        return lines[0] if lines else ""


def load_settings(config: str | Path | None = None, **overrides: Any) -> ProviderSettings:
    """Settings from ``config`` (or ``$ENCLAVA_PROVIDER_CONFIG``), then the environment, then
    ``overrides``."""
    path = config or os.environ.get(CONFIG_ENV)
    data: dict[str, Any] = {}
    if path:
        try:
            data = tomllib.loads(Path(path).read_text())
        except FileNotFoundError as exc:
            raise ConfigError(
                f"no provider config at {path}", hint="Pass --config with an existing TOML file."
            ) from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path} is not valid TOML: {exc}") from exc
    env = {
        k[len("PROVIDER_") :].lower(): v for k, v in os.environ.items() if k.startswith("PROVIDER_")
    }
    try:
        return ProviderSettings(**{**data, **env, **overrides})
    except ValidationError as exc:
        raise ConfigError(f"invalid provider settings: {exc}") from exc
