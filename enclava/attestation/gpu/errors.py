"""Errors of NVIDIA GPU attestation (Hopper confidential computing), verified offline at the CA.

Every check has its own leaf, each a subclass of the matching attestation error, so callers that
catch the generic CPU-side errors also catch the GPU ones, and the audit log still names the exact
check. Hierarchy (parent in brackets)::

  GpuEvidenceFormatError      gpu_evidence_malformed       [EvidenceFormatError]
  ├── SpdmFormatError         gpu_spdm_malformed           SPDM request/response bytes malformed
  ├── GpuCertificateFormatError gpu_certificates_malformed PEM chain malformed
  ├── RimFormatError          gpu_rim_malformed            RIM XML malformed or lacks a field
  └── OcspFormatError         gpu_ocsp_malformed           an OCSP response cannot be parsed
  GpuReportSignatureError     gpu_report_signature_invalid [EvidenceSignatureError] SPDM signature
  GpuCertificateChainError    gpu_chain_invalid            [EvidenceSignatureError] a cert signature
  GpuDeviceRootError          gpu_device_root_untrusted    [UntrustedRootError]
  GpuCertificateExpiredError  gpu_certificate_expired      [CollateralExpiredError]
  GpuFwidMismatchError        gpu_fwid_mismatch            [EvidenceSignatureError] report FWID
  RimSignatureError           gpu_rim_signature_invalid    [EvidenceSignatureError] XML-DSig
  RimRootError                gpu_rim_root_untrusted       [UntrustedRootError]
  RimExpiredError             gpu_rim_expired              [CollateralExpiredError]
  RimVersionMismatchError     gpu_rim_version_mismatch     [MeasurementNotAllowedError]
  GpuMeasurementMismatchError gpu_measurement_mismatch     [MeasurementNotAllowedError]
  OcspSignatureError          gpu_ocsp_signature_invalid   [EvidenceSignatureError]
  OcspMissingError            gpu_ocsp_missing             [CollateralExpiredError]
  OcspStaleError              gpu_ocsp_stale               [CollateralExpiredError]
  GpuRevokedError             gpu_certificate_revoked      [EvidenceRevokedError]
  GpuNonceMismatchError       gpu_nonce_mismatch           [ReportDataMismatchError]
  GpuCcModeOffError           gpu_cc_mode_off              [DebugEnclaveError]
  GpuDebugEnabledError        gpu_debug_enabled            [DebugEnclaveError]
  GpuUnsupportedError         gpu_unsupported              [UnsupportedTeeError] not a Hopper GPU

Hopper signs no debug (CC devtools) flag: :class:`GpuVerifier` establishes "debug off" by the
measurement match and refuses a devtools GPU with ``GpuMeasurementMismatchError``; it never raises
``GpuDebugEnabledError`` itself. The CA's guards raise it (and ``GpuCcModeOffError``) when a
``GpuClaims`` says debug / CC off, so the claims are checked again at the pipeline boundary.
"""

from __future__ import annotations

from enclava.attestation.errors import (
    CollateralExpiredError,
    DebugEnclaveError,
    EvidenceFormatError,
    EvidenceRevokedError,
    EvidenceSignatureError,
    MeasurementNotAllowedError,
    ReportDataMismatchError,
    UnsupportedTeeError,
    UntrustedRootError,
)

__all__ = [
    "GpuEvidenceFormatError",
    "SpdmFormatError",
    "GpuCertificateFormatError",
    "RimFormatError",
    "OcspFormatError",
    "GpuReportSignatureError",
    "GpuCertificateChainError",
    "GpuDeviceRootError",
    "GpuCertificateExpiredError",
    "GpuFwidMismatchError",
    "RimSignatureError",
    "RimRootError",
    "RimExpiredError",
    "RimVersionMismatchError",
    "GpuMeasurementMismatchError",
    "OcspSignatureError",
    "OcspMissingError",
    "OcspStaleError",
    "GpuRevokedError",
    "GpuNonceMismatchError",
    "GpuCcModeOffError",
    "GpuDebugEnabledError",
    "GpuUnsupportedError",
]


class GpuEvidenceFormatError(EvidenceFormatError):
    code = "gpu_evidence_malformed"
    hint = (
        "Send the GPU evidence exactly as the NVIDIA driver returned it (SPDM report, PEM chain, "
        "RIMs, OCSP responses) in the GpuEvidence format."
    )


class SpdmFormatError(GpuEvidenceFormatError):
    code = "gpu_spdm_malformed"
    hint = (
        "Send the SPDM GET_MEASUREMENTS request and response bytes exactly as the GPU produced "
        "them."
    )


class GpuCertificateFormatError(GpuEvidenceFormatError):
    code = "gpu_certificates_malformed"
    hint = "Send the GPU's attestation certificate chain as PEM, leaf first, device root last."


class RimFormatError(GpuEvidenceFormatError):
    code = "gpu_rim_malformed"
    hint = "Send the driver and VBIOS RIMs exactly as NVIDIA's RIM service published them."


class OcspFormatError(GpuEvidenceFormatError):
    code = "gpu_ocsp_malformed"
    hint = "Send the DER OCSP responses exactly as NVIDIA's OCSP responder returned them."


class GpuReportSignatureError(EvidenceSignatureError):
    code = "gpu_report_signature_invalid"
    hint = "The GPU's SPDM measurement report was altered; collect GPU evidence again."


class GpuCertificateChainError(EvidenceSignatureError):
    code = "gpu_chain_invalid"
    hint = "The GPU's certificate chain does not verify; send the chain the driver returned."


class GpuDeviceRootError(UntrustedRootError):
    code = "gpu_device_root_untrusted"
    hint = "The GPU's chain must end in the NVIDIA Device Identity root this CA pins."


class GpuCertificateExpiredError(CollateralExpiredError):
    code = "gpu_certificate_expired"
    hint = "A certificate of the GPU's chain is outside its validity period; check the CA's clock."


class GpuFwidMismatchError(EvidenceSignatureError):
    code = "gpu_fwid_mismatch"
    hint = (
        "The firmware ID in the GPU's report is not the one its attestation certificate was issued "
        "for; collect GPU evidence again after a clean GPU reset."
    )


class RimSignatureError(EvidenceSignatureError):
    code = "gpu_rim_signature_invalid"
    hint = "A RIM's XML signature does not verify; fetch the RIM again from NVIDIA's RIM service."


class RimRootError(UntrustedRootError):
    code = "gpu_rim_root_untrusted"
    hint = "The RIM signer's chain must end in the NVIDIA RIM root this CA pins."


class RimExpiredError(CollateralExpiredError):
    code = "gpu_rim_expired"
    hint = "A RIM signer certificate is outside its validity period; fetch a current RIM."


class RimVersionMismatchError(MeasurementNotAllowedError):
    code = "gpu_rim_version_mismatch"
    hint = "Send the RIMs for the driver and VBIOS versions the GPU actually reports."


class GpuMeasurementMismatchError(MeasurementNotAllowedError):
    code = "gpu_measurement_mismatch"
    hint = (
        "A GPU measurement matches none of its RIM's reference values: the firmware or driver "
        "differs from what NVIDIA published, or the GPU runs in CC devtools (debug) mode, which "
        "Hopper signs no flag for and shows only as changed measurements. Run the GPU in CC "
        "production mode with NVIDIA's released driver and VBIOS."
    )


class OcspSignatureError(EvidenceSignatureError):
    code = "gpu_ocsp_signature_invalid"
    hint = (
        "An OCSP response is not signed by the issuer or its delegated responder; fetch it again."
    )


class OcspMissingError(CollateralExpiredError):
    code = "gpu_ocsp_missing"
    hint = "Include an OCSP response for every certificate of the GPU and RIM chains."


class OcspStaleError(CollateralExpiredError):
    code = "gpu_ocsp_stale"
    hint = "An OCSP response is outside its this_update/next_update window; fetch a fresh one."


class GpuRevokedError(EvidenceRevokedError):
    code = "gpu_certificate_revoked"
    hint = (
        "NVIDIA revoked a certificate of the GPU or RIM chain; this GPU or firmware is not trusted."
    )


class GpuNonceMismatchError(ReportDataMismatchError):
    code = "gpu_nonce_mismatch"
    hint = "Ask the GPU for measurements over the CA's nonce, exactly, and attest again."


class GpuCcModeOffError(DebugEnclaveError):
    code = "gpu_cc_mode_off"
    hint = "Enable confidential computing mode on the GPU (nvidia-smi conf-compute -scc on)."


class GpuDebugEnabledError(DebugEnclaveError):
    code = "gpu_debug_enabled"
    hint = (
        "Turn the GPU's CC devtools/debug mode off; a debug GPU's memory is readable by the host."
    )


class GpuUnsupportedError(UnsupportedTeeError):
    code = "gpu_unsupported"
    hint = "Only NVIDIA Hopper confidential-computing GPUs are supported."
