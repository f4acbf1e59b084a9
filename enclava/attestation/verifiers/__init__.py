"""Attestation verification for the CA: one verifier per TEE, then the same guards for all.

``EvidenceVerifier`` is the entry point the CA service calls (``ca_evidence_verifier`` wraps it for
clients that check the CA's own evidence); the per-TEE verifiers
(``TdxVerifier``, ``SevSnpVerifier``, ``SimulatedTdxVerifier``) implement the ``Verifier``
protocol and can be used alone to check vendor evidence without Enclava's policy.
"""

from enclava.attestation.verifiers.allowlist import (
    InMemoryMeasurementAllowList,
    MeasurementAllowList,
)
from enclava.attestation.verifiers.base import (
    TCB_UP_TO_DATE,
    TcbPolicy,
    VerificationResult,
    VerifiedClaims,
    Verifier,
)
from enclava.attestation.verifiers.ca_evidence import ca_evidence_verifier
from enclava.attestation.verifiers.gpu import (
    GpuCcModeOffError,
    GpuDebugEnabledError,
    GpuEvidenceUnexpectedError,
    GpuEvidenceVerifier,
    GpuNonceMismatchError,
    GpuNotBoundError,
    SimulatedGpuRefusedError,
)
from enclava.attestation.verifiers.guards import (
    CHANNEL_GUARDS,
    GUARDS,
    ChannelContext,
    GuardContext,
    guard_debug_disabled,
    guard_gpu_debug_disabled,
    guard_measurement_allowed,
    guard_nonce_fresh,
    guard_report_data_binding,
    guard_report_data_expected,
    guard_tcb_status,
    run_guards,
)
from enclava.attestation.verifiers.nonces import (
    DEFAULT_NONCE_TTL_S,
    InMemoryNonceStore,
    NonceStore,
)
from enclava.attestation.verifiers.pipeline import EvidenceVerifier, default_verifiers
from enclava.attestation.verifiers.roots import (
    AMD_ARK_MILAN_SHA256,
    INTEL_SGX_ROOT_CA_DER,
    INTEL_SGX_ROOT_CA_PEM,
    INTEL_SGX_ROOT_CA_SHA256,
)
from enclava.attestation.verifiers.sev_snp import SevSnpVerifier
from enclava.attestation.verifiers.simulated import SimulatedTdxVerifier
from enclava.attestation.verifiers.tdx import TdxVerifier

__all__ = [
    "EvidenceVerifier",
    "ca_evidence_verifier",
    "default_verifiers",
    "Verifier",
    "VerifiedClaims",
    "VerificationResult",
    "TcbPolicy",
    "TCB_UP_TO_DATE",
    "TdxVerifier",
    "SevSnpVerifier",
    "SimulatedTdxVerifier",
    "MeasurementAllowList",
    "InMemoryMeasurementAllowList",
    "NonceStore",
    "InMemoryNonceStore",
    "DEFAULT_NONCE_TTL_S",
    "GuardContext",
    "ChannelContext",
    "GUARDS",
    "CHANNEL_GUARDS",
    "run_guards",
    "guard_report_data_binding",
    "guard_report_data_expected",
    "guard_nonce_fresh",
    "guard_debug_disabled",
    "guard_gpu_debug_disabled",
    "guard_tcb_status",
    "guard_measurement_allowed",
    "INTEL_SGX_ROOT_CA_PEM",
    "INTEL_SGX_ROOT_CA_DER",
    "INTEL_SGX_ROOT_CA_SHA256",
    "AMD_ARK_MILAN_SHA256",
    "GpuEvidenceVerifier",
    "GpuEvidenceUnexpectedError",
    "SimulatedGpuRefusedError",
    "GpuNotBoundError",
    "GpuNonceMismatchError",
    "GpuDebugEnabledError",
    "GpuCcModeOffError",
]
