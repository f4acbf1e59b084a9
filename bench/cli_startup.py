"""CLI start-up benchmark: how long `enclava` takes before it does any work (issue 15).

Each command runs N times as a fresh process of the installed console script (the way a person
runs it) and the median wall time is reported: ``enclava --help``, ``enclava version``,
``enclava order create --help`` and ``enclava order status ID``. Without ``--manifest`` the status
command talks to a stub JSON-RPC server on localhost that answers every request with an error, and
the time to its first request is start-up up to the network call (a closed port would instead
measure web3's retry back-off); with ``--manifest`` (a running devnet) it is the whole command
against the real chain. Targets: ``--help`` and ``version`` under 0.5 s, every other command
starting its work under 1 s. Prints a table; writes bench/results/cli_startup.json.

    .venv/bin/python -m bench.cli_startup [--runs 7] [--manifest PATH] [--order-id ID] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

__all__ = ["run_cli_startup", "format_table", "main", "DEFAULT_OUT", "TARGETS_S"]

DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "cli_startup.json"
#: the issue's goals, seconds: help and version, and any other command up to its work
TARGETS_S = {"help": 0.5, "version": 0.5, "order_create_help": 1.0, "order_status": 1.0}
#: an order id nobody placed: `order status` looks it up and says it is unknown
UNKNOWN_ORDER = "0x" + "ab" * 32


def _enclava() -> list[str]:
    """The console script next to this interpreter, else the module (same code path)."""
    script = Path(sys.executable).with_name("enclava")
    return [str(script)] if script.exists() else [sys.executable, "-m", "enclava.cli.main"]


class _StubRpc:
    """A JSON-RPC endpoint that records when each request arrives and refuses it at once."""

    def __init__(self) -> None:
        arrivals: list[float] = []
        self.arrivals = arrivals

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                arrivals.append(time.perf_counter())
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                body = b'{"jsonrpc":"2.0","id":0,"error":{"code":-32000,"message":"bench stub"}}'
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _stub_manifest(folder: Path, rpc_url: str) -> Path:
    """A manifest whose every service is the stub (addresses are placeholders: no call lands)."""
    contracts = ("ProviderRegistry", "ResourceRegistry", "AttestationRegistry", "Marketplace")
    manifest = {
        "name": "bench-cli-startup",
        "state_dir": str(folder),
        "chain_id": 31337,
        "rpc_url": rpc_url,
        "ipfs_api": rpc_url,
        "ipfs_gateway": rpc_url,
        "redis_url": "redis://127.0.0.1:1",
        "accounts": [],
        "services": {},
        "contracts": {name: "0x" + f"{i + 1}" * 40 for i, name in enumerate(contracts)},
    }
    path = folder / "manifest.json"
    path.write_text(json.dumps(manifest))
    return path


def _time_command(
    argv: list[str], runs: int, env: dict[str, str], stub: _StubRpc | None
) -> dict[str, Any]:
    """Median/min/max wall seconds of ``runs`` fresh processes (and to the first RPC request)."""
    totals: list[float] = []
    to_network: list[float] = []
    codes: set[int] = set()
    for _ in range(runs):
        seen = len(stub.arrivals) if stub else 0
        start = time.perf_counter()
        done = subprocess.run(argv, capture_output=True, env=env, timeout=120)
        totals.append(time.perf_counter() - start)
        codes.add(done.returncode)
        if stub and len(stub.arrivals) > seen:
            to_network.append(stub.arrivals[seen] - start)
    row: dict[str, Any] = {
        "argv": ["enclava", *argv[len(_enclava()) :]],
        "samples_s": [round(t, 4) for t in totals],
        "median_s": statistics.median(totals),
        "min_s": min(totals),
        "max_s": max(totals),
        "exit_codes": sorted(codes),
    }
    if to_network:
        row["to_first_rpc_median_s"] = statistics.median(to_network)
    return row


def run_cli_startup(
    runs: int = 7, manifest: Path | None = None, order_id: str = UNKNOWN_ORDER
) -> dict[str, Any]:
    """Time each command; ``manifest`` (a running devnet) makes ``order status`` a real lookup."""
    base = _enclava()
    env = {**os.environ, "COLUMNS": "100", "ENCLAVA_WALLET_PASSWORD": "unused"}
    stub = None if manifest else _StubRpc()
    with tempfile.TemporaryDirectory(prefix="enclava-bench-cli-") as tmp:
        env["ENCLAVA_HOME"] = tmp
        target = manifest or _stub_manifest(Path(tmp), stub.url if stub else "")
        commands = {
            "help": ["--help"],
            "version": ["version"],
            "order_create_help": ["order", "create", "--help"],
            "order_status": ["order", "status", order_id, "--manifest", str(target)],
        }
        try:
            subprocess.run([*base, "version"], capture_output=True, env=env, timeout=120)  # warm
            results = {
                label: _time_command(
                    [*base, *args], runs, env, stub if label == "order_status" else None
                )
                for label, args in commands.items()
            }
        finally:
            if stub:
                stub.close()
    for label, row in results.items():
        measured = row.get("to_first_rpc_median_s", row["median_s"])
        row["target_s"] = TARGETS_S[label]
        row["under_target"] = measured < TARGETS_S[label]
    return {
        "measured_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "runs": runs,
        "network": "devnet" if manifest else "stub",
        "python": sys.version.split()[0],
        "cpus": os.cpu_count(),
        "load_avg_1m": os.getloadavg()[0],
        "commands": results,
    }


def format_table(result: dict[str, Any]) -> str:
    lines = [
        f"enclava start-up, median of {result['runs']} runs ({result['network']} network, "
        f"load {result['load_avg_1m']:.1f} on {result['cpus']} CPUs)",
        f"{'command':<44} {'median s':>9} {'min s':>7} {'max s':>7} {'to RPC s':>9} "
        f"{'target':>7}  ok",
    ]
    for row in result["commands"].values():
        to_rpc = row.get("to_first_rpc_median_s")
        lines.append(
            f"{' '.join(row['argv'])[:44]:<44} {row['median_s']:>9.3f} {row['min_s']:>7.3f} "
            f"{row['max_s']:>7.3f} {'' if to_rpc is None else f'{to_rpc:.3f}':>9} "
            f"{row['target_s']:>7.1f}  {'yes' if row['under_target'] else 'NO'}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.cli_startup", description=__doc__)
    parser.add_argument("--runs", type=int, default=7, help="processes per command (median)")
    parser.add_argument("--manifest", type=Path, help="a running devnet's manifest.json")
    parser.add_argument("--order-id", default=UNKNOWN_ORDER, help="order for `order status`")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON results file")
    args = parser.parse_args(argv)
    result = run_cli_startup(max(1, args.runs), args.manifest, args.order_id)
    print(format_table(result))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
