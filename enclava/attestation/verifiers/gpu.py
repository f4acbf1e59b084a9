"""The GPU half of one CPU + GPU attestation: which GPU verifier checks an enclave's GPUs, and the
errors of binding them to the CPU report.

A CVM's confidential GPUs are attested by their own SPDM reports, each signed by the GPU's
attestation key over the CA's nonce (:class:`enclava.attestation.gpu.verifier.GpuVerifier`). What
makes them *this* enclave's GPUs is the CPU report: its report_data binds the digest of the GPU
evidence (:func:`enclava.attestation.binding.bind_report_data`), checked by
``guard_report_data_binding``. The vendor roots follow the CPU side:

- TDX or SEV-SNP evidence: NVIDIA's pinned Device Identity and RIM roots, always;
- simulated CPU evidence (only with ``insecure_allow_simulated_tee``): the development GPU roots of
  :mod:`enclava.attestation.gpu.simulated`. A real CPU TEE with a simulated GPU is refused
  (:class:`SimulatedGpuRefusedError`): the GPU would prove nothing.

Errors (the binding's own; a GPU's vendor refusals are :mod:`enclava.attestation.gpu.errors`)::

  AttestationError
  ├── EvidenceFormatError
  │   └── GpuEvidenceUnexpectedError  gpu_evidence_unexpected  GPUs where none can be bound
  ├── SimulatedTeeRefusedError
  │   └── SimulatedGpuRefusedError    simulated_gpu_refused    simulated GPU, real CPU or no flag
  └── ReportDataMismatchError
      └── GpuNotBoundError            gpu_not_bound            report binds the key, not the GPUs

The GPU verifier refuses a wrong nonce, debug and CC mode off itself; the guards check the verified
claims again (``guard_report_data_binding``, ``guard_gpu_debug_disabled``) with the very same
errors (``GpuNonceMismatchError``, ``GpuDebugEnabledError``, ``GpuCcModeOffError``), so no single
place decides and one mutation always has one code.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from enclava.attestation.errors import (
    EvidenceFormatError,
    ReportDataMismatchError,
    SimulatedTeeRefusedError,
)
from enclava.attestation.gpu.errors import (
    GpuCcModeOffError,
    GpuDebugEnabledError,
    GpuNonceMismatchError,
)

if TYPE_CHECKING:
    from enclava.attestation.gpu.claims import GpuClaims
    from enclava.attestation.gpu.evidence import GpuEvidence

__all__ = [
    "GpuEvidenceVerifier",
    "GpuEvidenceUnexpectedError",
    "SimulatedGpuRefusedError",
    "GpuNotBoundError",
    "GpuNonceMismatchError",
    "GpuDebugEnabledError",
    "GpuCcModeOffError",
    "default_gpu_verifier",
    "default_simulated_gpu_verifier",
]


@runtime_checkable
class GpuEvidenceVerifier(Protocol):
    """One GPU's vendor verification (``GpuVerifier``); raises only ``EnclavaError`` subclasses."""

    def verify(self, evidence: GpuEvidence, *, nonce: bytes, now: int) -> GpuClaims:
        """Check ``evidence`` against the pinned roots as of ``now``; it must sign ``nonce``."""
        ...


class GpuEvidenceUnexpectedError(EvidenceFormatError):
    code = "gpu_evidence_unexpected"
    hint = (
        "A peer's channel evidence (the CA's own) binds no GPU: send it without gpus; enclaves "
        "bind their GPUs when they are certified."
    )


class SimulatedGpuRefusedError(SimulatedTeeRefusedError):
    code = "simulated_gpu_refused"
    hint = (
        "Simulated GPU evidence is accepted only with simulated CPU evidence, by a CA started "
        "with insecure_allow_simulated_tee; on a real CVM collect the GPUs' evidence with NVML."
    )


class GpuNotBoundError(ReportDataMismatchError):
    code = "gpu_not_bound"
    hint = (
        "The CPU report binds the nonce and key without the GPUs: put "
        "bind_report_data(nonce, spki, gpu_evidence_digest(gpus)) in report_data."
    )


def default_gpu_verifier() -> GpuEvidenceVerifier:
    """The GPU verifier for real CPU TEEs: NVIDIA's pinned roots."""
    from enclava.attestation.gpu.verifier import GpuVerifier

    return GpuVerifier()


def default_simulated_gpu_verifier() -> GpuEvidenceVerifier:
    """The GPU verifier for simulated CPU evidence: the development GPU roots (insecure)."""
    from enclava.attestation.gpu.simulated import simulated_gpu_verifier

    return simulated_gpu_verifier()


#: Builds a GPU verifier on first use (GPU evidence is rare; its XML stack loads only then).
GpuVerifierFactory = Callable[[], GpuEvidenceVerifier]
