"""The service enclave's own settings (``LOADER_SERVING_*``), given by the host.

Nothing here is trusted for security: the host names only go into the TLS certificate (a wrong
one makes the service unreachable, not unsafe), and the one switch that loosens isolation,
``insecure_unsandboxed_engine``, defaults to strict and is named for what it relaxes.
"""

from __future__ import annotations

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["ServingSettings"]


class ServingSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LOADER_SERVING_", extra="forbid")

    #: Host names and IP addresses customers reach the service at (the certificate's SAN).
    hosts: tuple[str, ...] = Field(min_length=1)
    #: Where the HTTPS server listens inside the CVM (the host forwards TCP to it).
    bind_host: str = "0.0.0.0"
    port: int = Field(default=8443, ge=0, le=65535)
    #: The chain the service lives on and its ServiceMarket (the vouchers' EIP-712 domain).
    chain_id: int = Field(ge=1)
    service_market: str = Field(pattern=r"^0x[0-9a-fA-F]{40}$")
    #: The name the model is served under (``model`` in requests, ``/v1/models``, the statement).
    model_name: str = Field(min_length=1, max_length=128)
    #: Responses a customer may have unvouched at once, the one being admitted included.
    credit_responses: int = Field(default=1, ge=1, le=64)
    engine_memory_mb: int = Field(default=8192, ge=256)
    #: CPU threads of the engine (0: all cores but one).
    engine_threads: int = Field(default=0, ge=0)
    engine_startup_timeout_s: float = Field(default=600.0, gt=0)
    #: Extra arguments of ``engines.chat_server`` (e.g. ``--max-batch 16``).
    engine_args: tuple[str, ...] = ()
    #: Development only: run the engine as a plain child process, outside the sandbox (no root).
    insecure_unsandboxed_engine: bool = False
    scratch_root: str = ""

    @field_validator("model_name")
    @classmethod
    def _printable(cls, value: str) -> str:
        if not value.isprintable() or value.strip() != value:
            raise ValueError("the model name is printable text without surrounding spaces")
        return value
