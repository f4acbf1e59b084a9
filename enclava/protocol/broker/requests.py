"""Owner- and customer-side requests to the key broker: encrypt a key to the CA and sign its
deposit; sign an audit read; check the audit view the CA answers with.

They call the very message builders the broker verifies with, so a request built here is
byte-for-byte what the broker checks. ``account`` is an eth-account ``LocalAccount``.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping
from typing import Any

import pyrage
from eth_account.signers.local import LocalAccount
from pyrage import x25519

from enclava.protocol.audit import AuditView, ChainLink, verify_audit_view
from enclava.protocol.broker.models import (
    AuditReadRequest,
    DepositRequest,
    KeyPolicy,
    OrderInputsDeposit,
)
from enclava.protocol.broker.signing import (
    audit_read_message,
    deposit_message,
    order_inputs_message,
    sign_text,
)
from enclava.protocol.errors import DepositRequestInvalid

__all__ = [
    "build_deposit_request",
    "build_order_inputs_deposit",
    "build_audit_request",
    "check_audit_view",
]


def _recipient(ca_recipient: x25519.Recipient | str) -> x25519.Recipient:
    if isinstance(ca_recipient, x25519.Recipient):
        return ca_recipient
    try:
        recipient: x25519.Recipient = x25519.Recipient.from_str(ca_recipient)
    except (pyrage.RecipientError, TypeError, ValueError) as exc:
        raise DepositRequestInvalid(
            "the CA's age recipient is malformed (expected age1...)"
        ) from exc
    return recipient


def _encrypt(key: bytes, ca_recipient: x25519.Recipient | str, what: str) -> bytes:
    if not isinstance(key, bytes) or not key:
        raise DepositRequestInvalid(f"the {what} must be non-empty bytes")
    ciphertext: bytes = pyrage.encrypt(key, [_recipient(ca_recipient)])
    return ciphertext


def build_deposit_request(
    owner_account: LocalAccount,
    ca_recipient: x25519.Recipient | str,
    ca_id: str,
    resource_id: int,
    resource_key: bytes,
    policy: KeyPolicy | Mapping[str, Any],
    *,
    issued_at: int | None = None,
) -> DepositRequest:
    """Encrypt ``resource_key`` to the CA with age and sign the deposit with the owner's wallet."""
    ciphertext = _encrypt(resource_key, ca_recipient, "resource key")
    policy = policy if isinstance(policy, KeyPolicy) else KeyPolicy.model_validate(policy)
    issued_at = int(time.time()) if issued_at is None else issued_at
    message = deposit_message(
        ca_id=ca_id,
        resource_id=resource_id,
        ciphertext_sha256=hashlib.sha256(ciphertext).hexdigest(),
        policy=policy,
        issued_at=issued_at,
    )
    return DepositRequest(
        ca_id=ca_id,
        resource_id=resource_id,
        owner=owner_account.address,
        ciphertext=ciphertext,
        policy=policy,
        issued_at=issued_at,
        signature=sign_text(owner_account, message),
    )


def build_order_inputs_deposit(
    customer_account: LocalAccount,
    ca_recipient: x25519.Recipient | str,
    ca_id: str,
    order_id: str,
    input_key: bytes,
    *,
    issued_at: int | None = None,
) -> OrderInputsDeposit:
    """Encrypt the key of an order's own inputs to the CA and sign it with the customer's wallet."""
    ciphertext = _encrypt(input_key, ca_recipient, "inputs key")
    issued_at = int(time.time()) if issued_at is None else issued_at
    message = order_inputs_message(
        ca_id=ca_id,
        order_id=order_id,
        ciphertext_sha256=hashlib.sha256(ciphertext).hexdigest(),
        issued_at=issued_at,
    )
    return OrderInputsDeposit(
        ca_id=ca_id,
        order_id=order_id,
        customer=customer_account.address,
        ciphertext=ciphertext,
        issued_at=issued_at,
        signature=sign_text(customer_account, message),
    )


def build_audit_request(
    owner_account: LocalAccount, ca_id: str, resource_id: int, *, issued_at: int | None = None
) -> AuditReadRequest:
    """Sign a request to read the audit entries about ``resource_id``."""
    issued_at = int(time.time()) if issued_at is None else issued_at
    message = audit_read_message(ca_id=ca_id, resource_id=resource_id, issued_at=issued_at)
    return AuditReadRequest(
        ca_id=ca_id,
        resource_id=resource_id,
        owner=owner_account.address,
        issued_at=issued_at,
        signature=sign_text(owner_account, message),
    )


def check_audit_view(
    view: AuditView | Mapping[str, Any], *, anchor: ChainLink | None = None
) -> ChainLink | None:
    """Verify a view received from the CA; return its head link, to keep as the next ``anchor``."""
    view = view if isinstance(view, AuditView) else AuditView.model_validate(view)
    return verify_audit_view(view, anchor=anchor)
