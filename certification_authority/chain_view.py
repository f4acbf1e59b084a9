"""The broker's view of orders and resources, read from the real chain.

Orders are read by THE order reader, :func:`enclava.chain.market.read_order` (the ``OrderCreated``
event found by its indexed id, plus the contract's ``orderState``). The event comes from an RPC
node, so it is believed only as far as the order id commits to it
(:func:`enclava.chain.market.check_order_commitments`): its terms must hash to the id, and its
resource and input hashes to the terms' ``inputsHash``; the content hashes the broker names in its
signed answer are therefore the order's own.

The key-release deadline is the end of the execution window, ``acceptedAt + maxDuration``: the
contract's ``deadlineOf`` adds the report grace period, which is time to publish a report, not to
start work, so no key leaves after the window closes.

The GPU class the order's TEE offer promises is read from the provider registry by the offer id
the order id commits to (``teeOfferGpuClass``; an offer's class never changes once published), so
the broker's GPU check always runs against the chain's own value.

A confidential service is read from ServiceMarket (state word, then terms checked against the
id); the enclave its provider bound there is the only one its model key may go to.

The measurement allow-list is :class:`enclava.chain.allowlist.OnChainAllowList`.
"""

from __future__ import annotations

from web3 import Web3

from certification_authority.broker.chain import OrderView, ServiceView
from certification_authority.broker.chain import ServiceStatus as BrokerServiceStatus
from enclava.chain.contracts import ContractSet
from enclava.chain.errors import OrderNotFound
from enclava.chain.market import check_order_commitments, read_order, tee_offer_gpu_class
from enclava.chain.services import ServiceStatus, read_service_state, read_service_terms

__all__ = ["Web3ChainView"]


class Web3ChainView:
    """The broker's ``ChainView`` over the deployed contracts."""

    def __init__(self, contracts: ContractSet, *, from_block: int = 0) -> None:
        self._c = contracts
        self._from_block = from_block

    def resource_owner(self, resource_id: int) -> str | None:
        resource = self._c.resource_registry.functions.getResource(int(resource_id)).call()
        owner = resource[0] if isinstance(resource, (list, tuple)) else resource["owner"]
        return None if int(owner, 16) == 0 else Web3.to_checksum_address(owner)

    def order(self, order_id: str) -> OrderView | None:
        try:
            order = read_order(self._c, order_id, from_block=self._from_block, with_deadline=False)
        except OrderNotFound:
            return None
        check_order_commitments(order)
        terms = order.terms
        deadline = order.accepted_at + int(terms.max_duration) if order.accepted_at else 0
        observed_at = int(self._c.w3.eth.get_block("latest")["timestamp"])
        return OrderView(
            order_id=order_id,
            status=order.status,
            customer=terms.customer,
            provider=terms.provider,
            engine_id=int(terms.engine_resource_id),
            engine_hash="0x" + bytes(terms.engine_hash).hex(),
            deadline=deadline,
            resource_ids=tuple(int(r) for r in terms.resource_ids),
            tee_type=int(terms.tee_type),
            observed_at=observed_at,
            resource_hashes=tuple("0x" + bytes(h).hex() for h in order.resource_hashes),
            inputs_hash="0x" + bytes(terms.inputs_hash).hex(),
            gpu_class=tee_offer_gpu_class(self._c, terms.tee_offer_id),
        )

    def service(self, service_id: str) -> ServiceView | None:
        """The service with this id, or None. Asked for every release, so an id that is no
        service costs one call; the terms come from an event and are believed only because
        they hash to the id (:func:`enclava.chain.services.read_service_terms`)."""
        state = read_service_state(self._c, service_id)
        if state.status is ServiceStatus.NONE:
            return None
        terms = read_service_terms(self._c, service_id, from_block=self._from_block)
        return ServiceView(
            service_id=service_id,
            status=BrokerServiceStatus(int(state.status)),
            provider=terms.provider,
            tee_type=int(terms.tee_type),
            model_id=int(terms.model_id),
            model_hash=terms.model_hash,
            ends_at=state.ends_at,
            enclave=state.enclave,
            gpu_class=tee_offer_gpu_class(self._c, terms.tee_offer_id),
            observed_at=int(self._c.w3.eth.get_block("latest")["timestamp"]),
        )
