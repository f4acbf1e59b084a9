"""What the broker reads from the chain, as protocols the CA's web3 client implements.

``ChainView`` answers resource ownership, order state and service state; the measurement
allow-list is :class:`enclava.attestation.verifiers.MeasurementAllowList` (the one protocol,
shared with the evidence verifiers). Both may raise :class:`enclava.errors.EnclavaError` (say
``ChainError``); the broker turns any other exception into :class:`ChainLookupError` and refuses
(fails closed). :mod:`certification_authority.broker.memory` holds in-memory versions for tests.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from typing import Protocol, runtime_checkable

from enclava.protocol.order import OrderStatus  # IMarketplace.OrderStatus; keys only for ACCEPTED

__all__ = ["OrderView", "ServiceView", "ServiceStatus", "ChainView"]


@dataclass(frozen=True)
class OrderView:
    """An order as the chain holds it.

    ``order_id`` is the bytes32 id (``0x`` + 64 hex); ``engine_hash`` the SHA-256 of the engine
    resource's ciphertext (bytes32 hex); ``resource_ids`` the model/dataset resources in order;
    ``deadline`` the unix time after which no key is released (acceptance + max duration);
    ``tee_type`` the TEE the order was placed for (``TeeType`` value; None skips that check);
    ``observed_at`` the chain's time when the order was read (latest block timestamp; None: not
    known): the deadline is checked against the later of it and the CA's clock, so an order the
    chain already considers late is refused even if the CA's clock lags.
    ``resource_hashes`` is the SHA-256 of each resource's ciphertext (bytes32 hex), one per
    ``resource_ids`` entry, and ``inputs_hash`` the order's ``inputsHash``, as the chain holds
    them: the broker names them in its signed answer, so the enclave accepts only keys whose
    content hash is the one its own order commits to.
    ``gpu_class`` is the GPU class the order's TEE offer promises, as the chain holds it (ASCII,
    trailing zero bytes stripped; ``""`` or ``"cpu"``: no GPU, see
    :func:`enclava.protocol.tee.offer_requires_gpu`); None when the view does not read offers,
    which skips that check (the chain's own view always reads it).
    """

    order_id: str
    status: OrderStatus
    customer: str
    provider: str
    engine_id: int
    engine_hash: str
    deadline: int
    resource_ids: tuple[int, ...] = field(default=())
    tee_type: int | None = None
    observed_at: int | None = None
    resource_hashes: tuple[str, ...] = field(default=())
    inputs_hash: str | None = None
    gpu_class: str | None = None

    @property
    def all_resource_ids(self) -> tuple[int, ...]:
        """Every resource whose key the order needs: the engine first, then each resource."""
        return tuple(dict.fromkeys((self.engine_id, *self.resource_ids)))

    def content_hash_of(self, resource_id: int) -> str:
        """The SHA-256 (bytes32 hex) of ``resource_id``'s ciphertext as this order commits to it."""
        if resource_id == self.engine_id:
            return self.engine_hash
        return self.resource_hashes[self.resource_ids.index(resource_id)]


class ServiceStatus(IntEnum):
    """``IServiceMarket.ServiceStatus``: keys only for a service that is ``LIVE``."""

    NONE = 0
    LIVE = 1
    STOPPED = 2


@dataclass(frozen=True)
class ServiceView:
    """A confidential service as the chain holds it (``ServiceMarket``).

    ``service_id`` is the bytes32 id (the hash of its terms); ``model_id`` and ``model_hash`` the
    served model resource and the SHA-256 of its ciphertext as the terms commit to them;
    ``ends_at`` the end of its lifetime; ``enclave`` the enclave the provider bound to it (checksum
    address; None: none bound yet, so no key); ``gpu_class`` the class its TEE offer promises (as
    :attr:`OrderView.gpu_class`); ``observed_at`` the chain's time when it was read.
    """

    service_id: str
    status: ServiceStatus
    provider: str
    tee_type: int
    model_id: int
    model_hash: str
    ends_at: int
    enclave: str | None = None
    gpu_class: str | None = None
    observed_at: int | None = None


@runtime_checkable
class ChainView(Protocol):
    def resource_owner(self, resource_id: int) -> str | None:
        """The resource's owner address, or None if no such resource exists."""
        ...

    def order(self, order_id: str) -> OrderView | None:
        """The order with this bytes32 id (``0x`` + 64 lowercase hex), or None if none exists."""
        ...

    def service(self, service_id: str) -> ServiceView | None:
        """The service with this bytes32 id, or None if none was started."""
        ...
