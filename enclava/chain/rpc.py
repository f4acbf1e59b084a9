"""A thin web3.py client: connect by RPC URL, sign locally with eth-account, wait for receipts.

Every web3/RPC failure leaves this module as :class:`enclava.errors.ChainError` with a hint; a
revert as :class:`~enclava.chain.errors.TransactionReverted` with the contract's custom error
decoded (:mod:`enclava.chain.revert`), whether the node refused it before sending (gas estimate,
call) or mined it with status 0 (then the call is replayed on the block before to read the error).
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

from enclava.chain.errors import CallInvalid, TransactionFailed
from enclava.chain.revert import revert_error
from enclava.errors import ChainError

if TYPE_CHECKING:
    from enclava.chain.config import Manifest

__all__ = ["ChainClient", "TxResult", "translated", "revert_data"]


@dataclass(frozen=True)
class TxResult:
    tx_hash: str
    block_number: int
    gas_used: int
    status: int


@contextmanager
def translated(what: str) -> Iterator[None]:
    """web3/RPC errors raised inside as Enclava's: unreachable or stalled -> ``ChainError``, a
    revert -> ``TransactionReverted`` with the custom error decoded. Wrap a contract ``.call()``
    in it too, so a view's revert reads like a transaction's."""
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
    except ContractLogicError as exc:  # ContractCustomError, ContractPanicError, Error(string)
        raise revert_error(what, revert_data(exc), fallback=str(exc)) from exc
    except (Web3Exception, ValueError) as exc:
        raise ChainError(f"{what} failed: {exc}") from exc


def revert_data(exc: ContractLogicError) -> Any:
    """The revert payload web3 kept: a hex string, or a node's ``{"data": ...}`` mapping."""
    data = exc.data
    if isinstance(data, dict):
        return data.get("data")
    return data


class ChainClient:
    def __init__(self, rpc_url: str, *, timeout: float = 30.0) -> None:
        self.rpc_url = rpc_url
        self.w3 = Web3(Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": timeout}))

    @classmethod
    def from_manifest(cls, manifest: Manifest) -> ChainClient:
        return cls(manifest.rpc_url)

    def chain_id(self) -> int:
        with translated("chain id"):
            return int(self.w3.eth.chain_id)

    def balance(self, address: str) -> int:
        with translated("balance"):
            return int(self.w3.eth.get_balance(Web3.to_checksum_address(address)))

    def _fill(self, sender: str, tx: dict[str, Any]) -> dict[str, Any]:
        """``tx`` with chain id, nonce, gas and fees filled as :meth:`send` sends it."""
        filled = {
            "from": Web3.to_checksum_address(sender),
            "chainId": self.w3.eth.chain_id,
            "nonce": self.w3.eth.get_transaction_count(Web3.to_checksum_address(sender), "pending"),
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
        return filled

    def max_gas_cost(self, sender: str, tx: dict[str, Any]) -> int:
        """The most wei ``tx`` from ``sender`` can spend on gas when :meth:`send` sends it (the
        node checks the sender's balance against this, plus the value)."""
        with translated("gas estimate"):
            filled = self._fill(sender, tx)
        return int(filled["gas"]) * int(filled.get("maxFeePerGas", filled.get("gasPrice", 0)))

    def send_call(self, account: LocalAccount, call: Any, *, value: int = 0) -> TxResult:
        """Send a bound contract function call (``contract.functions.f(...)``) from ``account``:
        encoded here (a call that cannot be encoded is :class:`CallInvalid`), then :meth:`send`."""
        try:
            tx = call.build_transaction(
                {
                    "from": account.address,
                    "value": int(value),
                    "gas": 0,
                    "maxFeePerGas": 0,
                    "maxPriorityFeePerGas": 0,
                    "nonce": 0,
                }
            )
        except Exception as exc:  # web3 raises many types while encoding arguments
            raise CallInvalid(f"cannot encode the call: {exc}") from exc
        return self.send(account, {"to": tx["to"], "data": tx["data"], "value": int(value)})

    def send(self, account: LocalAccount, tx: dict[str, Any], *, wait: float = 60.0) -> TxResult:
        """Fill nonce/gas/fees, sign with ``account``, send, and wait for the receipt."""
        with translated("transaction"):
            filled = self._fill(account.address, tx)
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
            raise self._mined_failure(filled, result)
        return result

    def _mined_failure(self, tx: dict[str, Any], result: TxResult) -> TransactionFailed:
        """Why a mined transaction failed: its call replayed on the block before it, so a revert
        comes back with its custom error; an out-of-gas (the replay passes) stays undecoded."""
        what = f"transaction {result.tx_hash}"
        call = {k: tx[k] for k in ("from", "to", "data", "value", "gas") if k in tx}
        try:
            self.w3.eth.call(cast(TxParams, call), max(result.block_number - 1, 0))
        except ContractLogicError as exc:
            error = revert_error(what, revert_data(exc), fallback=str(exc), mined=True)
            return cast(TransactionFailed, error)  # mined=True builds a TransactionFailed
        except (Web3Exception, ValueError, requests.RequestException, ConnectionError):
            pass  # the replay is a courtesy; the failure itself is certain
        return TransactionFailed(
            f"{what} failed on chain",
            hint="It ran out of gas or its effect depended on a state that changed; retry.",
        )

    def transfer(self, account: LocalAccount, to: str, value_wei: int) -> TxResult:
        return self.send(account, {"to": Web3.to_checksum_address(to), "value": int(value_wei)})
