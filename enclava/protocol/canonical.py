"""The one canonical serialization for everything Enclava hashes or has signed.

Sorted keys, compact separators, ASCII only, no NaN: the same function is used by whoever signs
or hashes and by whoever verifies, so both see the very same bytes (the CA's audit log and key
broker, FHE bundles, the key-release exchange, the CA's identity binding).
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["canonical_json"]


def canonical_json(value: Any) -> bytes:
    """``value`` (JSON types only) as canonical UTF-8 bytes."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
    ).encode("ascii")
