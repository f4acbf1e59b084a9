"""Releasing a confidential service's model key: to the one enclave bound to the service.

After :func:`.release.admit_release` (a fresh request, guards 1-2), the broker asks the chain
whether the id names a service (:func:`is_service`); if so this module runs guards 3-7 of
:mod:`.service_guards`, re-wraps the model's key to the enclave's age recipient, counts one use
and appends a ``granted`` entry in one transaction; a refusal appends ``denied`` entries and is
raised, and no key leaves. A service has no customer inputs: only the model's key is released.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from certification_authority.broker import errors as e
from certification_authority.broker.guards import ReleaseContext, outside
from certification_authority.broker.models import WrappedKey
from certification_authority.broker.release import BrokerParts, deny, grant, wrap_key
from certification_authority.broker.service_guards import (
    guard_resource_served,
    guard_service_enclave,
    guard_service_gpu,
    guard_service_live,
    guard_serving_policy,
)
from certification_authority.db import write_transaction

__all__ = ["is_service", "release_service_key"]


def is_service(parts: BrokerParts, ctx: ReleaseContext, requested: tuple[int, ...] | None) -> bool:
    """Whether the request's id is a service's (a failed lookup is logged and refuses)."""
    try:
        with outside("reading the service", "guard_service_live"):
            return ctx.chain.service(ctx.order_id) is not None
    except e.ChainLookupError as denial:
        deny(parts, ctx, requested or (), {None: denial})


def release_service_key(
    parts: BrokerParts, ctx: ReleaseContext, requested: tuple[int, ...] | None
) -> list[WrappedKey]:
    """The service's model key wrapped to the enclave (``requested`` None: the model), or the
    first refusal, logged."""
    try:
        service = guard_service_live(ctx)
        guard_service_enclave(ctx, service)
        guard_service_gpu(ctx, service)
    except (e.ReleaseDenied, e.ChainLookupError) as denial:
        deny(parts, ctx, requested or (), {None: denial})
    resources = requested if requested is not None else (service.model_id,)
    denials: dict[int | None, e.BrokerError] = {}
    granted = {}
    for resource in resources:
        try:
            guard_resource_served(ctx, service, resource)
            granted[resource] = guard_serving_policy(ctx, resource, parts.load_deposit(resource))
        except e.ReleaseDenied as denial:
            denials[resource] = denial
    if denials:
        deny(parts, ctx, resources, denials)
    try:
        wrapped = [
            WrappedKey(
                resource_id=resource,
                policy_version=deposit.version,
                content_hash=service.model_hash,
                ciphertext=wrap_key(parts.identity, deposit, ctx.enclave.age_recipient),
            )
            for resource, deposit in granted.items()
        ]
    except e.KeyUnwrapFailed as denial:
        deny(parts, ctx, resources, {denial.resource_id: denial})

    def commit(session: Session) -> None:
        for deposit in granted.values():
            grant(
                parts,
                ctx,
                session,
                deposit,
                {"kind": "service_model", "service_ends_at": service.ends_at},
            )

    try:
        write_transaction(parts.sessions, commit, lock=parts.lock)
    except e.UsesExhausted as denial:
        deny(parts, ctx, resources, {denial.resource_id: denial})
    return wrapped
