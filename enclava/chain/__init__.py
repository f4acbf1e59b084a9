"""The EVM side: a web3.py client that signs locally and speaks Enclava's errors, the
marketplace contracts as one typed client, and ServiceMarket (confidential serving) as another.

The clients are imported on first use (PEP 562): ``enclava.chain.types`` and
``enclava.chain.config`` must not pay for web3 when a command only needs an enum or a manifest
(CLI start-up, issue 15).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from enclava.chain.errors import OrderNotFound
from enclava.lazy import lazy_exports

if TYPE_CHECKING:
    from enclava.chain.market import MarketClient
    from enclava.chain.rpc import ChainClient, TxResult
    from enclava.chain.services import ServiceClient

__all__ = [
    "ChainClient",
    "TxResult",
    "MarketClient",
    "ServiceClient",
    "OrderNotFound",
]

_LAZY = {
    "ChainClient": "enclava.chain.rpc",
    "TxResult": "enclava.chain.rpc",
    "MarketClient": "enclava.chain.market",
    "ServiceClient": "enclava.chain.services",
}


__getattr__ = lazy_exports(__name__, _LAZY)
