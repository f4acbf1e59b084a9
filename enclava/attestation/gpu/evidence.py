"""``GpuEvidence``: what a CVM sends the CA about one NVIDIA confidential GPU.

The five fields are exactly what the NVIDIA driver and NVIDIA's public services hand the provider:
the SPDM GET_MEASUREMENTS request and signed response (``report``), the GPU attestation key's
certificate chain (``certificates``, PEM, leaf first), the driver's and the VBIOS's Reference
Integrity Manifests (signed SWID tag XML) and the DER OCSP responses the provider fetched for the
device chain and both RIM signer chains. Nothing here is trusted: the CA verifies all of it offline
(:class:`enclava.attestation.gpu.verifier.GpuVerifier`).

The JSON form is canonical (standard base64 with padding, sorted keys, no extra keys, every field
capped) so :func:`gpu_evidence_digest` — bound into the CPU TEE's report_data — is a function of
the evidence alone: the same evidence always hashes to the same 32 bytes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from enclava.attestation._b64 import b64encode, canonical_b64decode
from enclava.attestation.gpu.errors import GpuEvidenceFormatError
from enclava.protocol.canonical import canonical_json

__all__ = [
    "GpuEvidence",
    "gpu_evidence_digest",
    "GPU_EVIDENCE_DIGEST_DOMAIN",
    "MAX_REPORT_BYTES",
    "MAX_CERTIFICATES_BYTES",
    "MAX_RIM_BYTES",
    "MAX_OCSP_RESPONSES",
    "MAX_OCSP_BYTES",
]

# Caps: far above real evidence (report ~ 4 KiB, chain ~ 4 KiB, RIMs ~ 10-60 KiB, OCSP ~ 2 KiB)
# and together below the 1 MiB per GPU that Evidence.from_json allows for the base64 JSON.
MAX_REPORT_BYTES = 16 * 1024
MAX_CERTIFICATES_BYTES = 32 * 1024
MAX_RIM_BYTES = 192 * 1024
MAX_OCSP_RESPONSES = 12
MAX_OCSP_BYTES = 16 * 1024

GPU_EVIDENCE_DIGEST_DOMAIN = b"enclava/gpu-evidence-digest/v1\x00"

_FIELDS = frozenset({"report", "certificates", "driver_rim", "vbios_rim", "ocsp"})
_CAPS = {
    "report": MAX_REPORT_BYTES,
    "certificates": MAX_CERTIFICATES_BYTES,
    "driver_rim": MAX_RIM_BYTES,
    "vbios_rim": MAX_RIM_BYTES,
}


@dataclass(frozen=True)
class GpuEvidence:
    report: bytes  # SPDM GET_MEASUREMENTS request ‖ response, as NVML/nvtrust return it
    certificates: bytes  # PEM chain of the GPU attestation key: leaf first, device root last
    driver_rim: bytes  # the driver's RIM (signed SWID tag XML)
    vbios_rim: bytes  # the VBIOS's RIM
    ocsp: tuple[bytes, ...]  # DER OCSP responses: device chain + both RIM chains

    def __post_init__(self) -> None:
        for field, cap in _CAPS.items():
            value = getattr(self, field)
            if not isinstance(value, bytes):
                raise GpuEvidenceFormatError(f"GPU evidence {field} must be bytes")
            if not value:
                raise GpuEvidenceFormatError(f"GPU evidence {field} is empty")
            if len(value) > cap:
                raise GpuEvidenceFormatError(f"GPU evidence {field} exceeds {cap} bytes")
        if not isinstance(self.ocsp, tuple):
            raise GpuEvidenceFormatError("GPU evidence ocsp must be a tuple of bytes")
        if len(self.ocsp) > MAX_OCSP_RESPONSES:
            raise GpuEvidenceFormatError(
                f"GPU evidence carries more than {MAX_OCSP_RESPONSES} OCSP responses"
            )
        for response in self.ocsp:
            if not isinstance(response, bytes) or not response:
                raise GpuEvidenceFormatError("each OCSP response must be non-empty bytes")
            if len(response) > MAX_OCSP_BYTES:
                raise GpuEvidenceFormatError(f"an OCSP response exceeds {MAX_OCSP_BYTES} bytes")

    def to_dict(self) -> dict[str, Any]:
        """Canonical: standard base64 with padding; ``canonical_json`` orders the keys."""
        return {
            "certificates": b64encode(self.certificates),
            "driver_rim": b64encode(self.driver_rim),
            "ocsp": [b64encode(response) for response in self.ocsp],
            "report": b64encode(self.report),
            "vbios_rim": b64encode(self.vbios_rim),
        }

    @classmethod
    def from_dict(cls, data: Any) -> GpuEvidence:
        """Strict: exactly the five keys, canonical base64 only, every field capped."""
        if not isinstance(data, dict):
            raise GpuEvidenceFormatError("GPU evidence must be a JSON object")
        keys = set(data)
        if keys != _FIELDS:
            missing = sorted(_FIELDS - keys)
            extra = sorted(str(key) for key in keys - _FIELDS)
            raise GpuEvidenceFormatError(
                f"GPU evidence fields wrong: missing {missing}, unexpected {extra}"
            )
        ocsp = data["ocsp"]
        if not isinstance(ocsp, list):
            raise GpuEvidenceFormatError("GPU evidence ocsp must be a JSON list")
        if len(ocsp) > MAX_OCSP_RESPONSES:
            raise GpuEvidenceFormatError(
                f"GPU evidence carries more than {MAX_OCSP_RESPONSES} OCSP responses"
            )
        return cls(
            report=_b64decode(data["report"], "report", MAX_REPORT_BYTES),
            certificates=_b64decode(data["certificates"], "certificates", MAX_CERTIFICATES_BYTES),
            driver_rim=_b64decode(data["driver_rim"], "driver_rim", MAX_RIM_BYTES),
            vbios_rim=_b64decode(data["vbios_rim"], "vbios_rim", MAX_RIM_BYTES),
            ocsp=tuple(_b64decode(item, "ocsp", MAX_OCSP_BYTES) for item in ocsp),
        )


def gpu_evidence_digest(gpus: Sequence[GpuEvidence]) -> bytes:
    """SHA-256 over a domain tag and the canonical JSON list of the GPUs, in order (32 bytes).

    This is what the CPU TEE's report_data commits to (``bind_report_data(..., gpu_digest)``), so
    the CA knows the GPUs were attested from inside *this* CVM and not substituted on the way.
    """
    if isinstance(gpus, (bytes, str)) or not all(isinstance(gpu, GpuEvidence) for gpu in gpus):
        raise GpuEvidenceFormatError("gpu_evidence_digest takes a sequence of GpuEvidence")
    document = canonical_json([gpu.to_dict() for gpu in gpus])
    return hashlib.sha256(GPU_EVIDENCE_DIGEST_DOMAIN + document).digest()


def _b64decode(value: Any, field: str, cap: int) -> bytes:
    return canonical_b64decode(
        value, f"GPU evidence {field}", error=GpuEvidenceFormatError, cap=cap
    )
