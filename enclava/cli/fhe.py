"""`enclava fhe ...`: FHE split inference: CKKS keys, encrypted inputs, split orders and their
results.

`fhe keys new` makes a key session on this device (``~/.enclava/fhe/NAME``, or
``ENCLAVA_FHE_HOME``); `fhe order` checks everything before paying (split, image shape, evaluation
keys, context), uploads the evaluation keys once per session, and places the order; `fhe result`
waits for it, decrypts (customer mode) or takes the enclave's activations (enclave mode), and asks
the owner's tail, through the marketplace API unless `--tail` names the tail service itself.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
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
from enclava.cli.errors import (
    FheHeadUnknown,
    FheModeUnknown,
    FheOrderUnknown,
    FileInvalid,
    OrderDeclined,
)
from enclava.cli.options import DeprecatedOfferOption, TeeOfferOption, resolve_tee_offer
from enclava.cli.progress import waiting
from enclava.cli.values import check_order_id
from enclava.client.fhe_split import (
    PlacedFheOrder,
    finish_fhe_order,
    place_fhe_order,
    prepare_fhe_order,
)
from enclava.client.fhe_split_listing import FheListing, read_fhe_listing
from enclava.client.fhe_split_session import FheSessionStore, default_session_dir
from enclava.client.fhe_split_tail import direct_tail_url, market_tail_url
from enclava.console import friendly_errors

__all__ = ["app"]

app = typer.Typer(
    help="FHE split inference: CKKS keys, encrypted inputs, split orders and their results.",
    no_args_is_help=True,
)
keys_app = typer.Typer(
    help="Your CKKS key session (the secret key stays on this device).", no_args_is_help=True
)
app.add_typer(keys_app, name="keys")
console = Console()
SessionOption = typer.Option(
    "default", "--session", envvar="ENCLAVA_FHE_SESSION", help="Name of the key session."
)


@keys_app.command("new")
@friendly_errors
def keys_new(
    session: str = SessionOption,
    force: bool = typer.Option(
        False, "--force", help="Replace an existing session (its keys are lost)."
    ),
) -> None:
    """Create a CKKS key session: secret key, public context, and the inputs' transport key."""
    store = FheSessionStore.create(default_session_dir(session), overwrite=force)
    console.print(f"[green]key session created[/] in {store.folder}")
    typer.echo(f"context_sha256={store.keys.context_sha256}")


@keys_app.command("show")
@friendly_errors
def keys_show(session: str = SessionOption) -> None:
    """The session's public identity and what it has uploaded (never the secret key)."""
    store = FheSessionStore.load(default_session_dir(session))
    index = json.loads((store.folder / "uploads.json").read_text() or "{}")
    typer.echo(f"folder={store.folder}")
    typer.echo(f"context_sha256={store.keys.context_sha256}")
    for sha, entry in sorted(index.get("eval_keys", {}).items()):
        typer.echo(f"eval_keys={sha} steps={len(entry.get('steps', []))}")
    typer.echo(f"uploads={len(index.get('uploads', {}))}")


@app.command("order")
@friendly_errors
def order(
    engine: int = typer.Option(..., "--engine", help="Resource id of the FHE head engine."),
    model: int = typer.Option(..., "--model", help="Resource id of the model's FHE manifest."),
    head: int = typer.Option(
        0,
        "--head",
        help="Resource id of the split's head weights (default: as the manifest names).",
    ),
    tee_offer: int | None = TeeOfferOption,
    offer: int | None = DeprecatedOfferOption,
    split: str = typer.Option(..., "--split", help="A split point the model declares."),
    images: Path = typer.Option(
        ..., "--images", exists=True, dir_okay=False, help=".npy [N, 28, 28] in [0, 1]."
    ),
    mode: str = typer.Option(
        "customer", "--mode", help="enclave | customer: who decrypts the head's output."
    ),
    max_duration: int = typer.Option(
        600, "--max-duration", min=1, help="Seconds the provider may take."
    ),
    yes: bool = typer.Option(False, "--yes", "-y", help="Pay without asking."),
    session: str = SessionOption,
    wallet: str = WalletOption,
    devnet: str = DevnetOption,
    manifest: Path = ManifestOption,
) -> None:
    """Check, encrypt and upload the images, show the price, and place the FHE-split order."""
    tee_offer_id = resolve_tee_offer(tee_offer, offer)
    if mode not in ("enclave", "customer"):
        raise FheModeUnknown(f"unknown mode {mode!r}")
    store = FheSessionStore.load(default_session_dir(session))
    batch = _load_images(images)
    ctx = network(devnet, manifest)
    try:
        market = ctx.market
        public = read_fhe_listing(
            market, ctx.store, engine_id=engine, head_weights_id=head or 0, manifest_id=model
        )
        public.split(
            split
        )  # a split the model does not declare is the user's mistake, not a missing --head
        head_id = head or int(public.manifest.get("head_resources", {}).get(split, 0))
        if not head_id:
            raise FheHeadUnknown(f"the manifest names no head weights for split {split!r}")
        listing = dataclasses.replace(public, head_weights_id=head_id)
        with waiting("checking and encrypting the images"):
            prepared = prepare_fhe_order(store, listing, split, batch, decrypt_mode=mode)
        total = market.quote(engine, listing.resource_ids, tee_offer_id, max_duration)
        account = unlock_wallet(wallet)
        console.print(
            f"{prepared.n_inputs} images, split {split}, {mode} decrypt: escrow {eth(total)}"
        )
        if not yes and not typer.confirm(
            f"Pay {eth(total)} into escrow and place the order?", default=False
        ):
            raise OrderDeclined("order not placed", hint="Nothing was paid.")
        with waiting("uploading and placing the order"):
            placed = place_fhe_order(
                market,
                ctx.store,
                ctx.broker,
                account,
                store,
                listing,
                prepared,
                tee_offer_id=tee_offer_id,
                max_duration=max_duration,
            )
    finally:
        ctx.close()
    _save(store, placed, listing)
    console.print(
        f"[green]order placed[/]: escrow {eth(placed.escrow)}; request "
        f"{placed.sizes['request']} bytes; "
        f"evaluation keys {'uploaded' if placed.uploaded['eval_keys'] else 'reused'}"
    )
    typer.echo(f"order_id={placed.order_id}")


@app.command("result")
@friendly_errors
def result(
    order_id: str = typer.Argument(..., help="0x + 64 hex digits"),
    tail: str = typer.Option(
        "", "--tail", help="Base URL of the tail service (default: via the marketplace)."
    ),
    timeout: float = typer.Option(900.0, "--timeout", help="Seconds to wait for the order."),
    session: str = SessionOption,
    wallet: str = WalletOption,
    devnet: str = DevnetOption,
    manifest: Path = ManifestOption,
) -> None:
    """Wait for the order, turn its result into obfuscated activations, and print the tail's
    predictions."""
    order_id = check_order_id(order_id)
    store = FheSessionStore.load(default_session_dir(session))
    placed, model_id, head_id, engine_id = _load(store, order_id)
    ctx = network(devnet, manifest)
    try:
        listing = read_fhe_listing(
            ctx.market,
            ctx.store,
            engine_id=engine_id,
            head_weights_id=head_id,
            manifest_id=model_id,
        )
        url = (
            direct_tail_url(tail, placed.split)
            if tail
            else market_tail_url(ctx.service_url("marketplace"), model_id, placed.split)
        )
        account = unlock_wallet(wallet)
        with waiting(f"order {order_id[:10]}…: waiting, decrypting, asking the tail"):
            got = finish_fhe_order(
                ctx.market, ctx.store, account, store, listing, placed, url, timeout=timeout
            )
    finally:
        ctx.close()
    typer.echo(json.dumps({"order_id": got.order_id, "labels": got.labels}))


def _load_images(path: Path) -> np.ndarray:
    """The images file as a numeric array; any unreadable file is the user's to fix, never a
    traceback."""
    try:
        batch = np.load(path, allow_pickle=False)
    except (ValueError, EOFError, OSError) as exc:
        raise FileInvalid(f"{path} is not a pickle-free .npy file") from exc
    if not isinstance(batch, np.ndarray):  # an .npz archive loads as a mapping of arrays
        batch.close()
        raise FileInvalid(f"{path} is an .npz archive, not one array")
    if batch.dtype.kind not in "biuf":
        raise FileInvalid(
            f"{path} holds {batch.dtype} values, not numbers",
            hint="Save the images as a float array with values in [0, 1].",
        )
    return batch


def _orders(store: FheSessionStore) -> Path:
    folder = store.folder / "orders"
    folder.mkdir(mode=0o700, exist_ok=True)
    return folder


def _save(store: FheSessionStore, placed: PlacedFheOrder, listing: FheListing) -> None:
    record = {
        **dataclasses.asdict(placed),
        "model_id": listing.manifest_id,
        "head_weights_id": listing.head_weights_id,
        "engine_id": listing.engine_id,
    }
    (_orders(store) / f"{placed.order_id.lower()}.json").write_text(
        json.dumps(record, sort_keys=True, indent=1)
    )


def _load(store: FheSessionStore, order_id: str) -> tuple[PlacedFheOrder, int, int, int]:
    path = _orders(store) / f"{order_id.lower()}.json"
    if not path.is_file():
        raise FheOrderUnknown(f"session {store.folder.name!r} placed no order {order_id}")
    record = json.loads(path.read_text())
    ids = record.pop("model_id"), record.pop("head_weights_id"), record.pop("engine_id")
    return PlacedFheOrder(**record), *ids
