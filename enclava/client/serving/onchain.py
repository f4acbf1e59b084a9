"""The verifying client's chain reads on a real chain: :class:`ServiceChainView` over
ServiceMarket (``enclava.chain.services``) and the registries (``enclava.chain.market``).

The customer reads through an RPC node of their own choosing; terms are believed only because they
hash to the service id (:func:`enclava.chain.services.read_service_terms`).
"""

from __future__ import annotations

from enclava.chain.market import MarketClient
from enclava.chain.services import ServiceClient, ServiceNotFound, ServiceStatus
from enclava.chain.types import EnclaveRecord, EnclaveStatus
from enclava.protocol.service_terms import ServiceTerms

__all__ = ["OnChainServiceView"]


class OnChainServiceView:
    """:class:`~enclava.client.serving.ServiceChainView` over the deployed contracts."""

    def __init__(self, market: MarketClient) -> None:
        self._market = market
        self._services = ServiceClient(market.chain, market.contracts, from_block=market.from_block)

    @property
    def services(self) -> ServiceClient:
        return self._services

    @property
    def chain_id(self) -> int:
        return self._services.chain_id()

    @property
    def service_market(self) -> str:
        return self._services.address

    def service_terms(self, service_id: str) -> ServiceTerms | None:
        try:
            return self._services.terms(service_id)
        except ServiceNotFound:
            return None

    def service_live(self, service_id: str) -> bool:
        return self._services.is_live(service_id)

    def service_enclave(self, service_id: str) -> str | None:
        state = self._services.service_state(service_id)
        return state.enclave if state.status is not ServiceStatus.NONE else None

    def enclave_status(self, address: str) -> tuple[EnclaveStatus, EnclaveRecord]:
        return self._market.enclave_status(address)

    def tee_offer_gpu_class(self, tee_offer_id: int) -> str:
        return self._market.tee_offer_gpu_class(tee_offer_id)
