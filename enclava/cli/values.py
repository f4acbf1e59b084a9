"""What a user types, parsed: prices, order ids, TEE family names.

Kept apart from the command modules and free of heavy imports, so that one command can use
another's parsing without importing its clients (CLI start-up, issue 15).
"""

from __future__ import annotations

import re

from enclava.cli.errors import PriceInvalid
from enclava.protocol.tee import TEE_CHAIN_NAMES

__all__ = ["ORDER_ID", "RESULT_CIPHERTEXT", "TEE_NAMES", "check_order_id", "parse_price"]

#: The result ciphertext `order result` keeps next to the plaintext (for `report verify`).
RESULT_CIPHERTEXT = "result.age"
ORDER_ID = re.compile(r"^0x[0-9a-fA-F]{64}$")
TEE_NAMES = TEE_CHAIN_NAMES


def check_order_id(order_id: str) -> str:
    """``order_id`` in lower case, or ``OrderNotFound`` when it is not 0x + 64 hex digits."""
    if not ORDER_ID.match(order_id or ""):
        from enclava.chain.errors import OrderNotFound

        raise OrderNotFound(f"{order_id!r} is not an order id")
    return order_id.lower()


def parse_price(text: str) -> int:
    """``123`` (wei), ``5gwei`` or ``0.003eth`` → wei."""
    match = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*(wei|gwei|eth)?\s*", str(text), re.IGNORECASE)
    if not match:
        raise PriceInvalid(f"{text!r} is not a price")
    number, unit = match.group(1), (match.group(2) or "wei").lower()
    scale = {"wei": 0, "gwei": 9, "eth": 18}[unit]
    whole, _, frac = number.partition(".")
    if len(frac) > scale:
        raise PriceInvalid(f"{text!r} has more decimals than a wei")
    wei = int(whole + frac.ljust(scale, "0"))
    if wei >= 2**96:
        raise PriceInvalid(f"{text!r} is above the largest on-chain price (2^96 wei)")
    return wei
