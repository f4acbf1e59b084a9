"""The release guards: named functions, always run in this order, each returning or raising a
reason.

1. ``guard_certificate_valid``    the certificate is within its validity and neither it nor the
                                  enclave is revoked
2. ``guard_measurement_allowed``  the enclave's measurement is on the CA's allow-list
3. ``guard_order_accepted``       the order exists, is ACCEPTED by this enclave's provider, runs in
                                  this TEE type and is not past its deadline (by the CA's clock
                                  and by the chain's)
4. ``guard_order_gpu``            an order on a TEE offer that promises a GPU class runs only in an
                                  enclave certified with exactly that class
5. ``guard_resource_in_order``    the asked-for resource is the order's engine or one of its
                                  resources
6. ``guard_policy_allows``        the owner's policy admits this engine, enclave (TEE type, GPU,
                                  measurement), customer, time and has uses left

1-4 concern the enclave and the order; 5-6 run for each resource. Each raises its own
:class:`ReleaseDenied` leaf, whose ``code`` and ``guard`` go to the audit log. Anything the chain
view or the allow-list raises becomes :class:`ChainLookupError`: a lookup that fails refuses.

Guard 5's body is :func:`policy_refusal` over a :class:`PolicySubject`; a customer's pre-check
(``KeyBroker.check_policy``) calls the same function, with no enclave yet, before paying.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from certification_authority.broker import errors as e
from certification_authority.broker.chain import ChainView, OrderView
from certification_authority.broker.models import VerifiedEnclave
from certification_authority.broker.store import StoredDeposit
from enclava.attestation.verifiers import MeasurementAllowList
from enclava.protocol.broker.fields import (
    normalize_address,
    normalize_bytes32,
    normalize_uint256,
)
from enclava.protocol.order import OrderStatus
from enclava.protocol.tee import TeeType, offer_requires_gpu

__all__ = [
    "ReleaseContext",
    "outside",
    "guard_certificate_valid",
    "guard_measurement_allowed",
    "guard_order_accepted",
    "guard_order_gpu",
    "gpu_refusal",
    "checked_gpu_label",
    "guard_resource_in_order",
    "guard_policy_allows",
    "PolicySubject",
    "policy_refusal",
    "ENCLAVE_GUARDS",
    "RESOURCE_GUARDS",
]


@dataclass(frozen=True)
class ReleaseContext:
    """One release request: the (normalized) enclave, the order id, the time, and what to
    consult."""

    enclave: VerifiedEnclave
    order_id: str
    now: int
    chain: ChainView
    allow_list: MeasurementAllowList
    is_revoked: Callable[[str, str], bool]  # (kind, subject) -> revoked?


@contextmanager
def outside(what: str, guard: str) -> Iterator[None]:
    """Translate any failure of the chain view or the allow-list; the caller refuses."""
    try:
        yield
    except Exception as exc:  # noqa: BLE001 - an outside implementation: fail closed, keep the cause
        error = e.ChainLookupError(f"{what} failed ({type(exc).__name__})")
        error.guard = guard
        raise error from exc


def guard_certificate_valid(ctx: ReleaseContext) -> None:
    enclave = ctx.enclave
    if ctx.now > enclave.not_after:
        raise e.CertificateExpired(
            f"certificate {enclave.certificate_serial} expired at {enclave.not_after}"
        )
    if ctx.is_revoked("certificate", str(enclave.certificate_serial)):
        raise e.CertificateRevoked(f"certificate {enclave.certificate_serial} is revoked")
    if ctx.is_revoked("enclave", enclave.enclave_address):
        raise e.EnclaveRevoked(f"enclave {enclave.enclave_address} is revoked")


def guard_measurement_allowed(ctx: ReleaseContext) -> None:
    with outside("the measurement allow-list", "guard_measurement_allowed"):
        enclave = ctx.enclave
        allowed = (
            ctx.allow_list.is_allowed(TeeType(enclave.tee_type), bytes.fromhex(enclave.measurement))
            is True
        )
    if not allowed:
        raise e.MeasurementNotAllowed(
            f"measurement {ctx.enclave.measurement} (TEE type {ctx.enclave.tee_type}) "
            "is not on the allow-list"
        )


def _checked(order: object, order_id: str) -> OrderView:
    """The chain view's answer, type-checked and normalized (a malformed answer refuses).

    Every resource must come with its content hash, and the order with its inputs hash: the
    signed answer names them, so an order without them cannot be answered.
    """
    if not isinstance(order, OrderView):
        raise TypeError(f"the chain view answered {type(order).__name__}, not OrderView")
    if len(order.resource_hashes) != len(order.resource_ids) or order.inputs_hash is None:
        raise TypeError(
            "the chain view's order lacks its resources' content hashes or its inputs hash"
        )
    return OrderView(
        order_id=order_id,
        status=OrderStatus(order.status),
        customer=normalize_address(order.customer),
        provider=normalize_address(order.provider),
        engine_id=normalize_uint256(order.engine_id),
        engine_hash=normalize_bytes32(order.engine_hash),
        deadline=int(order.deadline),
        resource_ids=tuple(normalize_uint256(o) for o in order.resource_ids),
        tee_type=None if order.tee_type is None else int(order.tee_type),
        observed_at=None if order.observed_at is None else int(order.observed_at),
        resource_hashes=tuple(normalize_bytes32(h) for h in order.resource_hashes),
        inputs_hash=normalize_bytes32(order.inputs_hash),
        gpu_class=None if order.gpu_class is None else checked_gpu_label(order.gpu_class),
    )


def checked_gpu_label(label: object) -> str:
    if not isinstance(label, str) or len(label) > 32:
        raise TypeError("the chain view's TEE offer GPU class is not a short string")
    return label


def guard_order_accepted(ctx: ReleaseContext) -> OrderView:
    with outside("reading the order", "guard_order_accepted"):
        found = ctx.chain.order(ctx.order_id)
        order = None if found is None else _checked(found, ctx.order_id)
    if order is None or order.status == OrderStatus.NONE:
        raise e.OrderNotFound(f"order {ctx.order_id} does not exist")
    if order.status != OrderStatus.ACCEPTED:
        raise e.OrderNotAccepted(f"order {ctx.order_id} is {order.status.name}, not ACCEPTED")
    if order.provider != ctx.enclave.provider_address:
        raise e.ProviderMismatch(
            f"order {ctx.order_id} was accepted by another provider than "
            f"{ctx.enclave.provider_address}"
        )
    if order.tee_type is not None and order.tee_type != ctx.enclave.tee_type:
        raise e.OrderTeeMismatch(
            f"order {ctx.order_id} is for TEE type {order.tee_type}, "
            f"the enclave is {ctx.enclave.tee_type}"
        )
    if max(ctx.now, order.observed_at or 0) >= order.deadline:
        raise e.OrderExpired(f"order {ctx.order_id} passed its deadline {order.deadline}")
    return order


def guard_order_gpu(ctx: ReleaseContext, order: OrderView) -> None:
    """The order's TEE offer promises a GPU class: the enclave's certificate must name it.

    The certificate's class was read by the CA from the GPU's verified evidence, and the CPU report
    bound that evidence; the offer's label is the provider's promise on chain. Exact equality, as
    the marketplace checks it again when the report is submitted.
    """
    refusal = gpu_refusal(ctx.enclave, order.gpu_class)
    if refusal:
        raise e.OrderGpuMismatch(f"order {ctx.order_id} was placed on a TEE offer {refusal}")


def gpu_refusal(enclave: VerifiedEnclave, offer_gpu: str | None) -> str:
    """Why ``enclave`` may not run on a TEE offer promising ``offer_gpu`` (``""``: it may)."""
    if offer_gpu is None or not offer_requires_gpu(offer_gpu):
        return ""
    if enclave.gpu_count >= 1 and enclave.gpu_class == offer_gpu:
        return ""
    certified = f"{enclave.gpu_count} x {enclave.gpu_class}" if enclave.gpu_count else "no GPU"
    return f"with GPU {offer_gpu!r}; the enclave is certified with {certified}"


def guard_resource_in_order(ctx: ReleaseContext, order: OrderView, resource_id: int) -> None:
    if resource_id not in order.all_resource_ids:
        raise e.ResourceNotInOrder(
            f"resource {resource_id} is not part of order {ctx.order_id}", resource_id=resource_id
        )


@dataclass(frozen=True)
class PolicySubject:
    """Who asks for a key, as an owner's policy sees it: the engine (content hash, bytes32 hex),
    the customer (lowercase address), the TEE type, whether it is simulated, the enclave's
    measurement (None before an enclave is known: a pre-check cannot test that line) and the GPU
    class the enclave is certified with (a pre-check: the one the TEE offer promises; ``""``:
    none). ``serving``: a service enclave asks for its model (no engine resource, no single
    customer: the policy must allow serving instead)."""

    engine_hash: str
    customer: str
    tee_type: int
    simulated: bool
    measurement: str | None
    gpu_class: str = ""
    serving: bool = False


def policy_refusal(
    subject: PolicySubject, resource_id: int, deposit: StoredDeposit | None, now: int
) -> StoredDeposit:
    """The owner's policy for ``resource_id`` against ``subject``: the deposit, or the refusal.

    Order: deposit, expiry, engine (for a service: the serving opt-in), simulated opt-in, TEE type,
    GPU, measurement, customer, uses.
    """
    if deposit is None:
        raise e.KeyNotDeposited(
            f"no key is deposited for resource {resource_id}", resource_id=resource_id
        )
    policy = deposit.policy
    refused = f"the policy of resource {resource_id}"
    if policy.expires_at is not None and now >= policy.expires_at:
        raise e.PolicyExpired(f"{refused} expired at {policy.expires_at}", resource_id=resource_id)
    if subject.serving:
        if not policy.allow_serving or policy.allowed_customers != "any":
            raise e.PolicyServingRefused(
                f"{refused} does not allow serving to any customer", resource_id=resource_id
            )
    elif (
        policy.allowed_engine_hashes != "any"
        and subject.engine_hash not in policy.allowed_engine_hashes
    ):
        raise e.PolicyEngineRefused(
            f"{refused} does not allow engine {subject.engine_hash}", resource_id=resource_id
        )
    simulated = subject.simulated or subject.tee_type == TeeType.SIMULATED
    if simulated and not policy.insecure_allow_simulated_tee:
        raise e.PolicySimulatedRefused(
            f"{refused} does not allow simulated TEEs", resource_id=resource_id
        )
    if policy.allowed_tee_types != "any" and subject.tee_type not in policy.allowed_tee_types:
        raise e.PolicyTeeRefused(
            f"{refused} does not allow TEE type {subject.tee_type}", resource_id=resource_id
        )
    if (policy.require_gpu or policy.gpu_classes) and not subject.gpu_class:
        raise e.PolicyGpuRefused(
            f"{refused} requires a confidential GPU; the enclave has none",
            resource_id=resource_id,
        )
    if policy.gpu_classes and subject.gpu_class not in policy.gpu_classes:
        raise e.PolicyGpuRefused(
            f"{refused} does not allow GPU class {subject.gpu_class!r}", resource_id=resource_id
        )
    if (
        subject.measurement is not None
        and policy.allowed_measurements != "any"
        and subject.measurement not in policy.allowed_measurements
    ):
        raise e.PolicyMeasurementRefused(
            f"{refused} does not allow measurement {subject.measurement}", resource_id=resource_id
        )
    if policy.allowed_customers != "any" and subject.customer not in policy.allowed_customers:
        raise e.PolicyCustomerRefused(
            f"{refused} does not allow customer {subject.customer}", resource_id=resource_id
        )
    if deposit.uses_left == 0:
        raise e.UsesExhausted(
            f"{refused} allowed {policy.max_uses} uses; all are spent", resource_id=resource_id
        )
    return deposit


def guard_policy_allows(
    ctx: ReleaseContext, order: OrderView, resource_id: int, deposit: StoredDeposit | None
) -> StoredDeposit:
    enclave = ctx.enclave
    subject = PolicySubject(
        engine_hash=order.engine_hash,
        customer=order.customer,
        tee_type=enclave.tee_type,
        simulated=enclave.simulated,
        measurement=enclave.measurement,
        gpu_class=enclave.gpu_class if enclave.gpu_count > 0 else "",
    )
    return policy_refusal(subject, resource_id, deposit, ctx.now)


ENCLAVE_GUARDS = (
    guard_certificate_valid,
    guard_measurement_allowed,
    guard_order_accepted,
    guard_order_gpu,
)
RESOURCE_GUARDS = (guard_resource_in_order, guard_policy_allows)
