"""An in-memory ``ChainView``: for unit tests and local experiments only (the in-memory
measurement allow-list is :class:`enclava.attestation.verifiers.InMemoryMeasurementAllowList`).

Production reads the chain through the web3-backed implementations; nothing here is persistent.
"""

from __future__ import annotations

import threading

from certification_authority.broker.chain import OrderView, ServiceView
from enclava.protocol.broker.fields import (
    normalize_address,
    normalize_order_id,
)

__all__ = ["InMemoryChainView"]


class InMemoryChainView:
    """Resources, orders and services set by hand (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._owners: dict[int, str] = {}
        self._orders: dict[str, OrderView] = {}
        self._services: dict[str, ServiceView] = {}

    def set_resource_owner(self, resource_id: int, owner: str) -> None:
        with self._lock:
            self._owners[resource_id] = normalize_address(owner)

    def set_order(self, order: OrderView) -> None:
        with self._lock:
            self._orders[normalize_order_id(order.order_id)] = order

    def set_service(self, service: ServiceView) -> None:
        with self._lock:
            self._services[normalize_order_id(service.service_id)] = service

    def resource_owner(self, resource_id: int) -> str | None:
        with self._lock:
            return self._owners.get(resource_id)

    def order(self, order_id: str) -> OrderView | None:
        with self._lock:
            return self._orders.get(order_id)

    def service(self, service_id: str) -> ServiceView | None:
        with self._lock:
            return self._services.get(service_id)
