"""Checks of a receipt beyond its signature and hashes, shared by the live and the offline verifier:
the counts against the response's own ``usage``, the request's bound and the earlier counts."""

from __future__ import annotations

import json
from typing import Any

from enclava.protocol.errors import ReceiptCountsInvalid
from enclava.protocol.serving import Cumulative, Receipt

__all__ = ["prior_counts", "at_least", "max_tokens", "usage_of", "block_usage", "check_usage"]


def prior_counts(receipt: Receipt) -> Cumulative:
    c = receipt.cumulative
    values = (
        c.input_tokens - receipt.prompt_tokens,
        c.output_tokens - receipt.completion_tokens,
        c.compute_ms - receipt.compute_ms,
    )
    if min(values) < 0:
        raise ReceiptCountsInvalid("the receipt's counts exceed its cumulative counts")
    return Cumulative(*values)


def at_least(a: Cumulative, b: Cumulative) -> bool:
    return (
        a.input_tokens >= b.input_tokens
        and a.output_tokens >= b.output_tokens
        and a.compute_ms >= b.compute_ms
    )


def max_tokens(body: bytes) -> int | None:
    """The completion-token bound a request sets (``max_tokens`` or ``max_completion_tokens``,
    times ``n``), or None."""
    try:
        request = json.loads(body) if body else None
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(request, dict):
        return None
    bounds = [
        v
        for v in (request.get("max_tokens"), request.get("max_completion_tokens"))
        if type(v) is int and v >= 0
    ]
    n = request.get("n", 1)
    if not bounds or type(n) is not int or n < 1:
        return None
    return min(bounds) * n


def usage_of(body: bytes) -> dict[str, Any] | None:
    try:
        value = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    usage = value.get("usage") if isinstance(value, dict) else None
    return usage if isinstance(usage, dict) else None


def block_usage(block: bytes) -> dict[str, Any] | None:
    if b'"usage"' not in block or not block.startswith(b"data: "):
        return None
    return usage_of(block[len(b"data: ") :].strip())


def check_usage(receipt: Receipt, usage: dict[str, Any] | None) -> None:
    """The receipt's token counts are those the signed response reports (if it reports any)."""
    if usage is not None and (
        usage.get("prompt_tokens") != receipt.prompt_tokens
        or usage.get("completion_tokens") != receipt.completion_tokens
    ):
        raise ReceiptCountsInvalid("the receipt's token counts are not the response's usage")
