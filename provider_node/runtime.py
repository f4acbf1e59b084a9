"""Everything a node or worker process talks to, built once per process from the settings."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from eth_account.messages import encode_defunct

from certification_authority.authority import provider_consent_message
from enclava.chain.market import MarketClient
from enclava.chain.client import ChainClient
from enclava.chain.contracts import ContractSet
from enclava.errors import ConfigError
from enclava.storage.content_store import IpfsContentStore
from provider_node.jobs import JobStore
from provider_node.settings import ProviderSettings
from trusted_loader.ca_client import CaClient
from trusted_loader.enclave import CertifiedEnclave, certify_enclave
from trusted_loader.pipeline import LoaderContext

__all__ = ["Runtime"]


def _attester(settings: ProviderSettings):
    if settings.tee == "simulated":
        if not settings.insecure_simulated_tee:
            raise ConfigError("tee = 'simulated' needs insecure_simulated_tee = true (development only)")
        from enclava.attestation.simulated import SimulatedTdxAttester
        from enclava.devnet.measurements import DEV_LOADER_MEASUREMENT

        measurement = bytes.fromhex(settings.simulated_measurement) if settings.simulated_measurement \
            else DEV_LOADER_MEASUREMENT
        return SimulatedTdxAttester(measurement)
    from enclava.attestation.hardware import ConfigfsSevSnpAttester, ConfigfsTdxAttester, PccsCollateralSource

    return ConfigfsTdxAttester(PccsCollateralSource()) if settings.tee == "tdx" else ConfigfsSevSnpAttester()


@dataclass
class Runtime:
    settings: ProviderSettings

    @classmethod
    def build(cls, settings: ProviderSettings) -> "Runtime":
        return cls(settings.resolved())

    @cached_property
    def account(self):
        return self.settings.account()

    @cached_property
    def market(self) -> MarketClient:
        chain = ChainClient(self.settings.rpc_url)
        return MarketClient(chain, ContractSet(chain.w3, self.settings.contracts), from_block=self.settings.deploy_block)

    @cached_property
    def store(self) -> IpfsContentStore:
        return IpfsContentStore(self.settings.ipfs_api)

    @cached_property
    def ca(self) -> CaClient:
        return CaClient(self.settings.ca_url)

    @cached_property
    def jobs(self) -> JobStore:
        return JobStore(self.settings.resolved_database_url())

    @cached_property
    def _enclave_lock(self) -> threading.Lock:
        return threading.Lock()

    _enclave: CertifiedEnclave | None = None

    def consent(self, enclave_address: str, nonce_hex: str) -> str:
        """The provider vouches that this enclave runs on its machine (the CA requires it)."""
        message = provider_consent_message(enclave_address, nonce_hex)
        return "0x" + bytes(self.account.sign_message(encode_defunct(text=message)).signature).hex()

    def enclave(self) -> CertifiedEnclave:
        """This process's certified enclave identity, re-certified shortly before it expires."""
        with self._enclave_lock:
            if self._enclave is None or not self._enclave.fresh():
                self._enclave = certify_enclave(self.ca, _attester(self.settings), provider=self.account.address,
                                                consent=self.consent)
            return self._enclave

    def loader_context(self) -> LoaderContext:
        scratch = Path(self.settings.scratch_root) if self.settings.scratch_root else None
        return LoaderContext(market=self.market, store=self.store, ca=self.ca, enclave=self.enclave,
                             provider=self.account.address, scratch_root=scratch)
