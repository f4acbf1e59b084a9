"""Errors of report verification.

Hierarchy::

    EnclavaError
    ├── OrderNotFound            no OrderCreated event for this id on this chain (the chain
    │                            client's own)
    └── ReportError              a report cannot be verified at all
        └── OrderNotCompleted    the order exists but no report completed it (yet)

A report that exists but fails a check is not an error: it is a :class:`Checklist` whose
``valid`` is false, with the failing items saying why.
"""

from __future__ import annotations

from enclava.chain.errors import OrderNotFound
from enclava.errors import EnclavaError

__all__ = ["ReportError", "OrderNotFound", "OrderNotCompleted"]


class ReportError(EnclavaError):
    code = "report_error"
    hint = "Check the order id and that you are connected to the chain the order was placed on."


class OrderNotCompleted(ReportError):
    code = "order_not_completed"
    hint = "Only a completed order has an integrity report; check its status and try again later."
    http_status = 409
