"""Releasing an order's keys: every guard for every resource first, then all keys or none.

Flow: normalize the request → ``guard_request_unused``: remember the request's
``(enclave, request_nonce)`` in its own transaction, refusing one already seen (a replay) → guards
1-2 (the enclave) (:func:`admit_release`; the broker then releases a confidential service's
model key by :mod:`.service_release` when the id is a service's) → guards 3-4 (the order, the
offer's GPU) → guards 5-6 for each resource → unwrap each key with the CA
identity and re-encrypt it to the enclave's age recipient (in memory only) → in one transaction,
count one use of each key and append a ``granted`` entry per key → return, each key with the
content hash the order commits to. A refusal anywhere appends ``denied`` entries (the refused
resource with its reason and guard, the others ``withheld``) and raises the refusal; no use is
counted and no key leaves. The nonce stays spent even when a later guard refuses: a request is
answered once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import NoReturn

import pyrage
from pyrage import x25519
from sqlalchemy.orm import Session, sessionmaker

from certification_authority.audit import AuditLog
from certification_authority.broker import errors as e
from certification_authority.broker.chain import ChainView
from certification_authority.broker.guards import (
    ReleaseContext,
    guard_certificate_valid,
    guard_measurement_allowed,
    guard_order_accepted,
    guard_order_gpu,
    guard_policy_allows,
    guard_resource_in_order,
)
from certification_authority.broker.models import VerifiedEnclave, WrappedKey
from certification_authority.broker.order_inputs import wrap_order_inputs
from certification_authority.broker.store import StoredDeposit, claim_release_request, consume_use
from certification_authority.db import write_transaction
from enclava.attestation.verifiers import MeasurementAllowList
from enclava.protocol.audit import AuditEvent, Decision
from enclava.protocol.broker.fields import (
    normalize_address,
    normalize_measurement,
    normalize_serial,
    normalize_uint256,
)
from enclava.protocol.tee import KNOWN_TEES, MAX_GPU_COUNT, is_gpu_class

__all__ = [
    "BrokerParts",
    "normalize_enclave",
    "requested_resources",
    "wrap_key",
    "admit_release",
    "release_keys",
    "deny",
    "grant",
    "audit_facts",
    "guard_request_unused",
    "RELEASE_WINDOW_S",
]

MAX_RESOURCES_PER_REQUEST = 64
#: how far a release request's issued_at may lie from the CA's clock (either way); its nonce is
#: remembered until no request carrying it can be within that window any more
RELEASE_WINDOW_S = 300
WITHHELD = (
    "withheld"  # audit reason of a resource that passed while another of the order was refused
)


@dataclass(frozen=True)
class BrokerParts:
    """What a release needs; built once by :class:`KeyBroker`."""

    sessions: sessionmaker[Session]
    lock: threading.RLock
    audit: AuditLog
    chain: ChainView
    allow_list: MeasurementAllowList
    identity: x25519.Identity = field(repr=False)
    load_deposit: Callable[[int], StoredDeposit | None]


def _integer(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{what} must be an integer")
    return value


def normalize_enclave(enclave: object) -> VerifiedEnclave:
    """The enclave with every field checked and in its one spelling, or ``BrokerRequestInvalid``."""
    if not isinstance(enclave, VerifiedEnclave):
        raise e.BrokerRequestInvalid("the enclave must be a VerifiedEnclave")
    try:
        tee_type = _integer(enclave.tee_type, "tee_type")
        if tee_type not in KNOWN_TEES:
            raise ValueError(f"tee_type {tee_type} is not a known TEE type")
        if not isinstance(enclave.simulated, bool):
            raise ValueError("simulated must be a bool")
        if not isinstance(enclave.age_recipient, str):
            raise ValueError("age_recipient must be a string")
        gpu_count = _integer(enclave.gpu_count, "gpu_count")
        if not 0 <= gpu_count <= MAX_GPU_COUNT:
            raise ValueError(f"gpu_count must be 0 to {MAX_GPU_COUNT}")
        if (gpu_count == 0) != (enclave.gpu_class == "") or (
            gpu_count and not is_gpu_class(enclave.gpu_class)
        ):
            raise ValueError("gpu_class must be a GPU class exactly when gpu_count is not 0")
        x25519.Recipient.from_str(enclave.age_recipient)
        return VerifiedEnclave(
            certificate_serial=normalize_serial(enclave.certificate_serial),
            tee_type=tee_type,
            measurement=normalize_measurement(enclave.measurement),
            enclave_address=normalize_address(enclave.enclave_address),
            provider_address=normalize_address(enclave.provider_address),
            age_recipient=enclave.age_recipient,
            not_after=_integer(enclave.not_after, "not_after"),
            simulated=enclave.simulated,
            gpu_class=enclave.gpu_class,
            gpu_count=gpu_count,
        )
    except (ValueError, TypeError, pyrage.RecipientError) as exc:
        raise e.BrokerRequestInvalid(
            f"the enclave's certificate fields are malformed: {exc}"
        ) from exc


def requested_resources(resource_ids: Iterable[int] | None) -> tuple[int, ...] | None:
    """None (every resource of the order) or 1..64 distinct uint256 resource ids, in the order
    given."""
    if resource_ids is None:
        return None
    if isinstance(resource_ids, str | bytes) or not isinstance(resource_ids, Iterable):
        raise e.BrokerRequestInvalid("resource_ids must be a list of resource ids")
    try:
        resources = tuple(dict.fromkeys(normalize_uint256(resource) for resource in resource_ids))
    except ValueError as exc:
        raise e.BrokerRequestInvalid(f"resource_ids: {exc}") from exc
    if not 1 <= len(resources) <= MAX_RESOURCES_PER_REQUEST:
        raise e.BrokerRequestInvalid(f"ask for 1 to {MAX_RESOURCES_PER_REQUEST} resources at once")
    return resources


def wrap_key(identity: x25519.Identity, deposit: StoredDeposit, recipient: str) -> bytes:
    """Open the deposit with the CA identity and seal it to ``recipient``; the plaintext never
    leaves."""
    try:
        return bytes(
            pyrage.encrypt(
                pyrage.decrypt(deposit.ciphertext, [identity]),
                [x25519.Recipient.from_str(recipient)],
            )
        )
    except (pyrage.DecryptError, pyrage.EncryptError, pyrage.RecipientError) as exc:
        raise e.KeyUnwrapFailed(
            f"the key of resource {deposit.resource_id} could not be re-wrapped",
            resource_id=deposit.resource_id,
        ) from exc


def audit_facts(ctx: ReleaseContext) -> dict[str, object]:
    enclave = ctx.enclave
    return {
        "certificate_serial": enclave.certificate_serial,
        "tee_type": enclave.tee_type,
        "measurement": enclave.measurement,
        "simulated": enclave.simulated,
        # only when there is one: entries about CPU-only enclaves keep their shape
        **(
            {"gpu_class": enclave.gpu_class, "gpu_count": enclave.gpu_count}
            if enclave.gpu_count
            else {}
        ),
    }


def deny(
    parts: BrokerParts,
    ctx: ReleaseContext,
    resources: Iterable[int],
    denials: dict[int | None, e.BrokerError],
) -> NoReturn:
    """Append one ``denied`` entry per resource (one without resources if none is known), then
    re-raise."""
    order_level = denials.get(None)
    targets: list[int | None] = [*resources] or [None]

    def work(session: Session) -> None:
        for resource in targets:
            denial = order_level or denials.get(resource)
            reason = denial.code if denial else WITHHELD
            guard = getattr(denial, "guard", "release") if denial else None
            note = denial.message if denial else "another resource of this order was refused"
            parts.audit.append(
                session,
                event=AuditEvent.KEY_RELEASE,
                decision=Decision.DENIED,
                reason=reason,
                resource_ids=[] if resource is None else [resource],
                order_id=ctx.order_id,
                enclave_address=ctx.enclave.enclave_address,
                guard=guard,
                details={**audit_facts(ctx), "message": note},
            )

    write_transaction(parts.sessions, work, lock=parts.lock)
    raise order_level or next(iter(denials.values()))


def _resources_for_log(
    parts: BrokerParts, ctx: ReleaseContext, requested: tuple[int, ...] | None
) -> tuple[int, ...]:
    """Which owners an order-level refusal concerns: the asked-for resources, else the order's (best
    effort)."""
    if requested is not None:
        return requested
    try:
        order = parts.chain.order(ctx.order_id)
        return (
            tuple(normalize_uint256(resource) for resource in order.all_resource_ids)
            if order is not None
            else ()
        )
    except Exception:  # noqa: BLE001 - only to name owners in the log; the refusal stands regardless
        return ()


def guard_request_unused(
    parts: BrokerParts, ctx: ReleaseContext, request_nonce: str, issued_at: int
) -> None:
    """Remember this request's nonce for the enclave, or refuse a request seen before (a replay)."""
    expires_at = max(issued_at, ctx.now) + RELEASE_WINDOW_S
    fresh = write_transaction(
        parts.sessions,
        lambda session: claim_release_request(
            session, ctx.enclave.enclave_address, request_nonce, now=ctx.now, expires_at=expires_at
        ),
        lock=parts.lock,
    )
    if not fresh:
        raise e.ReleaseReplayed(
            f"enclave {ctx.enclave.enclave_address} already sent a request with this nonce"
        )


def admit_release(
    parts: BrokerParts,
    ctx: ReleaseContext,
    requested: tuple[int, ...] | None,
    *,
    request_nonce: str,
    issued_at: int,
) -> None:
    """What every release passes first, for an order or a service: the request is new, then
    guards 1-2 (the enclave's certificate and measurement); a refusal is logged and raised."""
    try:
        guard_request_unused(parts, ctx, request_nonce, issued_at)
    except e.ReleaseReplayed as replay:
        deny(parts, ctx, _resources_for_log(parts, ctx, requested), {None: replay})
    try:
        guard_certificate_valid(ctx)
        guard_measurement_allowed(ctx)
    except (e.ReleaseDenied, e.ChainLookupError) as denial:
        deny(parts, ctx, _resources_for_log(parts, ctx, requested), {None: denial})


def grant(
    parts: BrokerParts,
    ctx: ReleaseContext,
    session: Session,
    deposit: StoredDeposit,
    details: dict[str, object],
) -> None:
    """Count one use of ``deposit`` and append its ``granted`` entry (inside the caller's
    transaction); a key used up or replaced meanwhile is :class:`UsesExhausted`."""
    resource = deposit.resource_id
    if not consume_use(session, deposit):
        raise e.UsesExhausted(
            f"the key of resource {resource} was used up or replaced meanwhile",
            resource_id=resource,
        )
    parts.audit.append(
        session,
        event=AuditEvent.KEY_RELEASE,
        decision=Decision.GRANTED,
        reason="ok",
        resource_ids=[resource],
        order_id=ctx.order_id,
        enclave_address=ctx.enclave.enclave_address,
        details={**audit_facts(ctx), "policy_version": deposit.version, **details},
    )


def release_keys(
    parts: BrokerParts, ctx: ReleaseContext, requested: tuple[int, ...] | None
) -> list[WrappedKey]:
    """The keys of the order's ``requested`` resources (None: all of them and its inputs' key),
    after :func:`admit_release`: guards 3-6, then all keys or none, logged."""
    try:
        order = guard_order_accepted(ctx)
        guard_order_gpu(ctx, order)
    except (e.ReleaseDenied, e.ChainLookupError) as denial:
        deny(parts, ctx, _resources_for_log(parts, ctx, requested), {None: denial})
    resources = requested if requested is not None else order.all_resource_ids
    granted: dict[int, StoredDeposit] = {}
    denials: dict[int | None, e.BrokerError] = {}
    for resource in resources:
        try:
            guard_resource_in_order(ctx, order, resource)
            granted[resource] = guard_policy_allows(
                ctx, order, resource, parts.load_deposit(resource)
            )
        except e.ReleaseDenied as denial:
            denials[resource] = denial
    if denials:
        deny(parts, ctx, resources, denials)
    try:
        wrapped = [
            WrappedKey(
                resource_id=resource,
                policy_version=deposit.version,
                content_hash=order.content_hash_of(resource),
                ciphertext=wrap_key(parts.identity, deposit, ctx.enclave.age_recipient),
            )
            for resource, deposit in granted.items()
        ]
    except e.KeyUnwrapFailed as denial:
        deny(parts, ctx, resources, {denial.resource_id: denial})

    def commit(session: Session) -> None:
        if requested is None:  # the whole order: its customer's inputs key goes with the resources'
            if order.inputs_hash is None:  # guard_order_accepted refused this already
                raise e.ChainLookupError("the order's inputsHash could not be read")
            inputs_key = wrap_order_inputs(
                session,
                parts.identity,
                ctx.order_id,
                ctx.enclave.age_recipient,
                content_hash=order.inputs_hash,
            )
            if inputs_key is not None:
                wrapped.append(inputs_key)
                parts.audit.append(
                    session,
                    event=AuditEvent.KEY_RELEASE,
                    decision=Decision.GRANTED,
                    reason="ok",
                    resource_ids=[],
                    order_id=ctx.order_id,
                    enclave_address=ctx.enclave.enclave_address,
                    details={
                        **audit_facts(ctx),
                        "kind": "order_inputs",
                        "customer": order.customer,
                    },
                )
        for resource, deposit in granted.items():
            grant(
                parts,
                ctx,
                session,
                deposit,
                {"engine_hash": order.engine_hash, "customer": order.customer},
            )

    try:
        write_transaction(parts.sessions, commit, lock=parts.lock)
    except e.UsesExhausted as denial:
        deny(parts, ctx, resources, {denial.resource_id: denial})
    return wrapped
