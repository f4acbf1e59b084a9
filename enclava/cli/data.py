"""`enclava data ...`: data owners: encrypt and upload datasets, deposit their keys under a
policy."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from enclava.chain.types import ResourceKind
from enclava.cli.context import (
    CliContext,
    DevnetOption,
    ManifestOption,
    WalletOption,
    network,
    read_resource,
    unlock_wallet,
)
from enclava.cli.errors import EnginesMissing, FileMissing, NotAnEngine
from enclava.cli.model import load_policy, print_published, publish_file
from enclava.cli.values import TEE_NAMES, parse_price
from enclava.console import friendly_errors

app = typer.Typer(
    help="Data owners: encrypt and upload datasets, deposit their keys under a policy.",
    no_args_is_help=True,
)


@app.command()
@friendly_errors
def upload(
    file: Path = typer.Argument(
        ..., help="The dataset file (any format the engines you allow read)."
    ),
    price: str = typer.Option(..., "--price", help="Price per use: wei, '5gwei' or '0.003eth'."),
    policy: Path = typer.Option(None, "--policy", dir_okay=False, help="JSON key policy."),
    allow_any_customer: bool = typer.Option(
        False, "--allow-any-customer", help="Release the key to any paying customer's order."
    ),
    engine: list[int] = typer.Option(
        [], "--engine", help="Engine resource id allowed to read it (repeat)."
    ),
    insecure_allow_simulated_tee: bool = typer.Option(
        False,
        "--insecure-allow-simulated-tee",
        help="Also release the key to simulated enclaves (devnet only).",
    ),
    name: str = typer.Option(None, "--name", help="Catalogue name (default: the file name)."),
    description: str = typer.Option("", "--description"),
    task: str = typer.Option("dataset", "--task"),
    license_: str = typer.Option("proprietary", "--license"),
    wallet: str = WalletOption,
    devnet: str = DevnetOption,
    manifest: Path = ManifestOption,
) -> None:
    """Encrypt and upload a dataset, list it through the marketplace, deposit its key under a
    policy.

    The policy's engines are the ``--engine`` ids (their hashes are read from the chain) unless the
    policy file names ``allowed_engine_hashes`` itself.
    """
    from enclava.client.market_api import listing_metadata

    if not file.is_file():
        raise FileMissing(f"no file at {file}", hint="Check the path of the dataset.")
    wei = parse_price(price)
    ctx = network(devnet, manifest)
    try:
        hashes = [_engine_hash(ctx, engine_id) for engine_id in engine]
        if not hashes and policy is None:
            raise EnginesMissing("say which engines may read the dataset")
        build = load_policy(
            policy,
            allow_any_customer=allow_any_customer,
            insecure_allow_simulated_tee=insecure_allow_simulated_tee,
            engine_hashes=hashes or "any",
        )
        owner = unlock_wallet(wallet)

        def meta(digest: str) -> dict[str, Any]:
            return listing_metadata(
                name or file.name,
                price_wei=wei,
                engine_hash=hashes[0] if hashes else digest,
                description=description,
                task=task,
                license=license_,
                tee_types=TEE_NAMES,
            )

        published = publish_file(
            ctx,
            owner,
            label="dataset",
            kind=ResourceKind.DATASET,
            plaintext=file.read_bytes(),
            price=wei,
            policy=build,
            metadata=meta,
        )
    finally:
        ctx.close()
    print_published([("dataset", published)])


def _engine_hash(ctx: CliContext, engine_id: int) -> str:
    resource = read_resource(ctx.market, engine_id)
    if resource["kind"] != ResourceKind.ENGINE:
        raise NotAnEngine(f"resource {engine_id} is not an engine on this chain")
    return "0x" + bytes(resource["content_hash"]).hex()
