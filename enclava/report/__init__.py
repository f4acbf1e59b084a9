"""Integrity reports: their EIP-712 digest and an independent verifier that prints a checklist.

``verify_order_report(contracts, order_id, result_ciphertext=...)`` rebuilds the order from its
events and re-checks the report signature, the enclave's certification, the measurement allow-list
and every hash, then asks the contract's ``verifyReport`` too.
"""

from enclava.report.checklist import FAIL, OK, SKIPPED, Check, Checklist
from enclava.report.digest import (
    inputs_hash,
    order_id_of,
    report_digest,
    report_tuple,
    report_typed_data,
)
from enclava.report.errors import OrderNotCompleted, OrderNotFound, ReportError
from enclava.report.events import CompletedRecord, OrderRecord, read_completion, read_order
from enclava.report.verify import verify_order_report

__all__ = [
    "Check",
    "Checklist",
    "OK",
    "FAIL",
    "SKIPPED",
    "inputs_hash",
    "order_id_of",
    "report_digest",
    "report_tuple",
    "report_typed_data",
    "ReportError",
    "OrderNotFound",
    "OrderNotCompleted",
    "OrderRecord",
    "CompletedRecord",
    "read_order",
    "read_completion",
    "verify_order_report",
]
