"""The integrity report's EIP-712 digest and the order hashes, for a verifier holding event values.

These take the plain mappings the events carry and go through the very functions the enclave
signs with (``enclava.protocol.order``): one serialization for signer and verifier. Independence
comes from comparing the result with what the contract computes (``reportDigest``, the stored
report hash, the order id), so a bug or a lie on either side shows up.
"""

from __future__ import annotations

from typing import Any, Mapping

from eth_account.messages import encode_typed_data
from eth_utils.crypto import keccak

from enclava.protocol.order import IntegrityReport, OrderTerms, inputs_hash
from enclava.protocol.order import report_typed_data as _report_typed_data

__all__ = ["report_digest", "report_typed_data", "inputs_hash", "order_id_of", "report_tuple"]


def _report(report: Mapping[str, Any] | IntegrityReport) -> IntegrityReport:
    return report if isinstance(report, IntegrityReport) else IntegrityReport.from_event(report)


def report_typed_data(
    report: Mapping[str, Any] | IntegrityReport, *, chain_id: int, marketplace: str
) -> dict[str, Any]:
    """``report`` (an event mapping or an IntegrityReport) as EIP-712 typed data."""
    return _report_typed_data(_report(report), chain_id=int(chain_id), marketplace=marketplace)


def report_digest(
    report: Mapping[str, Any] | IntegrityReport, *, chain_id: int, marketplace: str
) -> bytes:
    """The digest an enclave signs for ``report``
    (``keccak(0x19 ‖ 0x01 ‖ domain ‖ structHash)``)."""
    signable = encode_typed_data(
        full_message=report_typed_data(report, chain_id=chain_id, marketplace=marketplace)
    )
    return keccak(b"\x19" + signable.version + signable.header + signable.body)


def report_tuple(report: Mapping[str, Any] | IntegrityReport) -> tuple[Any, ...]:
    """The report as the ABI tuple contract calls take."""
    return _report(report).as_tuple()


def order_id_of(terms: Mapping[str, Any]) -> bytes:
    """``keccak256(abi.encode(terms))`` for an ``OrderTerms`` value as the event carries it."""
    return bytes.fromhex(OrderTerms.from_event(terms).order_id.removeprefix("0x"))
