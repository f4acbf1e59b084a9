"""What the verifying client reads on chain, as one small protocol the caller implements.

``enclava.chain.services`` (ServiceMarket) and ``enclava.chain.market`` (AttestationRegistry,
ProviderRegistry) hold the real reads; tests pass an in-memory view. Every method reads the chain
as it is now: the client verifies before it sends anything, each time it connects.
"""

from __future__ import annotations

from typing import Protocol

from enclava.chain.types import EnclaveRecord, EnclaveStatus
from enclava.protocol.service_terms import ServiceTerms

__all__ = ["ServiceChainView"]


class ServiceChainView(Protocol):
    """The chain reads :func:`~enclava.client.serving.verify_service` needs, and nothing more."""

    @property
    def chain_id(self) -> int:
        """The chain's id (the statement's ``chain_id``, the vouchers' EIP-712 domain)."""
        ...

    @property
    def service_market(self) -> str:
        """The ServiceMarket's address (the vouchers' verifying contract)."""
        ...

    def service_terms(self, service_id: str) -> ServiceTerms | None:
        """The terms whose id is ``service_id`` (from its ``ServiceStarted`` event, checked to hash
        to the id), or None when no such service was started."""
        ...

    def service_live(self, service_id: str) -> bool:
        """Whether the service is started, not stopped, and before its ``endsAt``."""
        ...

    def service_enclave(self, service_id: str) -> str | None:
        """The enclave the provider bound to the service (``bindEnclave``; the latest wins), or
        None if none is bound."""
        ...

    def enclave_status(self, address: str) -> tuple[EnclaveStatus, EnclaveRecord]:
        """``AttestationRegistry.enclaveStatus``: validity now, and the enclave's record."""
        ...

    def tee_offer_gpu_class(self, tee_offer_id: int) -> str:
        """The GPU class the TEE offer promises (``""``: none)."""
        ...
