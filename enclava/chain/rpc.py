"""A thin web3.py client: connect by RPC URL, sign locally with eth-account, wait for receipts.

Every web3/RPC failure leaves this module as :class:`enclava.errors.ChainError` with a hint.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterator, cast

import requests
from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.exceptions import ContractLogicError, TimeExhausted, Web3Exception
from web3.types import TxParams

from enclava.chain.errors import TransactionFailed, TransactionReverted
from enclava.errors import ChainError

if TYPE_CHECKING:
    from enclava.chain.config import Manifest

__all__ = ["ChainClient", "TxResult"]


@dataclass(frozen=True)
class TxResult:
    tx_hash: str
    block_number: int
    gas_used: int
    status: int


@contextmanager
def _translated(what: str) -> Iterator[None]:
    try:
        yield
    except (requests.ConnectionError, ConnectionError) as exc:
        raise ChainError(
            f"cannot reach the chain RPC ({what})",
            hint="Check the RPC URL; on the devnet run `enclava devnet status`.",
        ) from exc
    except TimeExhausted as exc:
        raise ChainError(
            f"{what}: no receipt in time", hint="The chain may be stalled; retry later."
        ) from exc
    except ContractLogicError as exc:
        raise TransactionReverted(f"{what} reverted: {exc}") from exc
    except (Web3Exception, ValueError) as exc:
        raise ChainError(f"{what} failed: {exc}") from exc


class ChainClient:
    def __init__(self, rpc_url: str, *, timeout: float = 30.0) -> None:
        self.rpc_url = rpc_url
        self.w3 = Web3(Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": timeout}))

    @classmethod
    def from_manifest(cls, manifest: Manifest) -> ChainClient:
        return cls(manifest.rpc_url)

    def chain_id(self) -> int:
        with _translated("chain id"):
            return int(self.w3.eth.chain_id)

    def balance(self, address: str) -> int:
        with _translated("balance"):
            return int(self.w3.eth.get_balance(Web3.to_checksum_address(address)))

    def send(self, account: LocalAccount, tx: dict[str, Any], *, wait: float = 60.0) -> TxResult:
        """Fill nonce/gas/fees, sign with ``account``, send, and wait for the receipt."""
        with _translated("transaction"):
            filled = {
                "from": account.address,
                "chainId": self.w3.eth.chain_id,
                "nonce": self.w3.eth.get_transaction_count(account.address, "pending"),
                **tx,
            }
            if "gas" not in filled:
                # against the block the transaction will land in: its timestamp is what the contract
                # compares report times with, and "latest" may be seconds older than the wall clock
                filled["gas"] = (
                    int(self.w3.eth.estimate_gas(cast(TxParams, filled), "pending") * 1.2) + 10_000
                )
            if "maxFeePerGas" not in filled and "gasPrice" not in filled:
                base = int(self.w3.eth.get_block("latest").get("baseFeePerGas", 0))
                tip = int(self.w3.eth.max_priority_fee)
                filled.update(maxFeePerGas=2 * base + tip, maxPriorityFeePerGas=tip)
            signed = account.sign_transaction(filled)
            tx_hash = self.w3.eth.send_raw_transaction(signed.raw_transaction)
            receipt = self.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=wait)
        result = TxResult(
            "0x" + bytes(receipt["transactionHash"]).hex(),
            int(receipt["blockNumber"]),
            int(receipt["gasUsed"]),
            int(receipt["status"]),
        )
        if result.status != 1:
            raise TransactionFailed(f"transaction {result.tx_hash} failed on chain")
        return result

    def transfer(self, account: LocalAccount, to: str, value_wei: int) -> TxResult:
        return self.send(account, {"to": Web3.to_checksum_address(to), "value": int(value_wei)})
