"""Typed ids: what each number or hex string names, so a resource id is never passed as a TEE offer.

- :data:`ResourceId`  a listing of ``ResourceRegistry`` (an engine, a model, a dataset): uint256
- :data:`TeeOfferId`  a provider's TEE capacity offer in ``ProviderRegistry``: uint256
- :data:`OrderId`     ``keccak256(abi.encode(OrderTerms))``: ``0x`` + 64 lowercase hex digits

They are ``typing.NewType``: free at run time, distinct for the type checker.
"""

from __future__ import annotations

from typing import NewType

__all__ = ["ResourceId", "TeeOfferId", "OrderId"]

ResourceId = NewType("ResourceId", int)
TeeOfferId = NewType("TeeOfferId", int)
OrderId = NewType("OrderId", str)
