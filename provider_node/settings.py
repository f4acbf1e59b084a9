"""Provider node settings: a config file, overridden by ``PROVIDER_*`` environment variables."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict

from enclava.errors import ConfigError

__all__ = ["ProviderSettings", "load_settings"]


class ProviderSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PROVIDER_", extra="forbid")

    #: Redis URL of the Celery broker and result backend; empty means "the devnet's".
    redis_url: str = ""
    devnet: str = "default"

    def resolved_redis_url(self) -> str:
        if self.redis_url:
            return self.redis_url
        from enclava.devnet import load_manifest

        return load_manifest(self.devnet).redis_url


def load_settings(**overrides: str) -> ProviderSettings:
    try:
        return ProviderSettings(**overrides)
    except ValueError as exc:
        raise ConfigError(f"invalid provider settings: {exc}") from exc
