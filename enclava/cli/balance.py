"""`enclava balance ...`: credited balances: show and withdraw what the marketplace owes you.

Payouts are pull payments: the marketplace credits an account (a model or data owner's price, a
provider's used time), and the account's owner withdraws the credit to their wallet. What an order
owes its customer (unused compute, a cancelled, failed or timed-out escrow) is sent straight to the
customer's wallet; only a wallet that refuses a plain transfer (some contract wallets) is credited
instead and withdraws here.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console

from enclava.cli.context import (
    DevnetOption,
    ManifestOption,
    WalletOption,
    eth,
    network,
    unlock_wallet,
)
from enclava.cli.errors import NothingToWithdraw
from enclava.console import friendly_errors
from enclava.wallet import wallet_info

if TYPE_CHECKING:
    from enclava.chain.market import MarketClient

app = typer.Typer(
    help="Credited balances: show and withdraw what the marketplace owes you.", no_args_is_help=True
)
console = Console()


@app.command()
@friendly_errors
def show(
    wallet: str = WalletOption, devnet: str = DevnetOption, manifest: Path = ManifestOption
) -> None:
    """Your wallet's balance on chain and the credit the marketplace holds for it (no password
    needed)."""
    address = wallet_info(wallet).address
    market = network(devnet, manifest).market
    console.print(f"wallet {wallet} {address}")
    console.print(f"  chain balance:    {eth(market.chain.balance(address))}")
    credit = market.credit_of(address)
    console.print(f"  credited balance: {eth(credit)}")
    typer.echo(f"credit_wei={credit}")


@app.command()
@friendly_errors
def withdraw(
    wallet: str = WalletOption, devnet: str = DevnetOption, manifest: Path = ManifestOption
) -> None:
    """Move your whole credited balance to your wallet."""
    market = network(devnet, manifest).market
    address = wallet_info(wallet).address
    credit = market.credit_of(address)
    if credit == 0:
        raise NothingToWithdraw(f"the marketplace holds no credit for {address}")
    _require_gas_for_withdraw(market, address)
    account = unlock_wallet(wallet)
    tx = market.withdraw(account)
    console.print(
        f"[green]withdrew {eth(credit)}[/] to {address}: tx {tx.tx_hash} (gas {tx.gas_used})"
    )
    console.print(
        f"  chain balance now {eth(market.chain.balance(address))}; "
        f"credited balance {eth(market.credit_of(address))}"
    )
    typer.echo(f"withdrawn_wei={credit}")


def _require_gas_for_withdraw(market: MarketClient, address: str) -> None:
    """Refuse, before the password prompt, a withdrawal the wallet cannot pay the gas of: the
    credit arrives only with the transaction, so a wallet with 0 ETH cannot collect it."""
    from enclava.cli.gas import require_gas

    contract = market.contracts.marketplace
    tx = {"to": contract.address, "data": contract.encode_abi("withdraw")}
    require_gas(market.chain, address, tx, what="the withdrawal")
