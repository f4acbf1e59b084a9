"""The one table of order-failure reason codes.

Every way an order can fail inside the enclave maps to a small integer that the loader passes to
``failOrder`` on chain, so the customer is refunded and sees why. Codes are stable: never renumber,
only append. ``0`` is reserved for "no failure".
"""

from __future__ import annotations

from enum import IntEnum

__all__ = ["Reason", "reason_name"]


class Reason(IntEnum):
    """On-chain failure reasons (``uint8``)."""

    NONE = 0
    INPUT_HASH_MISMATCH = 1
    KEY_RELEASE_DENIED = 2
    ENGINE_FAILED = 3
    TIMEOUT = 4
    OUTPUT_TOO_LARGE = 5
    MEMORY_EXCEEDED = 6
    NETWORK_DENIED = 7
    CPU_EXCEEDED = 8
    OUTPUT_MISSING = 9
    INTERNAL_ERROR = 10
    INPUT_UNAVAILABLE = 11
    CERTIFICATION_FAILED = 12
    ENGINE_INVALID = 13
    ORDER_TERMS_MISMATCH = 14
    RECIPIENT_KEY_MISMATCH = 15
    KEY_RELEASE_INVALID = 16


def reason_name(code: int) -> str:
    """``"timeout"`` for 4; ``"unknown"`` for a code not in the table."""
    try:
        return Reason(code).name.lower()
    except ValueError:
        return "unknown"
