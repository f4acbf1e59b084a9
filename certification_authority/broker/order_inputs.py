"""The key of an order's own inputs: deposited by the order's customer, released only with the
order's other keys, to the enclave that passes the enclave and order guards.

A customer's inputs are not listed resources, so no owner policy applies: placing the order *is*
the customer's consent, for that order only. The deposit is accepted while the order is open or
accepted and its key not yet released; a release appends a ``granted`` audit entry that names the
order (with no resource), so the customer's view of the log shows it too.
"""

from __future__ import annotations

import pyrage
from pyrage import x25519
from sqlalchemy.orm import Session

from certification_authority.audit.log import AuditLog
from certification_authority.broker import errors as e
from certification_authority.broker.chain import OrderView
from certification_authority.broker.models import WrappedKey
from certification_authority.db import OrderInputKeyRow
from enclava.protocol.audit import AuditEvent, Decision
from enclava.protocol.broker import OrderInputsDeposit
from enclava.protocol.broker.fields import normalize_address
from enclava.protocol.order import OrderStatus

__all__ = ["require_order_customer", "save_order_inputs", "wrap_order_inputs"]

_OPEN = (OrderStatus.OPEN, OrderStatus.ACCEPTED)


def require_order_customer(order: OrderView | None, order_id: str, signer: str) -> None:
    """``order`` (the chain view's, or None) exists, is ``signer``'s, and is open or accepted."""
    if order is None:
        raise e.OrderNotOnChain(f"no order {order_id} on chain")
    if normalize_address(order.customer) != signer:
        raise e.NotOrderCustomer(f"{signer} is not the customer of order {order_id}")
    if order.status not in _OPEN:
        raise e.OrderClosed(f"order {order_id} is {order.status.name}")


def save_order_inputs(
    session: Session, audit: AuditLog, request: OrderInputsDeposit, *, now: int
) -> int:
    """Store (or, before any release, replace) the key; return the audit entry's sequence number."""
    row = session.get(OrderInputKeyRow, request.order_id)
    if row is not None and row.releases:
        raise e.OrderClosed(f"the inputs' key of order {request.order_id} was already released")
    if row is None:
        row = OrderInputKeyRow(order_id=request.order_id, releases=0)
        session.add(row)
    row.customer = normalize_address(request.customer)
    row.ciphertext = request.ciphertext
    row.ciphertext_sha256 = request.ciphertext_sha256
    row.deposited_at = now
    entry = audit.append(
        session,
        event=AuditEvent.KEY_DEPOSIT,
        decision=Decision.ACCEPTED,
        reason="ok",
        resource_ids=[],
        order_id=request.order_id,
        details={
            "kind": "order_inputs",
            "customer": row.customer,
            "ciphertext_sha256": row.ciphertext_sha256,
        },
    )
    return int(entry.seq)


def wrap_order_inputs(
    session: Session, identity: x25519.Identity, order_id: str, recipient: str, *, content_hash: str
) -> WrappedKey | None:
    """The order's inputs key re-wrapped to ``recipient`` (counted as released), or None if none.

    ``content_hash`` is the order's inputsHash: what the released key is for, in the signed answer.
    """
    row = session.get(OrderInputKeyRow, order_id)
    if row is None:
        return None
    try:
        wrapped = pyrage.encrypt(
            pyrage.decrypt(row.ciphertext, [identity]), [x25519.Recipient.from_str(recipient)]
        )
    except (pyrage.DecryptError, pyrage.EncryptError, pyrage.RecipientError) as exc:
        raise e.KeyUnwrapFailed(
            f"the inputs' key of order {order_id} could not be re-wrapped"
        ) from exc
    row.releases += 1
    return WrappedKey(
        kind="order_inputs",
        resource_id=0,
        policy_version=0,
        content_hash=content_hash,
        ciphertext=wrapped,
    )
