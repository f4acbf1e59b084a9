"""The EVM side: a web3.py client that signs locally and speaks Enclava's errors."""

from enclava.chain.client import ChainClient, TxResult

__all__ = ["ChainClient", "TxResult"]
