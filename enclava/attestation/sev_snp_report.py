"""AMD SEV-SNP attestation report (ATTESTATION_REPORT, versions 2 and 3): layout and strict parser.

Offsets from AMD's SEV-SNP ABI specification (table "ATTESTATION_REPORT Structure"); integers are
little-endian. The signed region is ``[0x000, 0x2A0)``; the signature at 0x2A0 is ECDSA P-384 with
SHA-384, r and s each a 72-byte little-endian integer. The parser insists that the unused high
bytes of r and s and the reserved tail are zero, so no byte of an accepted report is malleable.
"""

from __future__ import annotations

import struct
import warnings
from dataclasses import dataclass

from cryptography import x509
from cryptography.utils import CryptographyDeprecationWarning

from enclava.attestation.errors import EvidenceFormatError

__all__ = [
    "SnpReport",
    "SNP_REPORT_LEN",
    "SNP_SIGNED_LEN",
    "POLICY_DEBUG_BIT",
    "load_amd_certificates",
]

SNP_REPORT_LEN = 0x4A0  # 1184
SNP_SIGNED_LEN = 0x2A0
POLICY_DEBUG_BIT = 19
_SIG_ALGO_ECDSA_P384_SHA384 = 1
_SUPPORTED_VERSIONS = (2, 3)
_COMPONENT_LEN = 72  # r and s are stored as 72-byte little-endian numbers; P-384 needs 48


@dataclass(frozen=True)
class SnpReport:
    version: int
    guest_svn: int
    policy: int
    vmpl: int
    signature_algo: int
    current_tcb: bytes
    platform_info: int
    report_data: bytes
    measurement: bytes
    host_data: bytes
    id_key_digest: bytes
    report_id: bytes
    reported_tcb: bytes
    chip_id: bytes
    signature_r: int
    signature_s: int
    raw: bytes

    @property
    def signed_bytes(self) -> bytes:
        return self.raw[:SNP_SIGNED_LEN]

    @property
    def debug(self) -> bool:
        """Guest policy bit 19: the hypervisor may read and write the guest's memory
        (DBG_DECRYPT)."""
        return bool(self.policy >> POLICY_DEBUG_BIT & 1)

    @staticmethod
    def tcb_parts(tcb: bytes) -> dict[str, int]:
        """Milan/Genoa TCB_VERSION: boot loader, TEE, SNP firmware and microcode security
        versions."""
        return {"bl": tcb[0], "tee": tcb[1], "snp": tcb[6], "ucode": tcb[7]}

    @classmethod
    def parse(cls, raw: bytes) -> SnpReport:
        if not isinstance(raw, (bytes, bytearray)):
            raise EvidenceFormatError("an SEV-SNP report must be bytes")
        raw = bytes(raw)
        if len(raw) != SNP_REPORT_LEN:
            raise EvidenceFormatError(
                f"an SEV-SNP report is {SNP_REPORT_LEN} bytes, got {len(raw)}"
            )
        version, guest_svn, policy = struct.unpack_from("<IIQ", raw, 0x00)
        vmpl, signature_algo = struct.unpack_from("<II", raw, 0x30)
        (platform_info,) = struct.unpack_from("<Q", raw, 0x40)
        if version not in _SUPPORTED_VERSIONS:
            raise EvidenceFormatError(f"unsupported SEV-SNP report version {version}")
        if signature_algo != _SIG_ALGO_ECDSA_P384_SHA384:
            raise EvidenceFormatError(f"unsupported SEV-SNP signature algorithm {signature_algo}")
        signature = raw[SNP_SIGNED_LEN:]
        r_le, s_le = signature[:_COMPONENT_LEN], signature[_COMPONENT_LEN : 2 * _COMPONENT_LEN]
        if any(r_le[48:]) or any(s_le[48:]) or any(signature[2 * _COMPONENT_LEN :]):
            raise EvidenceFormatError(
                "non-zero bytes in the reserved part of the SEV-SNP signature"
            )
        return cls(
            version=version,
            guest_svn=guest_svn,
            policy=policy,
            vmpl=vmpl,
            signature_algo=signature_algo,
            current_tcb=raw[0x38:0x40],
            platform_info=platform_info,
            report_data=raw[0x50:0x90],
            measurement=raw[0x90:0xC0],
            host_data=raw[0xC0:0xE0],
            id_key_digest=raw[0xE0:0x110],
            report_id=raw[0x140:0x160],
            reported_tcb=raw[0x180:0x188],
            chip_id=raw[0x1A0:0x1E0],
            signature_r=int.from_bytes(r_le, "little"),
            signature_s=int.from_bytes(s_le, "little"),
            raw=raw,
        )


def load_amd_certificates(data: bytes, *, der: bool = False) -> list[x509.Certificate]:
    """Parse AMD KDS certificates (a PEM bundle, or one DER certificate with ``der=True``).

    AMD issues VCEKs with serial number 0, which RFC 5280 forbids and ``cryptography`` warns about;
    that one warning is expected for these certificates and silenced here only.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", CryptographyDeprecationWarning)
            return (
                [x509.load_der_x509_certificate(data)]
                if der
                else x509.load_pem_x509_certificates(data)
            )
    except (ValueError, TypeError, x509.InvalidVersion) as exc:
        raise EvidenceFormatError(
            "the SEV-SNP certificate chain is not valid " + ("DER" if der else "PEM")
        ) from exc
