"""The seed an engine runs with (``ENCLAVA_SEED``): derived from the order id, so anyone can rerun
it."""

from __future__ import annotations

import hashlib

__all__ = ["order_seed"]


def order_seed(order_id: str) -> int:
    """The first 4 bytes of SHA-256(order id), big-endian: the engine's ``ENCLAVA_SEED``."""
    return int.from_bytes(
        hashlib.sha256(bytes.fromhex(order_id.removeprefix("0x"))).digest()[:4], "big"
    )
