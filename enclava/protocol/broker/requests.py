"""Owner- and customer-side requests to the key broker: encrypt a key to the CA and sign its
deposit; sign an audit read; check the audit view the CA answers with; ask, before paying, whether
the owners' policies admit an order (:class:`PolicyCheckRequest`, answered by
:class:`PolicyCheckAnswer`).

They call the very message builders the broker verifies with, so a request built here is
byte-for-byte what the broker checks. ``account`` is an eth-account ``LocalAccount``.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal

import pyrage
from eth_account.signers.local import LocalAccount
from pydantic import BaseModel, ConfigDict, Field
from pyrage import x25519

from enclava.protocol.audit import AuditView, ChainLink, verify_audit_view
from enclava.protocol.broker.fields import (
    Address,
    Bytes32Hex,
    ResourceIdField,
    SignatureHex,
    UnixTime,
)
from enclava.protocol.broker.models import (
    AuditReadRequest,
    DepositRequest,
    GpuClassLabel,
    KeyPolicy,
    OrderInputsDeposit,
)
from enclava.protocol.broker.signing import (
    audit_read_message,
    deposit_message,
    order_inputs_message,
    sign_text,
)
from enclava.protocol.canonical import canonical_json
from enclava.protocol.errors import DepositRequestInvalid
from enclava.protocol.tee import KnownTeeType

__all__ = [
    "build_deposit_request",
    "build_order_inputs_deposit",
    "build_audit_request",
    "check_audit_view",
    "POLICY_CHECK_DOMAIN",
    "PolicyCheckRequest",
    "PolicyCheckAnswer",
    "ResourceVerdict",
    "policy_check_message",
    "build_policy_check_request",
]

POLICY_CHECK_DOMAIN = "enclava-policy-check-v1"
MAX_CHECKED_RESOURCES = 64


class PolicyCheckRequest(BaseModel):
    """A customer asks whether the owners' policies would release these resources' keys to an
    order of theirs: this engine (its content hash, as the order will commit to it and policies
    name it) on a TEE offer of this type, simulated or not, promising this GPU class (``""``: no
    GPU; an order on a GPU offer only ever runs in an enclave certified with that class). Signed by
    the customer, so an answer about a customer is given only to that customer. Nothing is released
    or counted."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    ca_id: Annotated[str, Field(min_length=1, max_length=128)]
    customer: Address
    resource_ids: Annotated[list[ResourceIdField], Field(min_length=1, max_length=64)]
    engine_hash: Bytes32Hex
    tee_type: KnownTeeType
    simulated: bool
    issued_at: UnixTime
    signature: SignatureHex
    gpu_class: GpuClassLabel | Literal[""] = ""


class ResourceVerdict(BaseModel):
    """One resource's answer: allowed, or the guard's reason (``code``, e.g.
    ``policy_simulated_tee_refused``) with its words and what to do."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    resource_id: ResourceIdField
    allowed: bool
    reason: str | None = None
    guard: str | None = None
    message: str | None = None
    hint: str | None = None


class PolicyCheckAnswer(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    allowed: bool
    resources: list[ResourceVerdict]


def policy_check_message(
    *,
    ca_id: str,
    customer: str,
    resource_ids: Sequence[int],
    engine_hash: str,
    tee_type: int,
    simulated: bool,
    issued_at: int,
    gpu_class: str = "",
) -> str:
    """What a customer signs to pre-check an order (canonical JSON, EIP-191 ``personal_sign``).

    ``gpu_class`` enters the message only when set, so a check without a GPU keeps its old bytes.
    """
    message: dict[str, Any] = {
        "domain": POLICY_CHECK_DOMAIN,
        "ca_id": ca_id,
        "customer": customer.lower(),
        "resource_ids": [str(r) for r in resource_ids],
        "engine_hash": engine_hash.lower(),
        "tee_type": int(tee_type),
        "simulated": bool(simulated),
        "issued_at": issued_at,
    }
    if gpu_class:
        message["gpu_class"] = gpu_class
    return canonical_json(message).decode("ascii")


def build_policy_check_request(
    customer_account: LocalAccount,
    ca_id: str,
    resource_ids: Sequence[int],
    *,
    engine_hash: str,
    tee_type: int,
    simulated: bool,
    issued_at: int | None = None,
    gpu_class: str = "",
) -> PolicyCheckRequest:
    """Sign a policy pre-check for an order of ``customer_account``."""
    issued_at = int(time.time()) if issued_at is None else issued_at
    unsigned = dict(
        ca_id=ca_id,
        customer=customer_account.address,
        resource_ids=list(resource_ids),
        engine_hash=engine_hash,
        tee_type=int(tee_type),
        simulated=simulated,
        issued_at=issued_at,
        gpu_class=gpu_class,
    )
    # the message is built from the normalized request, exactly as the broker rebuilds it
    draft = PolicyCheckRequest.model_validate({**unsigned, "signature": "0x" + "00" * 65})
    message = policy_check_message(**draft.model_dump(exclude={"signature"}))
    return draft.model_copy(update={"signature": sign_text(customer_account, message)})


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
