"""`make demo` (`python -m enclava.demo`): the whole marketplace on the devnet, told as a story.

A model owner publishes the digits classifier through the marketplace API, a customer orders
inference on their own images, two hospitals train the breast-cancer model together; the summary
shows stage times, gas, transactions, CIDs, each report's verification checklist and its web page.
Modules: ``story`` (the scenes), ``orders`` (one measured order, shared with the benchmark),
``facts`` (what gets recorded), ``summary`` (rich output), ``run`` (the command).
"""

from enclava.demo.context import DemoContext
from enclava.demo.facts import DemoFacts, DemoStepFailed, OrderFacts, TxFact
from enclava.demo.orders import LOADER_STAGES, STAGE_ORDER, run_order
from enclava.demo.run import main, run, start

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
