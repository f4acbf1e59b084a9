"""The chain layer's errors, below :class:`enclava.errors.ChainError` (which every chain call raises
for trouble reaching or using the node).

    EnclavaError
    ├── ChainError                   the EVM node failed (unreachable, stalled, odd answer): retried
    │   └── ChainRefused             the chain's final word on this call: the same call fails again
    │       ├── TransactionReverted  a contract rule refused the transaction (revert reason kept)
    │       ├── TransactionFailed    the transaction was mined with status 0 (out of gas, reverted)
    │       └── CallInvalid          the call cannot be encoded (argument types or sizes)
    └── OrderNotFound                no order with this id on this chain (or not an order id at all)
"""

from __future__ import annotations

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
    code = "tx_reverted"
    hint = "Read the revert reason; the transaction broke a contract rule."


class TransactionFailed(ChainRefused):
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
