"""`enclava service ...`: confidential serving: token prices, services, deposits, saved responses.

A model owner prices a model's tokens (`service price`); anyone lists the services started on chain
(`service list`, `service show`); a customer deposits a prepaid balance for a service, asks to
close the account and reclaims what is left after the notice (`deposit`, `close`, `reclaim`,
`account`); `service verify RESPONSE.json` checks a response `enclava chat --save-dir` saved,
offline (docs/SERVING.md).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.table import Table

from enclava.cli.context import (
    DevnetOption,
    ManifestOption,
    WalletOption,
    eth,
    network,
    read_resource,
    unlock_wallet,
)
from enclava.cli.values import parse_price
from enclava.console import friendly_errors, print_error
from enclava.errors import ConfigError, EnclavaError

if TYPE_CHECKING:
    from enclava.chain.services import ServiceClient, ServiceState
    from enclava.cli.context import CliContext
    from enclava.protocol.service_terms import ServiceTerms

__all__ = [
    "app",
    "services_of",
    "NotYourModel",
    "ServiceNotLiveOnChain",
    "ServiceNoEndpoint",
    "NothingToReclaim",
    "CloseNoticePending",
    "CaCertificateMissing",
]

app = typer.Typer(
    help="Confidential serving: token prices, services, deposits, verify saved responses.",
    no_args_is_help=True,
)
console = Console()


# ---------------------------------------------------------------- errors


class NotYourModel(EnclavaError):
    code = "not_your_model"
    hint = "Use the wallet that published the model (--wallet NAME)."


class ServiceNotLiveOnChain(EnclavaError):
    code = "service_not_live"
    hint = "Pick a live service from `enclava service list`."


class ServiceNoEndpoint(EnclavaError):
    code = "service_no_endpoint"
    hint = "The provider has not published the service's endpoint yet; try again shortly."


class NothingToReclaim(EnclavaError):
    code = "nothing_to_reclaim"
    hint = "See `enclava service account SERVICE_ID`: the balance is 0."


class CloseNoticePending(EnclavaError):
    code = "close_notice_pending"
    hint = "Wait until the account's closable time (`enclava service account SERVICE_ID`)."


class CaCertificateMissing(ConfigError):
    code = "ca_certificate_missing"
    hint = "Give the attested CA's certificate as a PEM file (--ca-certificate PATH)."


# ---------------------------------------------------------------- helpers


def services_of(ctx: CliContext) -> ServiceClient:
    """The network's ServiceMarket client (shares the market's chain connection)."""
    from enclava.chain.services import ServiceClient

    market = ctx.market
    return ServiceClient(
        market.chain, market.contracts, from_block=int(ctx.manifest.deploy_block or 0)
    )


def _when(timestamp: int) -> str:
    if not timestamp:
        return "-"
    moment = dt.datetime.fromtimestamp(int(timestamp), tz=dt.timezone.utc)
    return f"{moment:%Y-%m-%d %H:%M:%S} UTC ({int(timestamp)})"


def _provider_price(terms: ServiceTerms) -> str:
    unit = "wei/token" if terms.provider_per_token else "wei/s"
    return f"{terms.provider_price} {unit}"


def _state_word(state: ServiceState, now: int) -> str:
    if state.live_at(now):
        return "live"
    return "ended" if state.status.name == "LIVE" else state.status.name.lower()


def _checked_id(service_id: str) -> str:
    from enclava.chain.services import service_id_bytes

    return "0x" + service_id_bytes(service_id).hex()


# ---------------------------------------------------------------- model owners


@app.command()
@friendly_errors
def price(
    model_id: int = typer.Argument(..., help="Resource id of your model."),
    input_price: str = typer.Option(
        ..., "--input", help="Price per input (prompt) token: wei, gwei or ETH."
    ),
    output_price: str = typer.Option(
        ..., "--output", help="Price per output (completion) token: wei, gwei or ETH."
    ),
    wallet: str = WalletOption,
    devnet: str = DevnetOption,
    manifest: Path = ManifestOption,
) -> None:
    """Model owners: price a model's tokens for serving (both 0: not offered for serving)."""
    from enclava.wallet import wallet_info

    inp, out = parse_price(input_price), parse_price(output_price)
    ctx = network(devnet, manifest)
    try:
        resource = read_resource(ctx.market, model_id)
        address = wallet_info(wallet).address
        if str(resource["owner"]).lower() != str(address).lower():
            raise NotYourModel(
                f"resource {model_id} belongs to {resource['owner']}, not to {address}"
            )
        services = services_of(ctx)
        account = unlock_wallet(wallet)
        tx = services.set_token_prices(account, model_id, input_price=inp, output_price=out)
        now_in, now_out = services.token_prices(model_id)
    finally:
        ctx.close()
    console.print(
        f"[green]model {model_id} priced[/]: {now_in} wei per input token, {now_out} wei per "
        f"output token (tx {tx.tx_hash}, gas {tx.gas_used})"
    )
    typer.echo(f"input_price_wei={now_in}")
    typer.echo(f"output_price_wei={now_out}")


# ---------------------------------------------------------------- anyone


@app.command("list")
@friendly_errors
def list_services(
    provider: str | None = typer.Option(None, "--provider", help="Only this provider's services."),
    devnet: str = DevnetOption,
    manifest: Path = ManifestOption,
) -> None:
    """Services started on chain: id, model, provider, token prices, live or not, endpoint."""
    ctx = network(devnet, manifest)
    try:
        services = services_of(ctx)
        started = services.started_services(provider=provider)
        now = services.chain_time()
        table = Table(title=f"services ({len(started)})")
        for column in ("service id", "model", "provider", "input", "output", "provider price"):
            table.add_column(column, overflow="fold")
        table.add_column("state")
        table.add_column("endpoint", overflow="fold")
        lines = []
        for terms in started:
            state = services.service_state(terms.service_id)
            endpoint = services.endpoint(terms.service_id) or "-"
            word = _state_word(state, now)
            table.add_row(
                terms.service_id,
                str(terms.model_id),
                terms.provider,
                f"{terms.input_token_price} wei",
                f"{terms.output_token_price} wei",
                _provider_price(terms),
                word,
                endpoint,
            )
            lines.append(f"service={terms.service_id} model={terms.model_id} {word} {endpoint}")
    finally:
        ctx.close()
    console.print(table)
    for line in lines:
        typer.echo(line)


@app.command()
@friendly_errors
def show(
    service_id: str = typer.Argument(..., help="0x + 64 hex digits"),
    devnet: str = DevnetOption,
    manifest: Path = ManifestOption,
) -> None:
    """One service's terms, state, enclave and endpoint."""
    service_id = _checked_id(service_id)
    ctx = network(devnet, manifest)
    try:
        services = services_of(ctx)
        terms = services.terms(service_id)
        state = services.service_state(service_id)
        endpoint = services.endpoint(service_id)
        now = services.chain_time()
    finally:
        ctx.close()
    table = Table(title="service", show_header=False)
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    table.add_row("service id", service_id)
    table.add_row("state", _state_word(state, now))
    table.add_row("model", f"{terms.model_id} (owner {terms.model_owner})")
    table.add_row("model hash", terms.model_hash)
    table.add_row("provider", f"{terms.provider} (TEE offer {terms.tee_offer_id})")
    table.add_row("input token price", f"{terms.input_token_price} wei")
    table.add_row("output token price", f"{terms.output_token_price} wei")
    table.add_row("provider price", _provider_price(terms))
    table.add_row("ends at", _when(terms.ends_at))
    if state.stopped_at:
        table.add_row("stopped at", _when(state.stopped_at))
    table.add_row("enclave", state.enclave or "- (none bound)")
    table.add_row("endpoint", endpoint or "- (none published)")
    console.print(table)
    typer.echo(f"live={str(state.live_at(now)).lower()}")
    typer.echo(f"endpoint={endpoint or ''}")


# ---------------------------------------------------------------- customers


@app.command()
@friendly_errors
def deposit(
    service_id: str = typer.Argument(..., help="0x + 64 hex digits"),
    amount: str = typer.Option(..., "--amount", help="How much to deposit: wei, gwei or ETH."),
    wallet: str = WalletOption,
    devnet: str = DevnetOption,
    manifest: Path = ManifestOption,
) -> None:
    """Add to your prepaid balance for a live service (what your vouchers are paid from)."""
    from enclava.chain.services import service_id_bytes
    from enclava.cli.gas import require_gas
    from enclava.wallet import wallet_info

    service_id = _checked_id(service_id)
    value = parse_price(amount)
    ctx = network(devnet, manifest)
    try:
        services = services_of(ctx)
        if not services.is_live(service_id):
            raise ServiceNotLiveOnChain(f"service {service_id} is not live on this chain")
        address = wallet_info(wallet).address
        contract = services.market
        data = contract.encode_abi("deposit", args=[service_id_bytes(service_id)])
        tx_body = {"to": contract.address, "data": data, "value": value}
        require_gas(services.chain, address, tx_body, what="the deposit")
        account = unlock_wallet(wallet)
        tx = services.deposit(account, service_id, value)
        balance = services.account(service_id, address).balance
    finally:
        ctx.close()
    console.print(f"[green]deposited {eth(value)}[/]: tx {tx.tx_hash} (gas {tx.gas_used})")
    console.print(f"  balance for the service now {eth(balance)}")
    typer.echo(f"balance_wei={balance}")


@app.command()
@friendly_errors
def close(
    service_id: str = typer.Argument(..., help="0x + 64 hex digits"),
    wallet: str = WalletOption,
    devnet: str = DevnetOption,
    manifest: Path = ManifestOption,
) -> None:
    """Ask to close your account: after the notice, `service reclaim` pays back what is left."""
    service_id = _checked_id(service_id)
    ctx = network(devnet, manifest)
    try:
        services = services_of(ctx)
        account = unlock_wallet(wallet)
        tx = services.request_close(account, service_id)
        closable_at = _closable_at(services, service_id, account.address)
    finally:
        ctx.close()
    console.print(f"[green]close requested[/]: tx {tx.tx_hash} (gas {tx.gas_used})")
    console.print(f"  reclaim from {_when(closable_at)}: the provider may settle until then")
    typer.echo(f"closable_at={closable_at}")


@app.command()
@friendly_errors
def reclaim(
    service_id: str = typer.Argument(..., help="0x + 64 hex digits"),
    wallet: str = WalletOption,
    devnet: str = DevnetOption,
    manifest: Path = ManifestOption,
) -> None:
    """Once your account has closed, pay back to your wallet what is left of your deposit."""
    from enclava.wallet import wallet_info

    service_id = _checked_id(service_id)
    ctx = network(devnet, manifest)
    try:
        services = services_of(ctx)
        address = wallet_info(wallet).address
        left = services.account(service_id, address).balance
        if left == 0:
            raise NothingToReclaim(f"{address} holds nothing for service {service_id}")
        closable_at = _closable_at(services, service_id, address)
        if services.chain_time() < closable_at:
            raise CloseNoticePending(
                f"the account closes at {_when(closable_at)}"
                + ("" if _requested(services, service_id, address) else "; ask with `close`")
            )
        account = unlock_wallet(wallet)
        tx = services.reclaim(account, service_id)
    finally:
        ctx.close()
    console.print(f"[green]reclaimed {eth(left)}[/] to {address}: tx {tx.tx_hash}")
    typer.echo(f"reclaimed_wei={left}")


@app.command("account")
@friendly_errors
def account_command(
    service_id: str = typer.Argument(..., help="0x + 64 hex digits"),
    wallet: str = WalletOption,
    devnet: str = DevnetOption,
    manifest: Path = ManifestOption,
) -> None:
    """Your account for a service: balance, what was settled, when it can close (no password)."""
    from enclava.wallet import wallet_info

    service_id = _checked_id(service_id)
    ctx = network(devnet, manifest)
    try:
        services = services_of(ctx)
        address = wallet_info(wallet).address
        acct = services.account(service_id, address)
        closable_at = _closable_at(services, service_id, address)
        requested = acct.closable_at != 0
    finally:
        ctx.close()
    table = Table(title=f"account of {address}", show_header=False)
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    table.add_row("service", service_id)
    table.add_row("balance", eth(acct.balance))
    table.add_row("settled", eth(acct.settled_amount))
    table.add_row(
        "settled usage",
        f"{acct.input_tokens} input tokens, {acct.output_tokens} output tokens, "
        f"{acct.compute_ms} ms",
    )
    closes = _when(closable_at) + ("" if requested else " (end of the service + notice)")
    table.add_row("closable at", closes)
    console.print(table)
    typer.echo(f"balance_wei={acct.balance}")
    typer.echo(f"settled_wei={acct.settled_amount}")
    typer.echo(f"closable_at={closable_at}")


def _requested(services: ServiceClient, service_id: str, address: str) -> bool:
    return services.account(service_id, address).closable_at != 0


def _closable_at(services: ServiceClient, service_id: str, address: str) -> int:
    """When ``reclaim`` is allowed, as the contract's ``_closesAt`` computes it: the requested
    time, or the service's end (its stop, if stopped) plus the notice, whichever is first."""
    requested = services.account(service_id, address).closable_at
    state = services.service_state(service_id)
    end = state.stopped_at if state.status.name == "STOPPED" else state.ends_at
    closes = end + services.close_notice()
    return requested if requested and requested < closes else closes


# ---------------------------------------------------------------- offline


@app.command()
def verify(
    response: Path = typer.Argument(..., dir_okay=False, help="A saved response (JSON)."),
    ca_certificate: Path | None = typer.Option(
        None,
        "--ca-certificate",
        dir_okay=False,
        help="The attested CA's certificate (PEM): also check the enclave's certificate chain.",
    ),
    customer: str | None = typer.Option(
        None, "--customer", help="The receipt must be for this address."
    ),
) -> None:
    """Check a saved response offline: the enclave's signatures over exactly these bytes.

    Exit 0 and ``verified=true`` when every check passes; else the typed refusal and its hint,
    ``verified=false``, exit 1."""
    from enclava.client.serving import verify_saved_response

    try:
        pem = None
        if ca_certificate is not None:
            if not ca_certificate.is_file():
                raise CaCertificateMissing(f"no CA certificate at {ca_certificate}")
            pem = ca_certificate.read_text(encoding="utf-8")
        exchange = verify_saved_response(response, ca_certificate_pem=pem, customer=customer)
    except EnclavaError as exc:
        typer.echo("verified=false")
        print_error(exc)
        raise typer.Exit(code=1) from None
    statement, receipt = exchange.statement, exchange.receipt
    table = Table(title=f"verified: {response.name}", show_header=False)
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    table.add_row("service", statement.service_id)
    table.add_row("chain id", str(statement.chain_id))
    table.add_row("enclave", statement.enclave)
    table.add_row("model", f"{statement.model_name} (ciphertext {statement.model_hash})")
    table.add_row("weights SHA-256", statement.weights_sha256)
    table.add_row("customer", receipt.customer)
    table.add_row(
        "exchange", f"{exchange.method} {exchange.path}" + (" (stream)" * bool(exchange.streamed))
    )
    table.add_row("sequence", str(receipt.sequence))
    table.add_row(
        "counts",
        f"{receipt.prompt_tokens} prompt tokens, {receipt.completion_tokens} completion tokens, "
        f"{receipt.compute_ms} ms",
    )
    cumulative = receipt.cumulative
    table.add_row(
        "cumulative",
        f"{cumulative.input_tokens} input, {cumulative.output_tokens} output, "
        f"{cumulative.compute_ms} ms",
    )
    table.add_row("signed at", _when(receipt.created_at))
    console.print(table)
    chain = "chains to the CA given" if pem is not None else "not checked (no --ca-certificate)"
    console.print(f"enclave certificate: {chain}")
    console.print(
        "not checkable offline: whether the enclave was revoked since, and the sequence against "
        "your other receipts"
    )
    typer.echo("verified=true")
    typer.echo(f"sequence={receipt.sequence}")
