"""`enclava model ...`: model owners publish engines and weights and serve the tail of a split
model.

`model publish` encrypts the engine (its canonical archive) and optional weights under fresh keys,
uploads the ciphertexts to IPFS, lists them through the marketplace API (an EIP-712 listing the
wallet signs and the API relays) and deposits each key with the key broker under a policy. The
engine's listing carries its declared customer-input schema (``input_schema``, from engine.toml's
``schema``), the weights' listing the engine they are for (``engine_resource_id``). Before
anything is uploaded it warns when no active TEE offer on the network could satisfy the policy
(e.g. a devnet with only simulated offers and no --insecure-allow-simulated-tee).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from enclava.chain.types import ResourceKind
from enclava.cli.context import (
    CliContext,
    DevnetOption,
    ManifestOption,
    WalletOption,
    network,
    unlock_wallet,
)
from enclava.cli.errors import (
    EngineFolderInvalid,
    EngineFolderMissing,
    FileMissing,
    PolicyInvalid,
    TeeInvalid,
)
from enclava.cli.progress import transfer
from enclava.cli.tail import serve_tail_command
from enclava.cli.values import TEE_NAMES, parse_price
from enclava.console import friendly_errors
from enclava.protocol.broker import KeyPolicy
from enclava.protocol.engine import EngineError, canonical_archive, load_manifest
from enclava.protocol.engine.manifest import load_input_schema

if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount

    from enclava.client.market_api import ListedResource

__all__ = [
    "app",
    "parse_price",
    "load_policy",
    "publish_file",
    "print_published",
]

app = typer.Typer(
    help="Model owners: publish engines and weights, serve the tail of a split model.",
    no_args_is_help=True,
)
app.command("serve-tail")(serve_tail_command)
console = Console()
warnings = Console(stderr=True)


def load_policy(
    path: Path | None,
    *,
    allow_any_customer: bool,
    insecure_allow_simulated_tee: bool,
    engine_hashes: list[str] | str | None,
) -> Callable[[str], dict[str, Any]]:
    """A policy builder: the file's policy, or "any paying customer"; engines default to
    ``engine_hashes``.

    ``engine_hashes`` is None for an engine (its own hash, known after encryption, is allowed).
    """
    if (path is None) == (not allow_any_customer):
        raise PolicyInvalid("give exactly one of --policy FILE and --allow-any-customer")
    base: dict[str, Any] = {"allowed_customers": "any"}
    if path is not None:
        try:
            base = json.loads(Path(path).read_text())
        except FileNotFoundError as exc:
            raise PolicyInvalid(
                f"no policy file at {path}", hint="Check the path given to --policy."
            ) from exc
        except (OSError, ValueError) as exc:
            raise PolicyInvalid(f"the policy file {path} is not JSON: {exc}") from exc
        if not isinstance(base, dict):
            raise PolicyInvalid(f"the policy file {path} must hold a JSON object")
    if insecure_allow_simulated_tee:
        base["insecure_allow_simulated_tee"] = True

    def build(own_hash: str) -> dict[str, Any]:
        policy = dict(base)
        policy.setdefault(
            "allowed_engine_hashes", [own_hash] if engine_hashes is None else engine_hashes
        )
        try:
            return KeyPolicy.model_validate(policy).model_dump(mode="json")
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first.get("loc", ()))
            raise PolicyInvalid(
                f"the key policy is invalid at {where or 'top level'}: {first.get('msg')}"
            ) from exc

    build(
        engine_hashes[0]
        if isinstance(engine_hashes, list) and engine_hashes
        else "0x" + "00" * 31 + "01"
    )
    return build


def publish_file(
    ctx: CliContext,
    owner: LocalAccount,
    *,
    label: str,
    kind: ResourceKind,
    plaintext: bytes,
    price: int,
    policy: dict[str, Any] | Callable[[str], dict[str, Any]],
    metadata: Any = None,
) -> ListedResource:
    """Encrypt, upload with a progress bar, list through the API, deposit the key."""
    from enclava.client.market_api import publish_listed

    with transfer(f"upload {label}", total=None) as advance:
        return publish_listed(
            ctx.api,
            ctx.store,
            ctx.broker,
            owner,
            kind=kind,
            plaintext=plaintext,
            price=price,
            policy=policy,
            metadata=metadata,
            chain_id=ctx.chain_id,
            registry=ctx.resource_registry,
            progress=advance,
        )


def print_published(items: list[tuple[str, ListedResource]]) -> None:
    table = Table(title="published")
    for column in ("what", "resource id", "CID", "ciphertext SHA-256", "listing tx"):
        table.add_column(column, overflow="fold")
    for label, item in items:
        table.add_row(
            label,
            str(item.resource.resource_id),
            item.resource.cid,
            item.resource.engine_hash_hex,
            item.listing.tx_hash,
        )
    console.print(table)
    for label, item in items:  # plain lines for scripts
        typer.echo(
            f"{label} resource_id={item.resource.resource_id} cid={item.resource.cid} "
            f"sha256={item.resource.engine_hash_hex} tx={item.listing.tx_hash}"
        )


def _warn_if_no_offer_admits(ctx: CliContext, policy: dict[str, Any]) -> None:
    """A warning (not a refusal) when no TEE offer that takes orders now could ever get the keys
    under ``policy``: every order of the resource would be paid for and then fail."""
    from enclava.client.preflight import active_tee_offers, offers_admitting
    from enclava.protocol.tee import TeeType

    offers = active_tee_offers(ctx.market)
    if not offers:
        warnings.print("[yellow]note[/]: no TEE offer on this network takes orders yet")
        return
    if offers_admitting(policy, offers):
        return
    kinds = sorted({"simulated" if o.simulated else TeeType(o.tee_type).name for o in offers})
    why = (
        "they are all simulated and the policy has no simulated-TEE opt-in"
        if kinds == ["simulated"] and not policy.get("insecure_allow_simulated_tee")
        else f"the policy allows TEE types {policy.get('allowed_tee_types')}"
    )
    warnings.print(
        f"[yellow]warning[/]: no active TEE offer on this network can satisfy this key policy "
        f"({len(offers)} offer(s); {why}): every order would be refused its keys. "
        "Hint: add --insecure-allow-simulated-tee on a devnet, or allow the offers' TEE types."
    )


@app.command()
@friendly_errors
def publish(
    engine_dir: Path = typer.Argument(
        ..., help="Engine folder (engine.toml + code), see engines/FORMAT.md."
    ),
    weights: Path = typer.Option(
        None, "--weights", dir_okay=False, help="Model weights file to publish with it."
    ),
    price: str = typer.Option(
        ..., "--price", help="Price per use of the engine: wei, '5gwei' or '0.003eth'."
    ),
    weights_price: str = typer.Option(
        None, "--weights-price", help="Price per use of the weights (default --price)."
    ),
    policy: Path = typer.Option(
        None, "--policy", dir_okay=False, help="JSON key policy for both keys."
    ),
    allow_any_customer: bool = typer.Option(
        False,
        "--allow-any-customer",
        help="Release the keys to any paying customer's order of this engine.",
    ),
    insecure_allow_simulated_tee: bool = typer.Option(
        False,
        "--insecure-allow-simulated-tee",
        help="Also release keys to simulated enclaves (devnet only).",
    ),
    name: str = typer.Option(None, "--name", help="Catalogue name (default: the engine's name)."),
    description: str = typer.Option("", "--description"),
    task: str = typer.Option(
        "inference", "--task", help='Catalogue task, e.g. "image-classification".'
    ),
    license_: str = typer.Option("proprietary", "--license"),
    tee: list[str] = typer.Option(
        list(TEE_NAMES), "--tee", help="TEE families it may run on (repeat)."
    ),
    wallet: str = WalletOption,
    devnet: str = DevnetOption,
    manifest: Path = ManifestOption,
) -> None:
    """Encrypt and upload an engine (and weights), list them through the marketplace, deposit the
    keys."""
    from enclava.client.market_api import listing_metadata

    if not engine_dir.is_dir():
        raise EngineFolderMissing(f"no engine folder at {engine_dir}")
    if weights is not None and not weights.is_file():
        raise FileMissing(f"no weights file at {weights}", hint="Check the --weights path.")
    bad_tee = [t for t in tee if t not in TEE_NAMES]
    if bad_tee:
        raise TeeInvalid(
            f"unknown TEE family {bad_tee[0]!r}", hint=f"Use one of {', '.join(TEE_NAMES)}."
        )
    engine_price = parse_price(price)
    model_price = parse_price(weights_price) if weights_price is not None else engine_price
    build_policy = load_policy(
        policy,
        allow_any_customer=allow_any_customer,
        insecure_allow_simulated_tee=insecure_allow_simulated_tee,
        engine_hashes=None,
    )
    try:
        info = load_manifest(engine_dir)
        input_schema = load_input_schema(engine_dir, info)
        archive = canonical_archive(engine_dir)
    except EngineError as exc:
        raise EngineFolderInvalid(
            f"{engine_dir} is not a valid engine: {exc.message}", hint=exc.hint
        ) from exc
    ctx = network(devnet, manifest)
    owner = unlock_wallet(wallet)
    _warn_if_no_offer_admits(ctx, build_policy("0x" + "00" * 31 + "01"))
    title = name or info.name
    common: dict[str, Any] = dict(
        description=description, task=task, license=license_, tee_types=tuple(tee)
    )

    def engine_meta(
        digest: str,
    ) -> dict[str, Any]:  # an engine's listing names its own ciphertext hash
        return listing_metadata(
            title, price_wei=engine_price, engine_hash=digest, input_schema=input_schema, **common
        )

    try:
        engine = publish_file(
            ctx,
            owner,
            label="engine",
            kind=ResourceKind.ENGINE,
            plaintext=archive,
            price=engine_price,
            policy=build_policy,
            metadata=engine_meta,
        )
        published = [("engine", engine)]
        if weights is not None:
            model_meta = listing_metadata(
                f"{title} weights",
                price_wei=model_price,
                engine_hash=engine.resource.engine_hash_hex,
                engine_resource_id=engine.resource.resource_id,
                **common,
            )
            fixed = build_policy(engine.resource.engine_hash_hex)
            published.append(
                (
                    "weights",
                    publish_file(
                        ctx,
                        owner,
                        label="weights",
                        kind=ResourceKind.MODEL,
                        plaintext=weights.read_bytes(),
                        price=model_price,
                        policy=fixed,
                        metadata=model_meta,
                    ),
                )
            )
    finally:
        ctx.close()
    print_published(published)
