"""The EVM side: a web3.py client that signs locally and speaks Enclava's errors, and the
marketplace contracts as one typed client."""

from enclava.chain.errors import OrderNotFound
from enclava.chain.market import MarketClient
from enclava.chain.rpc import ChainClient, TxResult

__all__ = [
    "ChainClient",
    "TxResult",
    "MarketClient",
    "OrderNotFound",
]
