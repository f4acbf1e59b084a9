"""An in-memory ``ChainView``: for unit tests and local experiments only (the in-memory
measurement allow-list is :class:`enclava.attestation.verifiers.InMemoryMeasurementAllowList`).

Production reads the chain through the web3-backed implementations; nothing here is persistent.
"""

from __future__ import annotations

import threading

from certification_authority.broker.chain import OrderView
from enclava.protocol.broker.fields import (
    normalize_address,
    normalize_order_id,
)

__all__ = ["InMemoryChainView"]


class InMemoryChainView:
    """Resources and orders set by hand (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._owners: dict[int, str] = {}
        self._orders: dict[str, OrderView] = {}

    def set_resource_owner(self, resource_id: int, owner: str) -> None:
        with self._lock:
            self._owners[resource_id] = normalize_address(owner)

    def set_order(self, order: OrderView) -> None:
        with self._lock:
            self._orders[normalize_order_id(order.order_id)] = order

    def resource_owner(self, resource_id: int) -> str | None:
        with self._lock:
            return self._owners.get(resource_id)

    def order(self, order_id: str) -> OrderView | None:
        with self._lock:
            return self._orders.get(order_id)
