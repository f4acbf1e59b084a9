"""The chain layer's errors, below :class:`enclava.errors.ChainError` (which every chain call raises
for trouble reaching or using the node).

    EnclavaError
    ├── ChainError                   the EVM node failed (unreachable, stalled, odd answer): retried
    │   └── ChainRefused             the chain's final word on this call: the same call fails again
    │       ├── TransactionReverted  a contract rule refused the transaction: the custom error's
    │       │   │                    name and arguments decoded (``enclava.chain.revert``)
    │       │   └── TransactionFailed  mined with status 0 (out of gas, or a revert; decoded when
    │       │                        replaying the call reproduces it)
    │       └── CallInvalid          the call cannot be encoded (argument types or sizes)
    └── OrderNotFound                no order with this id on this chain (or not an order id at all)
"""

from __future__ import annotations

from typing import Any

from enclava.errors import ChainError, EnclavaError

__all__ = [
    "ChainRefused",
    "TransactionReverted",
    "TransactionFailed",
    "CallInvalid",
    "OrderNotFound",
]


class ChainRefused(ChainError):
    code = "chain_refused"
    hint = "The chain refused the call; retrying the same call fails the same way."


class TransactionReverted(ChainRefused):
    """``error_name`` and ``error_args`` (by argument name) are the contract's custom error, e.g.
    ``MarketplaceResourceKindMismatch`` and ``{"resourceId": 3}``; ``None`` and ``{}`` when the
    node gave no revert data. ``selector`` is its 4-byte selector (``0x`` + 8 hex digits)."""

    code = "tx_reverted"
    hint = "Read the revert reason; the transaction broke a contract rule."

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        error_name: str | None = None,
        error_args: dict[str, Any] | None = None,
        selector: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.error_name = error_name
        self.error_args: dict[str, Any] = dict(error_args or {})
        self.selector = selector


class TransactionFailed(TransactionReverted):
    code = "tx_failed"
    hint = "Inspect the transaction on the node; it ran out of gas or reverted."


class CallInvalid(ChainRefused):
    code = "call_invalid"
    hint = "Check the arguments' types and sizes."


class OrderNotFound(EnclavaError):
    http_status = 404
    code = "order_not_found"
    hint = (
        "Check the order id (0x + 64 hex digits) and that you are on the chain where it was "
        "created."
    )
