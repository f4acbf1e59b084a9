"""`make demo`: start the devnet and play the smoke scenario, then print a readable summary.

Today's story: the devnet comes up with its real chain, IPFS node and Redis (and the contracts once
they exist); a file is stored on IPFS and read back verified; a payment is sent on chain. Later
issues grow this into the full marketplace story.
"""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from enclava import devnet
from enclava.chain import ChainClient
from enclava.errors import EnclavaError
from enclava.storage import IpfsContentStore

console = Console()


def _timed(label: str, timings: dict[str, float], func, *args, **kwargs):
    start = time.perf_counter()
    with console.status(label):
        result = func(*args, **kwargs)
    timings[label] = time.perf_counter() - start
    return result


def run(name: str = devnet.DEFAULT_DEVNET) -> int:
    timings: dict[str, float] = {}
    manifest = _timed("start devnet", timings, devnet.up, name)
    store = IpfsContentStore.from_manifest(manifest)
    chain = ChainClient.from_manifest(manifest)

    payload = os.urandom(4 << 20)
    stored = _timed("store 4 MiB on IPFS", timings, store.add, payload)
    with tempfile.TemporaryDirectory() as tmp:
        back = Path(tmp) / "back.bin"
        _timed("fetch + verify", timings, store.get, stored.cid, back, expected_sha256=stored.sha256)
        roundtrip_ok = hashlib.sha256(back.read_bytes()).hexdigest() == stored.sha256

    customer, provider = devnet.dev_account("customer"), devnet.dev_account("provider")
    before = chain.balance(provider.address)
    tx = _timed("send 0.01 ETH", timings, chain.transfer, customer, provider.address, 10**16)
    paid_ok = chain.balance(provider.address) - before == 10**16

    table = Table(title="Enclava devnet demo", show_header=True)
    table.add_column("what")
    table.add_column("result")
    table.add_row("chain", f"anvil at {manifest.rpc_url}, chain id {manifest.chain_id}")
    table.add_row("IPFS", f"Kubo at {manifest.ipfs_api}")
    table.add_row("queue", f"Redis at {manifest.redis_url}")
    ca = manifest.services.get("ca")
    table.add_row("certification authority", f"enclava-ca at {ca.url}" if ca else "not started (no contracts)")
    table.add_row("contracts", ", ".join(f"{k} {v}" for k, v in sorted(manifest.contracts.items())) or "none yet")
    table.add_row("stored file", f"{stored.cid} ({stored.size} bytes, sha256 {stored.sha256[:16]}…)")
    table.add_row("round trip", "[green]verified[/]" if roundtrip_ok else "[red]MISMATCH[/]")
    table.add_row("payment tx", f"{tx.tx_hash} (block {tx.block_number}, gas {tx.gas_used})")
    table.add_row("payment", "[green]received[/]" if paid_ok else "[red]missing[/]")
    for label, seconds in timings.items():
        table.add_row(f"time: {label}", f"{seconds * 1000:.0f} ms")
    console.print(table)
    console.print(f"The devnet keeps running. Stop it with: [bold]make devnet-down[/] "
                  f"(or .venv/bin/enclava devnet down --name {name})")
    return 0 if roundtrip_ok and paid_ok else 1


def main() -> None:
    try:
        sys.exit(run(os.environ.get("ENCLAVA_DEVNET", devnet.DEFAULT_DEVNET)))
    except EnclavaError as exc:
        console.print(f"[red]demo failed ({exc.code})[/]: {exc.message}\n[yellow]hint[/]: {exc.hint}")
        sys.exit(1)


if __name__ == "__main__":
    main()
