"""Reads an order's ``OrderCreated`` and ``OrderCompleted`` events (found by the indexed id)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from web3.exceptions import Web3Exception

from enclava.chain.contracts import ContractSet
from enclava.chain.market import order_id_bytes, order_logs
from enclava.errors import ChainError
from enclava.report.errors import OrderNotCompleted, OrderNotFound

__all__ = ["OrderRecord", "CompletedRecord", "read_order", "read_completion"]


@dataclass(frozen=True)
class OrderRecord:
    order_id: bytes
    terms: dict[str, Any]
    inputs: list[dict[str, Any]]
    resource_hashes: list[bytes]
    block_number: int


@dataclass(frozen=True)
class CompletedRecord:
    report: dict[str, Any]
    signature: bytes
    report_hash: bytes
    block_number: int
    tx_hash: str


def _plain(value: Any) -> Any:
    """AttributeDicts and tuples from web3 as plain dicts and lists."""
    if hasattr(value, "items"):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _logs(contracts: ContractSet, event: str, order_id: bytes, from_block: int) -> list[Any]:
    try:
        return order_logs(contracts, event, order_id, from_block=from_block)
    except (Web3Exception, ValueError, ConnectionError) as exc:
        raise ChainError(f"cannot read {event} events: {exc}") from exc


def read_order(
    contracts: ContractSet, order_id: str | bytes, *, from_block: int = 0
) -> OrderRecord:
    oid = order_id_bytes(order_id)
    logs = _logs(contracts, "OrderCreated", oid, from_block)
    if not logs:
        raise OrderNotFound(f"no order 0x{oid.hex()} on this chain")
    args = logs[-1]["args"]
    return OrderRecord(
        oid,
        _plain(args["terms"]),
        _plain(args["inputs"]),
        [bytes(h) for h in args["resourceHashes"]],
        int(logs[-1]["blockNumber"]),
    )


def read_completion(
    contracts: ContractSet, order_id: str | bytes, *, from_block: int = 0
) -> CompletedRecord:
    oid = order_id_bytes(order_id)
    logs = _logs(contracts, "OrderCompleted", oid, from_block)
    if not logs:
        raise OrderNotCompleted(f"order 0x{oid.hex()} has no integrity report on chain")
    log = logs[-1]
    return CompletedRecord(
        _plain(log["args"]["report"]),
        bytes(log["args"]["signature"]),
        bytes(log["args"]["reportHash"]),
        int(log["blockNumber"]),
        "0x" + bytes(log["transactionHash"]).hex(),
    )
