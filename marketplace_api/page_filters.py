"""How the web pages write amounts, times and report verdicts, so that every page says the same.

Amounts are shown in ETH, exactly (no rounding: ``0.000000000000000042 ETH`` is what 42 wei is),
with the full wei amount in a ``title`` attribute a mouse shows on hover. Times are UTC ISO dates
with the raw Unix seconds on hover. A report's verdict is green only when every check passed on a
real TEE: a skipped check or a simulated TEE makes it a warning, with the reasons listed.
"""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

from markupsafe import Markup

__all__ = ["eth_text", "eth", "utc_text", "utc", "report_verdict", "install"]

WEI_PER_ETH = Decimal(10) ** 18


def _wei(value: Any) -> int | None:
    """The integer wei of a decimal string or int; None for what is not an amount."""
    if value is None or isinstance(value, bool):
        return None
    try:
        return int(str(value).strip())
    except ValueError:
        return None


def eth_text(wei: Any) -> str:
    """``"0.001 ETH"`` for ``10**15``: the exact amount, trailing zeros dropped."""
    amount = _wei(wei)
    if amount is None:
        return "—"
    text = format(Decimal(amount) / WEI_PER_ETH, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return f"{text} ETH"


def eth(wei: Any) -> Markup:
    """An amount as ETH in a span whose title is the full wei amount (shown on hover)."""
    amount = _wei(wei)
    if amount is None:
        return Markup("—")
    return Markup('<span class="eth" title="{wei} wei">{text}</span>').format(
        wei=amount, text=eth_text(amount)
    )


def utc_text(seconds: Any) -> str:
    """``"2026-12-01T12:00:00Z"`` for Unix seconds (fractions dropped)."""
    try:
        when = datetime.fromtimestamp(int(float(seconds)), tz=timezone.utc)
    except (TypeError, ValueError, OverflowError, OSError):
        return "—"
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def utc(seconds: Any) -> Markup:
    """A ``<time>`` element with the UTC date and the raw Unix seconds on hover."""
    text = utc_text(seconds)
    if text == "—":
        return Markup("—")
    return Markup('<time datetime="{text}" title="{raw} (Unix seconds)">{text}</time>').format(
        text=text, raw=int(float(seconds))
    )


def report_verdict(checklist: dict[str, Any]) -> dict[str, Any]:
    """What the report page's verdict says and in which colour.

    ``css`` is ``verified`` (green) only when no check failed, none was skipped and the TEE is a
    real one; ``verified-warning`` when it is valid but a check was skipped or the TEE is
    simulated (a simulated enclave proves nothing about the hardware); ``not-verified`` otherwise.
    """
    items = list(checklist.get("items", []))
    skipped = [item for item in items if item.get("status") == "skipped"]
    simulated = str(checklist.get("report", {}).get("teeType", "")).upper() == "SIMULATED"
    if not checklist.get("valid"):
        return {"text": "not verified", "css": "not-verified", "skipped": skipped}
    text = "verified (simulated TEE)" if simulated else "verified"
    if skipped:
        count = len(skipped)
        text += f", {count} check{'' if count == 1 else 's'} skipped"
    css = "verified-warning" if simulated or skipped else "verified"
    return {"text": text, "css": css, "skipped": skipped, "simulated": simulated}


def install(env: Any) -> None:
    """Register the filters on a Jinja environment (the pages' and any other template user's)."""
    env.filters["eth"] = eth
    env.filters["eth_text"] = eth_text
    env.filters["utc"] = utc
    env.filters["utc_text"] = utc_text
    env.globals["report_verdict"] = report_verdict
