"""End-to-end benchmark: N confidential digits orders through the devnet vs the same engine run
plainly.

A model owner publishes the digits classifier (engine + weights, through the marketplace API); a
provider node with one worker (`enclava.devnet.provider`, the demo's) serves a simulated-TEE offer.
Each order is the customer's chair from the first upload to the decrypted predictions
(`demo.orders.run_order`): customer-side stages are timed here, the loader's stages and the report
transaction come from the provider's job status (`GET /v1/jobs/{order_id}`). Right after each
order the same engine runs on the same plaintext inputs as a fresh `python main.py` process (no
chain, IPFS, keys, encryption or sandbox), so the ratio compares two measurements taken side by
side on the same machine.

Orders run one at a time, so the stage times are not inflated by each other; orders per minute is
therefore the sequential throughput of one worker. Prints a table; writes bench/results/e2e.json.

    .venv/bin/python -m bench.e2e [--orders 20] [--devnet NAME] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import numpy as np

from demo.context import DemoContext
from demo.facts import DemoFacts, DemoStepFailed
from demo.orders import STAGE_ORDER, run_order
from demo.plain import plain_run
from demo.story import customer_images, npy_bytes, publish_digits
from enclava import devnet
from enclava.devnet import dev_account
from enclava.devnet.provider import start_provider, stop_provider

__all__ = [
    "E2E_STAGES",
    "run_e2e",
    "summarize",
    "format_table",
    "main",
    "DEFAULT_OUT",
    "BENCH_PROVIDER",
]

DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "e2e.json"
#: The stages the issue names, in order (plus the customer's key deposit and the loader's own
#: check/sign).
E2E_STAGES = STAGE_ORDER
BENCH_PROVIDER = "bench"
IMAGES_PER_ORDER = 16


@dataclass
class _Devnet:
    name: str
    private: bool


def _open_devnet(name: str | None) -> _Devnet:
    if name:
        devnet.up(name)
        return _Devnet(name, private=False)
    os.environ["ENCLAVA_DEVNET_HOME"] = tempfile.mkdtemp(prefix="enclava-bench-e2e-")
    private = f"bench-e2e-{os.getpid()}-{uuid.uuid4().hex[:4]}"
    devnet.up(private)
    return _Devnet(private, private=True)


def _percentiles(values: list[float]) -> dict[str, float]:
    return {"p50": float(np.percentile(values, 50)), "p95": float(np.percentile(values, 95))}


def run_e2e(
    orders: int,
    *,
    devnet_name: str | None = None,
    out: Path | None = DEFAULT_OUT,
    progress: Callable[[int, dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Run ``orders`` measured orders; write the JSON to ``out`` (unless None) and return it.

    Without ``devnet_name`` a private devnet is started in a temporary folder and stopped at the
    end; with it, that devnet is used (started if needed) and left running, its bench provider
    stopped.
    """
    if orders < 1:
        raise ValueError("orders must be at least 1")
    net = _open_devnet(devnet_name)
    try:
        manifest = devnet.load_manifest(net.name)
        provider = start_provider(
            net.name, name=BENCH_PROVIDER, dev_role="provider_b", concurrency=1, slots=1
        )
        ctx = DemoContext.build(manifest, provider)
        listing = publish_digits(ctx, DemoFacts(devnet=net.name))
        customer, runs = dev_account("customer"), []
        for index in range(orders):
            images, _ = customer_images(IMAGES_PER_ORDER, offset=(index * IMAGES_PER_ORDER) % 384)
            facts, files = run_order(
                ctx,
                customer,
                title=f"bench order {index}",
                engine_id=listing.engine.resource_id,
                resource_ids=[listing.model.resource_id],
                inputs=[npy_bytes(images)],
                check_page=False,
            )
            plain_s, plain = plain_run(
                "digits_classifier",
                {"weights": [listing.weights_npz], "images": [npy_bytes(images)]},
            )
            row = {
                "order_id": facts.order_id,
                "stages": facts.stages,
                "confidential_s": facts.stages["total"],
                "plain_process_s": plain_s,
                "ratio_vs_plain_process": facts.stages["total"] / plain_s,
                "gas": {tx.label.split(":")[0]: tx.gas_used for tx in facts.txs},
                "gas_total": facts.gas,
                "tx_hashes": [tx.tx_hash for tx in facts.txs],
                "matches_plain": json.loads(files["predictions.json"])
                == json.loads(plain["predictions.json"]),
                "report_valid": bool(facts.checklist and facts.checklist.valid),
            }
            runs.append(row)
            if progress:
                progress(index, row)
    finally:
        if net.private:
            devnet.down(net.name)
            shutil.rmtree(os.environ["ENCLAVA_DEVNET_HOME"], ignore_errors=True)
        else:
            stop_provider(net.name, BENCH_PROVIDER)
    result = summarize(runs)
    result["devnet"] = "private (temporary)" if net.private else net.name
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2))
        result["written_to"] = str(out)
    if not result["all_match_plain"] or not result["all_reports_valid"]:
        raise DemoStepFailed(
            "a benchmark order's result differs from the plain run or its report did not verify",
            hint=f"Read the runs in {out}.",
        )
    return result


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    confidential = [r["confidential_s"] for r in runs]
    plain = [r["plain_process_s"] for r in runs]
    busy = sum(confidential)
    return {
        "measured_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "orders": len(runs),
        "images_per_order": IMAGES_PER_ORDER,
        "ratio_vs_plain_process": float(np.median(confidential) / np.median(plain)),
        "ratio_vs_plain_process_per_order": _percentiles(
            [r["ratio_vs_plain_process"] for r in runs]
        ),
        "orders_per_minute": 60.0 * len(runs) / busy,
        "confidential_s": _percentiles(confidential),
        "plain_process_s": _percentiles(plain),
        "gas_per_order": {
            "p50": float(np.median([r["gas_total"] for r in runs])),
            "steps_p50": {k: float(np.median([r["gas"][k] for r in runs])) for k in runs[0]["gas"]},
        },
        "stages": {
            stage: _percentiles([r["stages"].get(stage, 0.0) for r in runs])
            for stage in (*E2E_STAGES, "report_verify", "total")
        },
        "all_match_plain": all(r["matches_plain"] for r in runs),
        "all_reports_valid": all(r["report_valid"] for r in runs),
        "runs": runs,
    }


def format_table(result: dict[str, Any]) -> str:
    """A plain-text table (what `python -m bench.e2e` prints)."""
    lines = [
        f"orders: {result['orders']} ({result['images_per_order']} images each), "
        f"devnet {result.get('devnet', '')}",
        f"ratio confidential / plain process (median): {result['ratio_vs_plain_process']:.2f}",
        f"orders per minute (one worker, sequential): {result['orders_per_minute']:.2f}",
        f"confidential order p50 {result['confidential_s']['p50']:.2f} s, "
        f"plain process p50 {result['plain_process_s']['p50']:.2f} s",
        f"gas per order (p50): {result['gas_per_order']['p50']:,.0f} = "
        + " + ".join(f"{k} {v:,.0f}" for k, v in result["gas_per_order"]["steps_p50"].items()),
        "",
        f"{'stage':28} {'p50 ms':>10} {'p95 ms':>10}",
    ]
    for stage, value in result["stages"].items():
        lines.append(f"{stage:28} {value['p50'] * 1000:10.1f} {value['p95'] * 1000:10.1f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.e2e",
        description="N confidential digits orders vs the same engine run plainly: p50/p95 per "
        "stage, throughput, gas.",
    )
    parser.add_argument("--orders", type=int, default=20, help="how many digits orders to run")
    parser.add_argument(
        "--devnet", default=None, help="use this running devnet instead of a private one"
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="the JSON file to write")
    args = parser.parse_args(argv)
    if args.orders < 1:
        parser.error("--orders must be at least 1")
    result = run_e2e(
        args.orders,
        devnet_name=args.devnet,
        out=args.out,
        progress=lambda i, row: print(
            f"order {i + 1}/{args.orders}: {row['confidential_s']:.2f} s "
            f"(plain {row['plain_process_s']:.2f} s)",
            flush=True,
        ),
    )
    print(format_table(result))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
