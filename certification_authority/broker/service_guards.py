"""The release guards of a confidential service's model key, always in this order.

1. ``guard_certificate_valid``    as for orders (:mod:`.guards`)
2. ``guard_measurement_allowed``  as for orders: the serving engine is part of the measured image
3. ``guard_service_live``         the service exists, is LIVE, belongs to this enclave's provider,
                                  runs in this TEE type and is within its lifetime (by the CA's
                                  clock and by the chain's)
4. ``guard_service_enclave``      the provider bound exactly this enclave to the service on chain:
                                  one service, one enclave, so the key has one place to go
5. ``guard_service_gpu``          a TEE offer that promises a GPU class runs the service only in an
                                  enclave certified with exactly that class
6. ``guard_resource_served``      the asked-for resource is the service's model
7. ``guard_policy_allows``        the owner's policy allows serving (and the TEE type, GPU and
                                  measurement, as for orders) and has uses left

Each raises its own :class:`ReleaseDenied` leaf; anything the chain view raises becomes
:class:`ChainLookupError`, and the release is refused.
"""

from __future__ import annotations

from certification_authority.broker import errors as e
from certification_authority.broker.chain import ServiceStatus, ServiceView
from certification_authority.broker.guards import (
    PolicySubject,
    ReleaseContext,
    checked_gpu_label,
    gpu_refusal,
    outside,
    policy_refusal,
)
from certification_authority.broker.store import StoredDeposit
from enclava.protocol.broker.fields import normalize_address, normalize_bytes32, normalize_uint256

__all__ = [
    "guard_service_live",
    "guard_service_enclave",
    "guard_service_gpu",
    "guard_resource_served",
    "guard_serving_policy",
]


def _checked(service: object, service_id: str) -> ServiceView:
    """The chain view's answer, type-checked and in its one spelling (a malformed one refuses)."""
    if not isinstance(service, ServiceView):
        raise TypeError(f"the chain view answered {type(service).__name__}, not ServiceView")
    return ServiceView(
        service_id=service_id,
        status=ServiceStatus(service.status),
        provider=normalize_address(service.provider),
        tee_type=int(service.tee_type),
        model_id=normalize_uint256(service.model_id),
        model_hash=normalize_bytes32(service.model_hash),
        ends_at=int(service.ends_at),
        enclave=None if service.enclave is None else normalize_address(service.enclave),
        gpu_class=None if service.gpu_class is None else checked_gpu_label(service.gpu_class),
        observed_at=None if service.observed_at is None else int(service.observed_at),
    )


def guard_service_live(ctx: ReleaseContext) -> ServiceView:
    with outside("reading the service", "guard_service_live"):
        found = ctx.chain.service(ctx.order_id)
        service = None if found is None else _checked(found, ctx.order_id)
    if service is None or service.status == ServiceStatus.NONE:
        raise e.ServiceNotFound(f"service {ctx.order_id} does not exist")
    if service.status != ServiceStatus.LIVE:
        raise e.ServiceNotLive(f"service {ctx.order_id} is {service.status.name}, not LIVE")
    if service.provider != ctx.enclave.provider_address:
        raise e.ServiceProviderMismatch(
            f"service {ctx.order_id} belongs to another provider than "
            f"{ctx.enclave.provider_address}"
        )
    if service.tee_type != ctx.enclave.tee_type:
        raise e.ServiceTeeMismatch(
            f"service {ctx.order_id} is for TEE type {service.tee_type}, "
            f"the enclave is {ctx.enclave.tee_type}"
        )
    if max(ctx.now, service.observed_at or 0) >= service.ends_at:
        raise e.ServiceEnded(f"service {ctx.order_id} ended at {service.ends_at}")
    return service


def guard_service_enclave(ctx: ReleaseContext, service: ServiceView) -> None:
    if service.enclave != ctx.enclave.enclave_address:
        bound = service.enclave or "no enclave"
        raise e.ServiceEnclaveMismatch(
            f"service {ctx.order_id} is bound to {bound}, not to {ctx.enclave.enclave_address}"
        )


def guard_service_gpu(ctx: ReleaseContext, service: ServiceView) -> None:
    refusal = gpu_refusal(ctx.enclave, service.gpu_class)
    if refusal:
        raise e.ServiceGpuMismatch(f"service {ctx.order_id} runs on a TEE offer {refusal}")


def guard_resource_served(ctx: ReleaseContext, service: ServiceView, resource_id: int) -> None:
    if resource_id != service.model_id:
        raise e.ResourceNotServed(
            f"resource {resource_id} is not the model of service {ctx.order_id}",
            resource_id=resource_id,
        )


def guard_serving_policy(
    ctx: ReleaseContext, resource_id: int, deposit: StoredDeposit | None
) -> StoredDeposit:
    """``guard_policy_allows`` for a service: the same policy function, as a serving subject."""
    enclave = ctx.enclave
    subject = PolicySubject(
        engine_hash="",
        customer="",
        tee_type=enclave.tee_type,
        simulated=enclave.simulated,
        measurement=enclave.measurement,
        gpu_class=enclave.gpu_class if enclave.gpu_count > 0 else "",
        serving=True,
    )
    return policy_refusal(subject, resource_id, deposit, ctx.now)
