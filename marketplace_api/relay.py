"""Relays an owner-signed EIP-712 ``ListResource`` to ``ResourceRegistry.listResourceBySig``.

The relayer pays the gas; the signature (owner's current nonce + deadline) is what authorises the
listing, and the contract checks it. :func:`list_resource_typed_data` is what a wallet signs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_typing import HexStr
from eth_utils.address import to_checksum_address
from web3.exceptions import Web3Exception
from web3.logs import DISCARD

from enclava.chain.errors import TransactionReverted
from enclava.chain.rpc import translated
from enclava.errors import ChainError
from enclava.protocol.eip712 import typed_data
from marketplace_api.chain import MarketChain
from marketplace_api.errors import RelayFailed
from marketplace_api.listings import OnChainListing

__all__ = ["list_resource_typed_data", "relay_listing", "RelayResult"]


def list_resource_typed_data(
    owner: str, listing: OnChainListing, *, nonce: int, deadline: int, chain_id: int, registry: str
) -> dict[str, Any]:
    """The EIP-712 ``ListResource`` message exactly as ResourceRegistry hashes it."""
    message = {
        "owner": to_checksum_address(owner),
        "kind": listing.kind,
        "cid": listing.cid,
        "contentHash": bytes.fromhex(listing.content_hash[2:]),
        "price": listing.price_wei,
        "metadataCid": listing.metadata_cid,
        "nonce": int(nonce),
        "deadline": int(deadline),
    }
    return typed_data("ListResource", message, chain_id=chain_id, contract=registry)


@dataclass(frozen=True)
class RelayResult:
    resource_id: int
    tx_hash: str
    block_number: int


def relay_listing(
    chain: MarketChain,
    relayer: LocalAccount,
    owner: str,
    listing: OnChainListing,
    deadline: int,
    signature: str,
) -> RelayResult:
    registry = chain.contracts.resource_registry
    sig = bytes.fromhex(signature.removeprefix("0x"))
    call = registry.functions.listResourceBySig(
        to_checksum_address(owner), listing.as_tuple(), deadline, sig
    )
    try:
        with translated("the relayed listing"):  # a revert comes back as its custom error
            tx = call.build_transaction({"from": relayer.address})
            tx.pop("nonce", None)
        result = chain.client.send(relayer, dict(tx))
        receipt = chain.client.w3.eth.get_transaction_receipt(HexStr(result.tx_hash))
    except TransactionReverted as exc:
        refused = exc.message.removeprefix("the relayed listing reverted: ")
        raise RelayFailed(
            f"the resource registry refused the listing: {refused}",
            hint=exc.hint if exc.error_name else None,
        ) from exc
    except (ChainError, Web3Exception, ValueError) as exc:
        raise RelayFailed(f"the resource registry refused the listing: {exc}") from exc
    events = registry.events.ResourceListed().process_receipt(receipt, errors=DISCARD)
    return RelayResult(int(events[0]["args"]["resourceId"]), result.tx_hash, result.block_number)
