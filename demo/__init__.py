"""`make demo` (`python -m demo`): the whole marketplace on the devnet, told as a story.

A model owner publishes the digits classifier through the marketplace API, a customer orders
inference on their own images, two hospitals train the breast-cancer model together; the summary
shows stage times, gas, transactions, CIDs, each report's verification checklist and its web page.
Modules: ``story`` (the scenes), ``orders`` (one measured order, shared with the benchmark),
``parties`` (dev wallets publishing and ordering straight on chain: the multi-party benchmark's and
the end-to-end tests'), ``facts`` (what gets recorded), ``summary`` (rich output), ``run`` (the
command).
"""

from demo.context import DemoContext
from demo.facts import DemoFacts, DemoStepFailed, OrderFacts, TxFact
from demo.orders import LOADER_STAGES, STAGE_ORDER, run_order
from demo.run import main, run, start

__all__ = [
    "DemoContext",
    "DemoFacts",
    "DemoStepFailed",
    "OrderFacts",
    "TxFact",
    "LOADER_STAGES",
    "STAGE_ORDER",
    "run_order",
    "main",
    "run",
    "start",
]
