"""`enclava order ...`: customers: place orders, watch them, fetch and decrypt results, cancel.

`order create` shows what the escrow pays for and asks before paying. `order result` downloads the
result ciphertext (kept as ``result.age`` next to the plaintext, for `report verify
--result-dir`), checks its SHA-256 against the signed report, and decrypts it with the key derived
from your wallet.
"""

from __future__ import annotations

import io
import tarfile
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

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
from enclava.cli.errors import (
    FileMissing,
    InsufficientFunds,
    NotYourOrder,
    OrderDeclined,
    OrderFinished,
    OrderRunning,
    TeeOfferUnavailable,
)
from enclava.cli.options import DeprecatedOfferOption, TeeOfferOption, resolve_tee_offer
from enclava.cli.progress import Advance, transfer, waiting
from enclava.cli.values import RESULT_CIPHERTEXT, check_order_id
from enclava.console import friendly_errors
from enclava.errors import IntegrityError
from enclava.protocol.engine.reasons import describe_reason
from enclava.protocol.order import OrderStatus

if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount

    from enclava.chain.market import MarketClient
    from enclava.cli.context import CliContext

__all__ = ["app", "RESULT_CIPHERTEXT", "check_order_id"]

app = typer.Typer(
    help="Customers: place orders, watch them, fetch and decrypt results, cancel.",
    no_args_is_help=True,
)
console = Console()
_SHOW_BYTES = 4096


@app.command()
@friendly_errors
def create(
    engine: int = typer.Option(..., "--engine", help="Resource id of the engine."),
    resource: list[int] = typer.Option(
        [], "--resource", help="Resource id of a model or dataset (repeat)."
    ),
    tee_offer: int | None = TeeOfferOption,
    offer: int | None = DeprecatedOfferOption,
    input_: list[Path] = typer.Option(
        [], "--input", dir_okay=False, help="Your input file (repeat)."
    ),
    max_duration: int = typer.Option(
        600, "--max-duration", min=1, help="Seconds the provider may take."
    ),
    yes: bool = typer.Option(False, "--yes", "-y", help="Pay without asking."),
    wallet: str = WalletOption,
    devnet: str = DevnetOption,
    manifest: Path = ManifestOption,
) -> None:
    """Encrypt and upload your inputs, show the price, and place the order (escrow paid on
    chain)."""
    # the order's clients load when a command runs, not for `enclava --help` (issue 15)
    from enclava.client.orders import place_order
    from enclava.crypto import wallet_recipient

    tee_offer_id = resolve_tee_offer(tee_offer, offer)
    for path in input_:
        if not path.is_file():
            raise FileMissing(f"no input file at {path}", hint="Check the --input path.")
    ctx = network(devnet, manifest)
    try:
        market = ctx.market
        account = unlock_wallet(wallet)
        _preflight(ctx, account, engine, resource, tee_offer_id, input_)
        rows = [("engine", engine, _price_of(market, engine))]
        rows += [("resource", rid, _price_of(market, rid)) for rid in resource]
        terms = market.tee_offer_terms(tee_offer_id)
        if not terms["available"] or int(terms["provider"], 16) == 0:
            raise TeeOfferUnavailable(f"TEE offer {tee_offer_id} is not available")
        compute = terms["price_per_second"] * max_duration
        total = market.quote(engine, resource, tee_offer_id, max_duration)
        _print_breakdown(rows, terms, max_duration, compute, total)
        balance = market.chain.balance(account.address)
        console.print(f"wallet {account.address}: {eth(balance)}")
        if balance < total:
            raise InsufficientFunds(f"the wallet holds {eth(balance)}, the escrow is {eth(total)}")
        if not yes and not typer.confirm(
            f"Pay {eth(total)} into escrow and place the order?", default=False
        ):
            raise OrderDeclined("order not placed")
        inputs = [path.read_bytes() for path in input_]
        with transfer("upload encrypted inputs, then place the order", total=None) as advance:
            placed = place_order(
                market,
                ctx.store,
                ctx.broker,
                account,
                engine_id=engine,
                resource_ids=resource,
                tee_offer_id=tee_offer_id,
                inputs=inputs,
                recipient=wallet_recipient(account),
                max_duration=max_duration,
                progress=_upload_bar(advance),
            )
    finally:
        ctx.close()
    console.print(
        f"[green]order placed[/]: escrow {eth(placed.escrow)}, tx {placed.tx_hash}, gas "
        f"{placed.gas_used}"
    )
    for path, cid in zip(input_, placed.input_cids):
        console.print(f"  input {path.name}: {cid}")
    typer.echo(f"order_id={placed.order_id}")


@app.command()
@friendly_errors
def status(
    order_id: str = typer.Argument(..., help="0x + 64 hex digits"),
    watch: bool = typer.Option(False, "--watch", help="Follow the order until it ends."),
    timeout: float = typer.Option(900.0, "--timeout", help="Seconds --watch waits at most."),
    wallet: str | None = typer.Option(
        None,
        "--wallet",
        "-w",
        help="Your wallet (the order's customer): decrypt a failed order's detail and show the "
        "engine's error output.",
    ),
    devnet: str = DevnetOption,
    manifest: Path = ManifestOption,
) -> None:
    """The order's state; with --watch, follow it until it ends (exit 1 unless it completed).

    A failed order shows its reason in words and what to do; with --wallet, also the engine's own
    error output, which the enclave encrypted to you alone."""
    order_id = check_order_id(order_id)
    ctx = network(devnet, manifest)
    market = ctx.market
    order = market.order(order_id)
    if watch and not order.status.terminal:
        from enclava.client.orders import wait_for_order

        with waiting(f"order {order_id[:10]}…: {order.status.name}") as update:
            order = wait_for_order(
                market,
                order_id,
                timeout=timeout,
                on_status=lambda s: update(f"order {order_id[:10]}…: {s.name}"),
            )
    table = Table(title="order", show_header=False)
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    table.add_row("order id", order_id)
    table.add_row("status", order.status.name)
    table.add_row("customer", order.terms.customer)
    table.add_row("provider", order.terms.provider)
    table.add_row("escrow", eth(order.terms.escrow))
    table.add_row("max duration", f"{order.terms.max_duration} s")
    if order.enclave:
        table.add_row("enclave", order.enclave)
    failure = market.failure(order_id) if order.status == OrderStatus.FAILED else None
    console.print(table)
    if failure is not None:
        words = describe_reason(failure[0])
        typer.echo(f"failure reason: {words.line()}")
        typer.echo(f"what to do: {words.hint}")
        if wallet is not None:
            _show_failure_detail(ctx, order_id, wallet, has_detail=bool(failure[1]))
    typer.echo(f"status={order.status.name}")
    if watch and order.status != OrderStatus.COMPLETED:
        raise typer.Exit(code=1)


def _show_failure_detail(ctx: CliContext, order_id: str, wallet: str, *, has_detail: bool) -> None:
    """Decrypt the failed order's detail with ``wallet`` and print the engine's error output."""
    from enclava.client.orders import failure_detail
    from enclava.crypto import wallet_identity

    if not has_detail:
        console.print("no failure detail: the enclave stored none for this order")
        return
    account = unlock_wallet(wallet)
    detail = failure_detail(ctx.market, ctx.store, order_id, wallet_identity(account))
    if detail is None:
        return
    console.print("[bold]enclave's message:[/] ", end="")
    console.print(_printable(detail.message), markup=False, highlight=False)
    if detail.stderr_tail:
        console.print("[bold]engine's error output (stderr, last lines):[/]")
        console.print(_printable(detail.stderr_tail.rstrip("\n")), markup=False, highlight=False)
    else:
        console.print("the engine wrote nothing to stderr")


def _printable(text: str) -> str:
    """``text`` with control characters (terminal escapes an engine may write) shown as escapes."""
    return "".join(
        c if c.isprintable() or c in "\n\t" else f"\\x{ord(c):02x}" if ord(c) < 256 else "\ufffd"
        for c in text
    )


@app.command()
@friendly_errors
def result(
    order_id: str = typer.Argument(..., help="0x + 64 hex digits"),
    out: Path = typer.Option(..., "--out", file_okay=False, help="Folder for the result files."),
    wallet: str = WalletOption,
    devnet: str = DevnetOption,
    manifest: Path = ManifestOption,
) -> None:
    """Download the result, check it against the signed report, decrypt it with your wallet, show
    it."""
    from enclava.client.orders import completed_report
    from enclava.crypto import open_sealed, wallet_identity

    order_id = check_order_id(order_id)
    ctx = network(devnet, manifest)
    try:
        report, _ = completed_report(ctx.market, order_id)
        account = unlock_wallet(wallet)
        out.mkdir(parents=True, exist_ok=True)
        target = out / RESULT_CIPHERTEXT
        with transfer("download result", total=None) as advance:
            advance.set_total(ctx.store.stat(report.output_cid).size)
            ctx.store.get(
                report.output_cid,
                target,
                expected_sha256=report.output_hash.hex(),
                max_size=1 << 30,
                progress=advance,
            )
    finally:
        ctx.close()
    archive = open_sealed(target.read_bytes(), wallet_identity(account))
    written = _unpack(archive, out)
    console.print(
        f"[green]result verified[/] (SHA-256 0x{report.output_hash.hex()} as signed in the report) "
        f"and decrypted into {out}"
    )
    for path in written:
        console.print(f"[bold]{path.relative_to(out)}[/] ({path.stat().st_size} bytes)")
        data = path.read_bytes()
        if len(data) <= _SHOW_BYTES and _is_text(data):
            console.print(data.decode(), markup=False, highlight=False)


@app.command()
@friendly_errors
def cancel(
    order_id: str = typer.Argument(..., help="0x + 64 hex digits"),
    wallet: str = WalletOption,
    devnet: str = DevnetOption,
    manifest: Path = ManifestOption,
) -> None:
    """Cancel an order nobody accepted yet (or end one whose deadline passed): the escrow comes back
    to your wallet."""
    order_id = check_order_id(order_id)
    ctx = network(devnet, manifest)
    market = ctx.market
    order = market.order(order_id)
    account = unlock_wallet(wallet)
    if account.address != order.terms.customer:
        raise NotYourOrder(
            f"order {order_id} belongs to {order.terms.customer}, not to {account.address}"
        )
    if order.status == OrderStatus.OPEN:
        tx = market.cancel_order(account, order.terms)
    elif order.status == OrderStatus.ACCEPTED and market.chain_time() > order.deadline:
        tx = market.timeout_order(account, order.terms)
    elif order.status == OrderStatus.ACCEPTED:
        raise OrderRunning(
            f"order {order_id} is accepted and runs until {order.deadline} (chain time)"
        )
    else:
        raise OrderFinished(f"order {order_id} is already {order.status.name}")
    console.print(f"[green]order {market.status(order_id).name.lower()}[/]: tx {tx.tx_hash}")
    refunded = market.refunded(order_id, account.address)
    if refunded:
        console.print(f"{eth(refunded)} sent back to your wallet")
    else:
        console.print(
            "your wallet refused a direct transfer, so the refund was credited; "
            f"balance now {eth(market.credit_of(account.address))}: `enclava balance withdraw` "
            f"moves it"
        )


def _preflight(
    ctx: CliContext,
    account: LocalAccount,
    engine: int,
    resources: list[int],
    tee_offer_id: int,
    inputs: list[Path],
) -> None:
    """``order create``'s checks before anything is uploaded or paid (a typed refusal with a hint,
    see :mod:`enclava.client.preflight`); checks that cannot run are printed as notes."""
    from enclava.client.preflight import preflight_order

    for resource_id in [engine, *resources]:
        read_resource(ctx.market, resource_id)  # an unknown id: the CLI's resource_not_found
    checked = preflight_order(
        ctx.market,
        api=lambda: ctx.api,
        broker=ctx.broker,
        customer=account,
        engine_id=engine,
        resource_ids=resources,
        tee_offer_id=tee_offer_id,
        inputs=inputs,
    )
    for note in checked.notes:
        console.print(f"[yellow]note[/]: {note}")
    schema = " and the engine's input schema" if checked.input_schema is not None else ""
    console.print(
        f"pre-flight: resource kinds, TEE offer {tee_offer_id} ({checked.offer.free_slots} of "
        f"{checked.offer.slots} slots free){schema} and the owners' key policies check out"
    )


def _upload_bar(advance: Advance) -> Callable[[int, int], None]:
    """``place_order``'s ``progress(done, total)`` drawn on a :func:`transfer` bar."""
    shown = 0

    def progress(done: int, total: int) -> None:
        nonlocal shown
        if done == 0:
            advance.set_total(total)
        advance(done - shown)
        shown = done

    return progress


def _price_of(market: MarketClient, resource_id: int) -> int:
    return int(read_resource(market, resource_id)["price"])


def _print_breakdown(
    rows: list[tuple[str, int, int]],
    terms: dict[str, Any],
    max_duration: int,
    compute: int,
    total: int,
) -> None:
    table = Table(title="price (paid into escrow; unused compute time is refunded)")
    table.add_column("item")
    table.add_column("id")
    table.add_column("price", justify="right")
    for kind, rid, price in rows:
        table.add_row(kind, str(rid), eth(price))
    table.add_row(
        "compute",
        f"TEE offer by {terms['provider'][:10]}…",
        f"{eth(compute)} = {terms['price_per_second']} wei/s × {max_duration} s",
    )
    table.add_row("[bold]total[/]", "", f"[bold]{eth(total)}[/]")
    console.print(table)


def _unpack(archive: bytes, out: Path) -> list[Path]:
    """Regular files only, never outside ``out`` (names are checked, links refused)."""
    written = []
    try:
        with tarfile.open(fileobj=io.BytesIO(archive), mode="r:") as tar:
            for member in tar.getmembers():
                if not member.isfile():
                    continue
                name = PurePosixPath(member.name)
                if name.is_absolute() or ".." in name.parts or name.name == RESULT_CIPHERTEXT:
                    raise IntegrityError(f"the result holds an unsafe file name {member.name!r}")
                path = out.joinpath(*name.parts)
                path.parent.mkdir(parents=True, exist_ok=True)
                extracted = tar.extractfile(member)
                if extracted is None:  # not a regular file (checked above); never written
                    continue
                path.write_bytes(extracted.read())
                written.append(path)
    except tarfile.TarError as exc:
        raise IntegrityError(
            "the decrypted result is not an engine output archive",
            hint="The engine produced no valid output archive; report it to its owner.",
        ) from exc
    return written


def _is_text(data: bytes) -> bool:
    try:
        data.decode()
    except UnicodeDecodeError:
        return False
    return True
