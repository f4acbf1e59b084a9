"""Multi-party training, confidential vs plain, in one run.

Starts a private devnet (anvil, Kubo, Redis, CA) and a provider node with one worker
(`enclava.devnet.provider`, the demo's), publishes the tabular trainer and three hospitals'
encrypted shares of breast_cancer (`demo.parties`, straight on chain), and times N orders from
placement to the decrypted weights in the customer's hands. In the same run it times the plain
baseline: the same engine (`python main.py`, a fresh process, as any provider would run it) on the
pooled plaintext, with no chain, IPFS, keys, encryption or sandbox; and, for reference, the
training call inside an already-warm interpreter. Prints a table; writes
bench/results/multiparty.json.

    .venv/bin/python bench/multiparty.py [--orders 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from demo.context import open_policy
from demo.parties import order_as_customer, parties, publish_blob, publish_engine_folder
from demo.plain import plain_run
from demo.story import DATA_PRICE
from enclava import devnet
from enclava.chain.types import ResourceKind
from enclava.client import fetch_result, wait_for_order
from enclava.crypto import wallet_identity
from enclava.devnet import dev_account
from enclava.devnet.provider import start_provider
from enclava.protocol.engine import order_seed
from enclava.protocol.order import OrderStatus
from engines.tabular_trainer.shares import share_to_npz, split_breast_cancer
from engines.tabular_trainer.trainer import train_plain

HOSPITALS = ("hospital_a", "hospital_b", "hospital_c")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=3)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="enclava-bench-"))
    os.environ["ENCLAVA_DEVNET_HOME"] = str(home)
    name = f"bench-mp-{os.getpid()}"
    manifest = devnet.up(name)
    try:
        provider = start_provider(name, name="bench", concurrency=1, slots=1)
        p, customer = parties(manifest), dev_account("customer")
        engine = publish_engine_folder(p, "model_owner", "tabular_trainer")
        shares = split_breast_cancer(len(HOSPITALS), seed=0)
        published = [
            publish_blob(
                p,
                role,
                ResourceKind.DATASET,
                share_to_npz(s),
                DATA_PRICE,
                open_policy(engine.engine_hash_hex),
            )
            for role, s in zip(HOSPITALS, shares)
        ]
        rows: list[dict[str, Any]] = []
        for _ in range(args.orders):
            start = time.perf_counter()
            placed = order_as_customer(
                p,
                provider.tee_offer_id(),
                engine.resource_id,
                [r.resource_id for r in published],
                inputs=(),
                max_duration=600,
            )
            order = wait_for_order(p.market, placed.order_id, timeout=600, poll=0.2)
            assert order.status == OrderStatus.COMPLETED, order.status
            fetch_result(p.market, p.store, placed.order_id, wallet_identity(customer))
            confidential = time.perf_counter() - start
            seed = order_seed(placed.order_id)
            plain = plain_run(
                "tabular_trainer", {"datasets": [share_to_npz(s) for s in shares]}, seed=seed
            )[0]
            warm_start = time.perf_counter()
            train_plain(shares, seed)
            warm = time.perf_counter() - warm_start
            job = httpx.get(f"{provider.url}/v1/jobs/{placed.order_id}", timeout=10).json()
            stages = job["stages"]
            rows.append(
                {
                    "confidential_s": confidential,
                    "plain_process_s": plain,
                    "plain_warm_s": warm,
                    "ratio_vs_plain_process": confidential / plain,
                    "ratio_vs_warm": confidential / warm,
                    "stages": stages,
                }
            )
    finally:
        devnet.down(name)  # stops the provider too: its processes are the devnet's
    summary = {
        key: statistics.median(r[key] for r in rows)
        for key in (
            "confidential_s",
            "plain_process_s",
            "plain_warm_s",
            "ratio_vs_plain_process",
            "ratio_vs_warm",
        )
    }
    result = {"orders": len(rows), "target_ratio": 1.3, "median": summary, "runs": rows}
    out = Path(__file__).resolve().parent / "results" / "multiparty.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(f"{'measure':32} {'median':>10}")
    for key, value in summary.items():
        print(f"{key:32} {value:10.3f}")
    print(f"stages of the last order (s): {json.dumps(rows[-1]['stages'])}")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
