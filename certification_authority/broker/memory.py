"""In-memory ``ChainView`` and ``MeasurementAllowList``: for unit tests and local experiments only.

Production reads the chain through the web3-backed implementations; nothing here is persistent.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

from certification_authority.broker.chain import OrderView
from certification_authority.broker.fields import (
    normalize_address,
    normalize_measurement,
    normalize_order_id,
)

__all__ = ["InMemoryChainView", "InMemoryAllowList"]


class InMemoryChainView:
    """Offers and orders set by hand (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._owners: dict[int, str] = {}
        self._orders: dict[str, OrderView] = {}

    def set_offer_owner(self, offer_id: int, owner: str) -> None:
        with self._lock:
            self._owners[offer_id] = normalize_address(owner)

    def set_order(self, order: OrderView) -> None:
        with self._lock:
            self._orders[normalize_order_id(order.order_id)] = order

    def offer_owner(self, offer_id: int) -> str | None:
        with self._lock:
            return self._owners.get(offer_id)

    def order(self, order_id: str) -> OrderView | None:
        with self._lock:
            return self._orders.get(order_id)


class InMemoryAllowList:
    """A set of ``(tee_type, measurement)`` pairs (thread-safe)."""

    def __init__(self, entries: Iterable[tuple[int, str]] = ()) -> None:
        self._lock = threading.Lock()
        self._entries: set[tuple[int, str]] = set()
        for tee_type, measurement in entries:
            self.allow(tee_type, measurement)

    def allow(self, tee_type: int, measurement: str) -> None:
        with self._lock:
            self._entries.add((int(tee_type), normalize_measurement(measurement)))

    def revoke(self, tee_type: int, measurement: str) -> None:
        with self._lock:
            self._entries.discard((int(tee_type), normalize_measurement(measurement)))

    def is_allowed(self, tee_type: int, measurement: str) -> bool:
        with self._lock:
            return (tee_type, measurement) in self._entries
