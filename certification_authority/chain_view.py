"""The broker's view of orders and offers, read from the real chain.

The marketplace stores an order as the hash of its terms; the terms themselves travel in the
``OrderCreated`` event. So an order is rebuilt from that event (found by its indexed id) plus the
contract's ``orderState``.

The event comes from an RPC node, so it is believed only as far as the order id commits to it: its
terms must hash to the id, and its resource and input hashes to the terms' ``inputsHash``; the
content hashes the broker names in its signed answer are therefore the order's own.

The key-release deadline is the end of the execution window, ``acceptedAt + maxDuration``: the
contract's ``deadlineOf`` adds the report grace period, which is time to publish a report, not to
start work, so no key leaves after the window closes.
"""

from __future__ import annotations

from web3 import Web3

from certification_authority.broker.chain import OrderStatus, OrderView
from enclava.chain.contracts import ContractSet
from enclava.chain.orders import OrderTerms, inputs_hash
from enclava.chain.types import measurement_digest, onchain_tee
from enclava.attestation.evidence import TeeType
from enclava.errors import ChainError

__all__ = ["Web3ChainView", "OnChainBrokerAllowList", "VerifierAllowList"]


class Web3ChainView:
    def __init__(self, contracts: ContractSet, *, from_block: int = 0) -> None:
        self._c = contracts
        self._from_block = from_block

    def offer_owner(self, offer_id: int) -> str | None:
        resource = self._c.offer_registry.functions.getResource(int(offer_id)).call()
        owner = resource[0] if isinstance(resource, (list, tuple)) else resource["owner"]
        return None if int(owner, 16) == 0 else Web3.to_checksum_address(owner)

    def order_created(self, order_id: str):  # noqa: ANN201 - web3's AttributeDict of the event's args
        """The ``OrderCreated`` args whose terms hash to ``order_id`` (None: no such event)."""
        topic = Web3.to_bytes(hexstr=order_id).rjust(32, b"\0")
        event = self._c.marketplace.events.OrderCreated
        logs = event.get_logs(from_block=self._from_block, argument_filters={"orderId": topic})
        if not logs:
            return None
        args = logs[-1]["args"]
        terms = OrderTerms.from_event(args["terms"])
        if terms.order_id.lower() != order_id.lower():
            raise ChainError(f"the OrderCreated event of {order_id} carries terms of another order")
        hashes = [bytes(h) for h in args["resourceHashes"]] + [
            bytes(i["contentHash"]) for i in args["inputs"]
        ]
        if (
            len(args["resourceHashes"]) != len(terms.resource_ids)
            or inputs_hash(hashes[: len(terms.resource_ids)], hashes[len(terms.resource_ids) :])
            != terms.inputs_hash
        ):
            raise ChainError(
                f"the OrderCreated event of {order_id} carries hashes its terms do not commit to"
            )
        return args

    def order_terms(self, order_id: str):  # noqa: ANN201 - web3's AttributeDict
        created = self.order_created(order_id)
        return None if created is None else created["terms"]

    def order(self, order_id: str) -> OrderView | None:
        created = self.order_created(order_id)
        if created is None:
            return None
        terms = created["terms"]
        state = self._c.marketplace.functions.orderState(order_id).call()
        status, accepted_at = OrderStatus(int(state[0])), int(state[1])
        deadline = accepted_at + int(terms["maxDuration"]) if accepted_at else 0
        observed_at = int(self._c.w3.eth.get_block("latest")["timestamp"])
        payments = terms["payments"]
        return OrderView(
            order_id=order_id,
            status=status,
            customer=terms["customer"],
            provider=terms["provider"],
            engine_offer_id=int(payments[0]["resourceId"]),
            engine_hash="0x" + bytes(terms["engineHash"]).hex(),
            deadline=deadline,
            resource_offer_ids=tuple(int(p["resourceId"]) for p in payments[1:]),
            tee_type=int(terms["teeType"]),
            observed_at=observed_at,
            resource_hashes=tuple("0x" + bytes(h).hex() for h in created["resourceHashes"]),
            inputs_hash="0x" + bytes(terms["inputsHash"]).hex(),
        )


def terms_tuple(terms) -> tuple:
    """An ``OrderTerms`` event value as the tuple a contract call takes."""
    return OrderTerms.from_event(terms).as_tuple()


class VerifierAllowList:
    """The verifiers' ``MeasurementAllowList`` (TeeType, raw bytes) over the attestation registry."""

    def __init__(self, contracts: ContractSet) -> None:
        self._registry = contracts.attestation_registry

    def is_allowed(self, tee_type: TeeType, measurement: bytes) -> bool:
        return self.is_allowed_digest(
            int(onchain_tee(tee_type, simulated=False)), measurement_digest(measurement)
        )

    def is_allowed_digest(self, tee_code: int, digest: bytes) -> bool:
        return bool(self._registry.functions.isMeasurementAllowed(int(tee_code), digest).call())


class OnChainBrokerAllowList:
    """The broker's ``MeasurementAllowList`` (TEE code, raw measurement hex) over the same registry."""

    def __init__(self, contracts: ContractSet) -> None:
        self._inner = VerifierAllowList(contracts)

    def is_allowed(self, tee_type: int, measurement: str) -> bool:
        return self._inner.is_allowed_digest(
            tee_type, measurement_digest(bytes.fromhex(measurement))
        )
