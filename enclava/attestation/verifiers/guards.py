"""Enclava's checks on vendor-verified claims: named guards, always run in the order of ``GUARDS``.

Each guard returns None or raises its own typed error; the pipeline records each passed guard's
name for the audit log. The order is deliberate:

1. ``guard_report_data_binding``  the evidence was made for this nonce and this enclave key, and
                                  (with GPUs) for exactly these GPUs, each of which signed the
                                  same nonce; checked first, because only then is the nonce below
                                  the one the hardware signed
2. ``guard_nonce_fresh``          the nonce was issued by this CA, is unexpired, and is consumed now
                                  (single use: even if a later guard refuses, it is spent)
3. ``guard_debug_disabled``       a debug TD / guest exposes its memory to the host
4. ``guard_gpu_debug_disabled``   every GPU runs in CC mode with debug off (a GPU outside CC mode,
                                  or in debug, exposes the memory that holds the model and data)
5. ``guard_tcb_status``           the platform's TCB status is one the policy accepts
6. ``guard_measurement_allowed``  the measured image is on the allow-list

The GPU evidence itself (SPDM signature, NVIDIA chain, RIMs, OCSP) is vendor verification, done by
the pipeline before the guards, like the CPU's.

A nonce store or allow-list that fails (chain or database down) refuses with PolicyLookupError.

Evidence that a *client* asked of a peer (the CA's own, bound to the client's fresh nonce and the
CA's identity) runs ``CHANNEL_GUARDS`` instead: ``guard_report_data_expected`` (the report_data is
exactly what the client computed) replaces 1 and 2, since the nonce is the client's own and used
once by construction; 3, 5 and 6 are the very same functions. Channel evidence binds no GPU, so
the pipeline refuses any that carries GPUs before the guards (``GpuEvidenceUnexpectedError``).
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import overload

from enclava.attestation.binding import NONCE_LENGTH, report_data_matches
from enclava.attestation.errors import (
    DebugEnclaveError,
    MeasurementNotAllowedError,
    PolicyLookupError,
    ReportDataMismatchError,
    TcbStatusRejectedError,
)
from enclava.attestation.verifiers.allowlist import MeasurementAllowList
from enclava.attestation.verifiers.base import TcbPolicy, VerifiedClaims
from enclava.attestation.verifiers.gpu import (
    GpuCcModeOffError,
    GpuDebugEnabledError,
    GpuNonceMismatchError,
    GpuNotBoundError,
)
from enclava.attestation.verifiers.nonces import NonceStore
from enclava.errors import EnclavaError

__all__ = [
    "GuardContext",
    "ChannelContext",
    "guard_report_data_binding",
    "guard_report_data_expected",
    "guard_nonce_fresh",
    "guard_debug_disabled",
    "guard_gpu_debug_disabled",
    "guard_tcb_status",
    "guard_measurement_allowed",
    "GUARDS",
    "CHANNEL_GUARDS",
    "run_guards",
]


@dataclass(frozen=True)
class GuardContext:
    """What the guards check the claims against: the request and the CA's policy."""

    nonce: bytes
    enclave_public_key_der: bytes
    nonce_store: NonceStore
    tcb_policy: TcbPolicy
    allow_list: MeasurementAllowList
    #: ``gpu_evidence_digest(evidence.gpus)``, or None for evidence without GPUs
    gpu_digest: bytes | None = None


@dataclass(frozen=True)
class ChannelContext:
    """What a peer's evidence is checked against: the report_data the client computed, and
    policy."""

    expected_report_data: bytes
    tcb_policy: TcbPolicy
    allow_list: MeasurementAllowList


@contextmanager
def _consulting(what: str) -> Iterator[None]:
    """An outside store (chain, database) that fails makes the guard refuse, with a typed error."""
    try:
        yield
    except EnclavaError:
        raise
    except (
        Exception
    ) as exc:  # any failure of an outside implementation: fail closed, keep the cause
        raise PolicyLookupError(f"consulting the {what} failed ({type(exc).__name__})") from exc


def guard_report_data_binding(claims: VerifiedClaims, ctx: GuardContext) -> None:
    if bool(claims.gpus) != (ctx.gpu_digest is not None):
        raise GpuNotBoundError("the verified GPUs and the GPU evidence digest disagree")
    spki = ctx.enclave_public_key_der
    if not report_data_matches(claims.report_data, ctx.nonce, spki, ctx.gpu_digest):
        if ctx.gpu_digest is not None and report_data_matches(claims.report_data, ctx.nonce, spki):
            raise GpuNotBoundError(
                "report_data binds the nonce and enclave key but not the GPU evidence"
            )
        raise ReportDataMismatchError(
            "report_data does not bind this CA nonce and enclave public key "
            "(expected SHA-512(domain tag || nonce || [GPU evidence digest ||] SPKI DER))"
        )
    for n, gpu in enumerate(claims.gpus):  # the GPU verifier checked it too: never trust one place
        signed = gpu.nonce
        if (
            not isinstance(signed, bytes)
            or len(signed) != NONCE_LENGTH
            or not hmac.compare_digest(signed, ctx.nonce)
        ):
            raise GpuNonceMismatchError(f"GPU {n} signed another nonce than this CA's")


def guard_report_data_expected(claims: VerifiedClaims, ctx: ChannelContext) -> None:
    expected = ctx.expected_report_data
    if not isinstance(expected, bytes) or not hmac.compare_digest(claims.report_data, expected):
        raise ReportDataMismatchError(
            "report_data is not the binding the client expected for its nonce"
        )


def guard_nonce_fresh(claims: VerifiedClaims, ctx: GuardContext) -> None:
    with _consulting("nonce store"):
        ctx.nonce_store.consume(ctx.nonce)


def guard_debug_disabled(claims: VerifiedClaims, ctx: GuardContext | ChannelContext) -> None:
    if claims.debug:
        raise DebugEnclaveError(f"the {claims.tee_type.wire_name} enclave runs with debug enabled")


def guard_gpu_debug_disabled(claims: VerifiedClaims, ctx: GuardContext | ChannelContext) -> None:
    for n, gpu in enumerate(claims.gpus):
        if gpu.debug is not False:
            raise GpuDebugEnabledError(f"GPU {n} ({gpu.gpu_class}) runs with debug enabled")
        if gpu.cc_mode is not True:
            raise GpuCcModeOffError(
                f"GPU {n} ({gpu.gpu_class}) is not in confidential-computing mode"
            )


def guard_tcb_status(claims: VerifiedClaims, ctx: GuardContext | ChannelContext) -> None:
    policy = ctx.tcb_policy
    if claims.tcb_status not in policy.accepted_statuses:
        raise TcbStatusRejectedError(
            f"platform TCB status {claims.tcb_status!r} is not accepted "
            f"(accepted: {', '.join(sorted(policy.accepted_statuses))}; advisories: "
            f"{', '.join(claims.advisory_ids) or 'none'})"
        )
    rejected = sorted(set(claims.advisory_ids) & policy.rejected_advisories)
    if rejected:
        raise TcbStatusRejectedError(
            f"the platform is affected by rejected advisories: {', '.join(rejected)}"
        )


def guard_measurement_allowed(claims: VerifiedClaims, ctx: GuardContext | ChannelContext) -> None:
    with _consulting("measurement allow-list"):
        allowed = ctx.allow_list.is_allowed(claims.tee_type, claims.measurement) is True
    if not allowed:
        raise MeasurementNotAllowedError(
            f"{claims.tee_type.wire_name} measurement {claims.measurement_hex} "
            "is not on the allow-list"
        )


#: A check of verified claims against one kind of context; raises its refusal or returns.
CaGuard = Callable[[VerifiedClaims, GuardContext], None]
ChannelGuard = Callable[[VerifiedClaims, ChannelContext], None]

GUARDS: tuple[CaGuard, ...] = (
    guard_report_data_binding,
    guard_nonce_fresh,
    guard_debug_disabled,
    guard_gpu_debug_disabled,
    guard_tcb_status,
    guard_measurement_allowed,
)
CHANNEL_GUARDS: tuple[ChannelGuard, ...] = (
    guard_report_data_expected,
    guard_debug_disabled,
    guard_tcb_status,
    guard_measurement_allowed,
)


@overload
def run_guards(
    claims: VerifiedClaims, ctx: GuardContext, guards: Sequence[CaGuard] = GUARDS
) -> tuple[str, ...]: ...
@overload
def run_guards(
    claims: VerifiedClaims, ctx: ChannelContext, guards: Sequence[ChannelGuard]
) -> tuple[str, ...]: ...
def run_guards(
    claims: VerifiedClaims,
    ctx: GuardContext | ChannelContext,
    guards: Sequence[Callable[..., None]] = GUARDS,
) -> tuple[str, ...]:
    """Run every guard in order; return their names (for the audit log) or raise the first
    refusal."""
    for guard in guards:
        guard(claims, ctx)
    return tuple(guard.__name__ for guard in guards)
