"""Owner-side helpers: encrypt a resource key to the CA and sign the deposit; sign an audit read.

They call the very message builders the broker verifies with, so a request built here is
byte-for-byte what the broker checks. ``owner_account`` is an eth-account ``LocalAccount``.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping
from typing import Any

import pyrage
from pyrage import x25519

from certification_authority.audit import AuditView, ChainLink, verify_audit_view
from certification_authority.broker.errors import BrokerRequestInvalid
from certification_authority.broker.models import AuditReadRequest, DepositRequest, KeyPolicy
from certification_authority.broker.signing import audit_read_message, deposit_message, sign_text

__all__ = ["build_deposit_request", "build_audit_request", "check_audit_view"]


def _recipient(ca_recipient: x25519.Recipient | str) -> x25519.Recipient:
    if isinstance(ca_recipient, x25519.Recipient):
        return ca_recipient
    try:
        return x25519.Recipient.from_str(ca_recipient)
    except (pyrage.RecipientError, TypeError, ValueError) as exc:
        raise BrokerRequestInvalid(
            "the CA's age recipient is malformed (expected age1...)"
        ) from exc


def build_deposit_request(
    owner_account,
    ca_recipient: x25519.Recipient | str,
    ca_id: str,
    offer_id: int,
    resource_key: bytes,
    policy: KeyPolicy | Mapping[str, Any],
    *,
    issued_at: int | None = None,
) -> DepositRequest:
    """Encrypt ``resource_key`` to the CA with age and sign the deposit with the owner's wallet."""
    if not isinstance(resource_key, bytes) or not resource_key:
        raise BrokerRequestInvalid("the resource key must be non-empty bytes")
    policy = policy if isinstance(policy, KeyPolicy) else KeyPolicy.model_validate(policy)
    ciphertext = pyrage.encrypt(resource_key, [_recipient(ca_recipient)])
    issued_at = int(time.time()) if issued_at is None else issued_at
    message = deposit_message(
        ca_id=ca_id,
        offer_id=offer_id,
        ciphertext_sha256=hashlib.sha256(ciphertext).hexdigest(),
        policy=policy,
        issued_at=issued_at,
    )
    return DepositRequest(
        ca_id=ca_id,
        offer_id=offer_id,
        owner=owner_account.address,
        ciphertext=ciphertext,
        policy=policy,
        issued_at=issued_at,
        signature=sign_text(owner_account, message),
    )


def build_audit_request(
    owner_account, ca_id: str, offer_id: int, *, issued_at: int | None = None
) -> AuditReadRequest:
    """Sign a request to read the audit entries about ``offer_id``."""
    issued_at = int(time.time()) if issued_at is None else issued_at
    message = audit_read_message(ca_id=ca_id, offer_id=offer_id, issued_at=issued_at)
    return AuditReadRequest(
        ca_id=ca_id,
        offer_id=offer_id,
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
