"""The trusted loader's own settings (``LOADER_*``), separate from the provider node's.

Everything here comes from the host, so nothing here is trusted for security: endpoints are only
where to ask (every answer is checked against the order id, the CA's attestation and its
signature), and the one switch that loosens a check, ``insecure_allow_simulated_tee``, defaults
to strict and is named for what it relaxes. The provider's wallet is not a loader setting: it
never enters this process.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from enclava.chain.config import ChainConfig, ChainSettings
from enclava.protocol.tee import TeeWireName, is_gpu_class

__all__ = ["LoaderSettings"]


class LoaderSettings(ChainSettings, BaseSettings):
    """The chain fields (``LOADER_RPC_URL``, ``LOADER_CHAIN_ID``, ``LOADER_ADDRESSES``) are
    :class:`enclava.chain.config.ChainSettings`'s, as for every service."""

    model_config = SettingsConfigDict(env_prefix="LOADER_", extra="forbid")

    #: The local socket the provider node talks to (the loader's only interface).
    socket: str
    #: The provider this CVM serves: the loader runs only its orders, and its certificate names it.
    provider: str = Field(pattern=r"^0x[0-9a-fA-F]{40}$")
    ipfs_api: str
    #: The CA, https only; its TLS key is pinned after its attestation is verified.
    ca_url: str
    deploy_block: int = Field(default=0, ge=0)
    tee: TeeWireName = "simulated"
    #: Development only: attest with the simulated TEE and accept a CA whose evidence is simulated.
    insecure_allow_simulated_tee: bool = False
    #: The CVM's confidential GPUs: ``none``; ``nvml`` (a real host: NVIDIA's driver collects each
    #: GPU's SPDM evidence); ``simulated`` (development only: needs ``tee=simulated`` and the
    #: insecure flag; GPUs of class ``simulated_gpu_class`` under a development root).
    gpu: Literal["none", "simulated", "nvml"] = "none"
    simulated_gpu_class: str = "H100"
    #: Optional: the CA signer address this loader expects (checked against the CA's attested
    #: identity).
    ca_signer: str = ""
    scratch_root: str = ""

    @field_validator("ca_url")
    @classmethod
    def _https(cls, value: str) -> str:
        if not value.startswith("https://"):
            raise ValueError(
                "the CA URL must be https:// (the loader pins the CA's attested TLS key)"
            )
        return value

    @field_validator("simulated_gpu_class")
    @classmethod
    def _gpu_class(cls, value: str) -> str:
        if not is_gpu_class(value):
            raise ValueError("a GPU class is 1 to 32 printable ASCII characters, e.g. H100")
        return value

    def chain_config(self, *, deploy_block: int | None = None) -> ChainConfig:
        """The chain these settings name (``addresses``: an addresses JSON, or a file holding
        one)."""
        return super().chain_config(deploy_block=deploy_block or self.deploy_block or None)
