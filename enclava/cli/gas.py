"""What a transaction will cost in gas, checked before it is sent.

A fresh wallet that was credited a payout still needs ETH of its own to send the ``withdraw`` that
collects it. :func:`require_gas` asks :meth:`enclava.chain.rpc.ChainClient.max_gas_cost` for the
most the transaction can spend on gas as ``send`` fills it (what the node checks the balance
against), and refuses with :class:`~enclava.cli.errors.GasUnaffordable` and a hint to fund the
wallet when it cannot pay.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from enclava.cli.errors import GasUnaffordable

if TYPE_CHECKING:
    from enclava.chain.rpc import ChainClient

__all__ = ["require_gas", "fund_hint"]


def fund_hint(address: str, chain_id: int) -> str:
    """How to get ETH to ``address`` on this chain."""
    from enclava.devnet.services import CHAIN_ID as DEVNET_CHAIN_ID

    if chain_id == DEVNET_CHAIN_ID:
        return f"Fund it on the devnet: `enclava devnet fund {address}`."
    return f"Send ETH for gas to {address} from a funded wallet."


def require_gas(chain: ChainClient, sender: str, tx: dict[str, Any], *, what: str) -> int:
    """The gas cost of ``tx``; :class:`GasUnaffordable` when ``sender`` cannot pay it (plus the
    value it sends)."""
    cost = chain.max_gas_cost(sender, tx)
    balance = chain.balance(sender)
    needed = cost + int(tx.get("value", 0))
    if balance < needed:
        raise GasUnaffordable(
            f"{what} needs up to {needed} wei for gas but {sender} holds {balance} wei",
            hint=fund_hint(sender, chain.chain_id()),
        )
    return cost
