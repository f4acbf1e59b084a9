"""The one canonical serialization for everything the CA hashes or has signed.

It is the library's :func:`enclava.protocol.canonical_json` (sorted keys, compact separators,
ASCII only, no NaN), re-exported so the audit log, the broker's messages and the enclave's side of
the key-release protocol serialize with the very same function.
"""

from __future__ import annotations

from enclava.protocol.canonical import canonical_json

__all__ = ["canonical_json"]
