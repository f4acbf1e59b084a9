"""End-to-end orders, confidential vs plain, in one run: `enclava bench e2e` without the CLI.

Starts a private devnet (anvil, Kubo, Redis, CA, marketplace API) and a provider node with one
worker, publishes the digits classifier, and runs N digits orders one at a time, each timed per stage
from the customer's upload to the decrypted predictions, next to a fresh `python main.py` run of the
same engine on the same inputs. Prints a table; writes bench/results/e2e.json. The measuring code is
`enclava/benchmarks/e2e.py`.

    .venv/bin/python bench/e2e.py [--orders 20] [--devnet NAME]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from enclava.benchmarks.e2e import DEFAULT_OUT, format_table, run_e2e  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=20)
    parser.add_argument(
        "--devnet", default=None, help="use this running devnet instead of a private one"
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
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


if __name__ == "__main__":
    main()
