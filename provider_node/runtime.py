"""Everything a node or worker process talks to, built once per process from the settings.

The trusted loader is not part of this process: :attr:`Runtime.loader` starts it as its own program
(the CVM boundary) and talks to it through enclava.protocol.loader_api. This process holds the
provider's wallet; the loader holds the enclave's keys; neither ever holds the other's.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from enclava.chain.market import MarketClient
from enclava.errors import ConfigError
from enclava.protocol.consent import sign_enclave_consent

if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount
from provider_node.jobs import JobStore
from provider_node.loader_link import LoaderLink
from provider_node.settings import ProviderSettings

__all__ = ["Runtime"]


@dataclass
class Runtime:
    settings: ProviderSettings

    @classmethod
    def build(cls, settings: ProviderSettings) -> "Runtime":
        if settings.tee == "simulated" and not settings.insecure_allow_simulated_tee:
            raise ConfigError(
                "PROVIDER_TEE=simulated needs PROVIDER_INSECURE_ALLOW_SIMULATED_TEE=true",
                hint="The simulated TEE is for development only; use tdx or sev-snp on hardware "
                "(the devnet's provider config sets the flag).",
            )
        return cls(settings.resolved())

    @cached_property
    def account(self) -> LocalAccount:
        return self.settings.account()

    @cached_property
    def market(self) -> MarketClient:
        return MarketClient.from_config(self.settings.chain_config())

    @cached_property
    def jobs(self) -> JobStore:
        return JobStore(self.settings.resolved_database_url())

    def consent(self, enclave_address: str, nonce_hex: str) -> str:
        """The provider vouches that this enclave runs on its machine, for this one CA nonce: an
        EIP-712 ``EnclaveConsent`` under the attestation registry's domain, which the CA checks and
        passes on to ``registerEnclave``, where the chain checks it again and accepts it once."""
        return sign_enclave_consent(
            self.account,
            enclave=enclave_address,
            provider=self.account.address,
            nonce=nonce_hex,
            chain_id=self.market.chain.chain_id(),
            registry=self.market.contracts.attestation_registry.address,
        )

    @cached_property
    def loader(self) -> LoaderLink:
        """This process's trusted loader: its own program, with only endpoints and the provider's
        address."""
        settings = self.settings
        values = {
            "provider": self.account.address,
            "rpc_url": settings.loader_rpc_url or settings.rpc_url,
            "ipfs_api": settings.ipfs_api,
            "ca_url": settings.ca_url,
            "addresses": dict(settings.chain_config().contracts),  # LoaderLink sends it as JSON
            "deploy_block": settings.deploy_block,
            "tee": settings.tee,
            "insecure_allow_simulated_tee": str(settings.insecure_allow_simulated_tee).lower(),
            "gpu": settings.loader_gpu,
            "simulated_gpu_class": settings.simulated_gpu_class,
            "scratch_root": settings.scratch_root,
        }
        folder = Path(settings.state_dir or ".") / "loader"
        return LoaderLink(values, folder=folder, consent=self.consent)
