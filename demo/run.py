"""`make demo`: start the devnet and a provider, play the story, print the summary; exit 0 only if
every check passed."""

from __future__ import annotations

import os
import sys

from rich.console import Console

from demo.context import DemoContext
from demo.facts import DemoFacts
from demo.story import order_digits, publish_digits, train_together
from demo.summary import print_summary
from enclava import devnet
from enclava.devnet.provider import start_provider
from enclava.errors import EnclavaError

__all__ = ["run", "main", "start"]

#: Piped output (CI logs) gets a wide console so hashes and CIDs stay on one line.
console = Console(width=None if sys.stdout.isatty() else 160)


def start(name: str, facts: DemoFacts) -> DemoContext:
    """The devnet (anvil, contracts, Kubo, Redis, CA, marketplace API) and a provider with its
    workers."""
    with facts.stage("start devnet"), console.status(f"starting devnet {name!r}"):
        manifest = devnet.up(name)
    with (
        facts.stage("start provider node + workers"),
        console.status("starting the provider node and workers"),
    ):
        provider = start_provider(name)
    facts.services = {
        "chain (anvil)": f"{manifest.rpc_url} (chain id {manifest.chain_id})",
        "IPFS (Kubo)": manifest.ipfs_api,
        "queue (Redis)": manifest.redis_url,
        **{
            f"{svc}": rec.url or f"pid {rec.pid}"
            for svc, rec in manifest.services.items()
            if svc not in ("anvil", "ipfs", "redis")
        },
        "provider node": (
            f"{provider.url} (pid {provider.node_pid}, workers pid {provider.worker_pid})"
        ),
    }
    return DemoContext.build(manifest, provider)


def run(name: str = devnet.DEFAULT_DEVNET) -> int:
    facts = DemoFacts(devnet=name)
    failure: EnclavaError | None = None
    try:
        ctx = start(name, facts)
        with console.status("model owner publishes the digits classifier"):
            listing = publish_digits(ctx, facts)
        with console.status("customer orders inference on their digits"):
            order_digits(ctx, facts, listing)
        with console.status("two hospitals train the breast-cancer model together"):
            train_together(ctx, facts)
    except EnclavaError as exc:
        failure = exc
        facts.check("the story ran to the end", False, f"{exc.code}: {exc.message}")
    print_summary(facts, console)
    if failure is not None:
        console.print(
            f"[red]demo failed ({failure.code})[/]: {failure.message}\n"
            f"[yellow]hint[/]: {failure.hint}"
        )
    verdict = "[green]every check passed[/]" if facts.all_passed else "[red]some checks failed[/]"
    console.print(
        f"{verdict}. The devnet and the provider keep running; stop them with: "
        "[bold]make devnet-down[/] "
        f"(or .venv/bin/enclava devnet down --name {name})"
    )
    return 0 if facts.all_passed else 1


def main() -> None:
    sys.exit(run(os.environ.get("ENCLAVA_DEVNET", devnet.DEFAULT_DEVNET)))
