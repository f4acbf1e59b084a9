"""Bounds of every integer a request can carry, so an out-of-range number is a 422, never a 500.

On-chain ids (resources, TEE offers) are uint256 on chain: ``1 ≤ id ≤ 2**256 - 1``. The index
stores them in 64-bit columns (the contracts count up from 1), so an id past that range is valid
but cannot be indexed: lookups answer "not found" without asking the database (see
:func:`marketplace_api.queries.indexed_row`). Pagination is small by construction.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Path

__all__ = ["UINT256_MAX", "INDEX_INT_MAX", "MAX_PAGE", "MAX_PER_PAGE", "OnChainId"]

UINT256_MAX = 2**256 - 1
INDEX_INT_MAX = 2**63 - 1  # a signed 64-bit SQL integer (BigInteger)
MAX_PAGE = 10_000
MAX_PER_PAGE = 100

OnChainId = Annotated[
    int, Path(ge=1, le=UINT256_MAX, description="an on-chain id (uint256, from 1)")
]
