"""What the broker reads from the chain, as protocols the CA's web3 client implements.

``ChainView`` answers offer ownership and order state; ``MeasurementAllowList`` is the attestation
registry's allow-list. Both may raise :class:`enclava.errors.EnclavaError` (say ``ChainError``);
the broker turns any other exception into :class:`ChainLookupError` and refuses (fails closed).
:mod:`certification_authority.broker.memory` holds in-memory versions for tests.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from enclava.chain.types import (
    OrderStatus,
)  # mirrors IMarketplace.OrderStatus; keys only for ACCEPTED

__all__ = ["OrderStatus", "OrderView", "ChainView", "MeasurementAllowList"]


@dataclass(frozen=True)
class OrderView:
    """An order as the chain holds it.

    ``order_id`` is the bytes32 id (``0x`` + 64 hex); ``engine_hash`` the SHA-256 of the engine
    offer's ciphertext (bytes32 hex); ``resource_offer_ids`` the model/dataset offers in order;
    ``deadline`` the unix time after which no key is released (acceptance + max duration);
    ``tee_type`` the TEE the order was placed for (``TeeCode`` value; None skips that check);
    ``observed_at`` the chain's time when the order was read (latest block timestamp; None: not
    known): the deadline is checked against the later of it and the CA's clock, so an order the
    chain already considers late is refused even if the CA's clock lags.
    ``resource_hashes`` is the SHA-256 of each resource's ciphertext (bytes32 hex), one per
    ``resource_offer_ids`` entry, and ``inputs_hash`` the order's ``inputsHash``, as the chain holds
    them: the broker names them in its signed answer, so the enclave accepts only keys whose
    content hash is the one its own order commits to.
    """

    order_id: str
    status: OrderStatus
    customer: str
    provider: str
    engine_offer_id: int
    engine_hash: str
    deadline: int
    resource_offer_ids: tuple[int, ...] = field(default=())
    tee_type: int | None = None
    observed_at: int | None = None
    resource_hashes: tuple[str, ...] = field(default=())
    inputs_hash: str | None = None

    @property
    def offer_ids(self) -> tuple[int, ...]:
        """Every offer whose key the order needs: the engine first, then each resource."""
        return tuple(dict.fromkeys((self.engine_offer_id, *self.resource_offer_ids)))

    def content_hash_of(self, offer_id: int) -> str:
        """The SHA-256 (bytes32 hex) of ``offer_id``'s ciphertext as this order commits to it."""
        if offer_id == self.engine_offer_id:
            return self.engine_hash
        return self.resource_hashes[self.resource_offer_ids.index(offer_id)]


@runtime_checkable
class ChainView(Protocol):
    def offer_owner(self, offer_id: int) -> str | None:
        """The offer's owner address, or None if no such offer exists."""
        ...

    def order(self, order_id: str) -> OrderView | None:
        """The order with this bytes32 id (``0x`` + 64 lowercase hex), or None if none exists."""
        ...


@runtime_checkable
class MeasurementAllowList(Protocol):
    def is_allowed(self, tee_type: int, measurement: str) -> bool:
        """True only if ``measurement`` (lowercase hex, no 0x) is allowed for ``tee_type`` (TeeCode)."""
        ...
