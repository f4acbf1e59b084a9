"""The contract every TEE verifier keeps, and the values that flow through verification.

A :class:`Verifier` does only the vendor's part: check the quote or report against the vendor's
root and return :class:`VerifiedClaims`, the facts the hardware vouched for. Enclava's own policy
(report_data binding, nonce freshness, debug, TCB status, allow-list) runs afterwards, the same
for every TEE, in ``guards``. Splitting it this way lets the real vendor vectors be verified on
their own, although their report_data binds nothing of ours.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from enclava.attestation.evidence import Evidence
from enclava.protocol.tee import TeeType

if TYPE_CHECKING:
    from enclava.attestation.gpu.claims import GpuClaims

__all__ = ["VerifiedClaims", "Verifier", "TcbPolicy", "VerificationResult", "TCB_UP_TO_DATE"]

TCB_UP_TO_DATE = "UpToDate"


@dataclass(frozen=True)
class VerifiedClaims:
    """What the vendor's signature chain established, before any Enclava policy.

    ``measurement`` is MRTD for TDX and MEASUREMENT for SEV-SNP; ``tcb_status`` uses Intel's
    vocabulary (UpToDate, OutOfDate, SWHardeningNeeded, ...), which the SEV-SNP verifier maps onto;
    ``details`` holds further registers as hex (RTMRs, chip id, ...) for audit and later policy.
    ``gpus`` are the claims of the enclave's confidential GPUs, one per ``Evidence.gpus`` entry in
    the same order: empty from a CPU verifier, filled by the pipeline once each GPU's own evidence
    verified (their binding to this report is a guard's, ``guard_report_data_binding``).
    """

    tee_type: TeeType
    measurement: bytes
    report_data: bytes
    debug: bool
    tcb_status: str
    advisory_ids: tuple[str, ...] = ()
    simulated: bool = False
    details: Mapping[str, str] = field(default_factory=dict)
    gpus: tuple[GpuClaims, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "details", MappingProxyType(dict(self.details)))
        object.__setattr__(self, "gpus", tuple(self.gpus))

    @property
    def measurement_hex(self) -> str:
        return self.measurement.hex()


@runtime_checkable
class Verifier(Protocol):
    """One TEE's vendor verification; raises only ``EnclavaError`` subclasses."""

    tee_type: TeeType

    def verify_evidence(self, evidence: Evidence, *, now: int) -> VerifiedClaims:
        """Check ``evidence`` against the vendor root as of Unix time ``now``."""
        ...


@dataclass(frozen=True)
class TcbPolicy:
    """Which platform TCB statuses the CA accepts. Strict by default: only ``UpToDate``.

    Loosen it explicitly, e.g. ``TcbPolicy(frozenset({"UpToDate", "SWHardeningNeeded"}))``;
    any advisory in ``rejected_advisories`` is refused whatever the status.
    """

    accepted_statuses: frozenset[str] = frozenset({TCB_UP_TO_DATE})
    rejected_advisories: frozenset[str] = frozenset()


@dataclass(frozen=True)
class VerificationResult:
    """Evidence that passed every check, ready for the CA to certify ``enclave_public_key_der``."""

    claims: VerifiedClaims
    enclave_public_key_der: bytes
    nonce: bytes
    verified_at: int
    checks: tuple[str, ...]

    @property
    def tee_type(self) -> TeeType:
        return self.claims.tee_type

    @property
    def measurement(self) -> bytes:
        return self.claims.measurement

    @property
    def simulated(self) -> bool:
        return self.claims.simulated
