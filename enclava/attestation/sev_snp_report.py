"""AMD SEV-SNP attestation report (ATTESTATION_REPORT, versions 2 to 5): layout, products, parser.

Offsets from AMD's SEV-SNP ABI specification (publication 56860, table "ATTESTATION_REPORT
Structure", revisions 1.52 to 1.58); integers are little-endian. Every version is 1184 bytes, the
signed region is ``[0x000, 0x2A0)`` and the signature at 0x2A0 is ECDSA P-384 with SHA-384, r and s
each a 72-byte little-endian integer. What the versions add:

* version 2 (Milan, Genoa firmware before 1.55): the base layout; 0x188..0x1A0 reserved, so the
  report does not say which CPU made it; the product comes from the certificate chain alone;
* version 3 (ABI 1.55): CPUID family, model and stepping at 0x188, 0x189, 0x18A;
* version 4 (ABI 1.57): the same layout as 3 (the version records firmware behaviour only);
* version 5 (ABI 1.58, Turin firmware): LAUNCH_MIT_VECTOR at 0x1F8 and CURRENT_MIT_VECTOR at 0x200.

The parser insists on every byte the specification reserves: reserved ranges and bits are zero,
policy bit 17 is one, the unused high bytes of r and s and the signature tail are zero; so no byte
of an accepted report is malleable. The signing key (flags at 0x48, bits 4:2) must be the VCEK (0)
or the VLEK (1); an unsigned report (value 7, or MASK_CHIP_KEY) is refused.

TCB_VERSION (8 bytes, at CURRENT_TCB, REPORTED_TCB, COMMITTED_TCB, LAUNCH_TCB) has a per-product
layout, see :class:`SnpProduct`: Milan and Genoa ``[0] BL [1] TEE [2..5] reserved [6] SNP
[7] microcode``, Turin ``[0] FMC [1] BL [2] TEE [3] SNP [4..6] reserved [7] microcode``.
"""

from __future__ import annotations

import struct
import warnings
from dataclasses import dataclass

from cryptography import x509
from cryptography.utils import CryptographyDeprecationWarning

from enclava.attestation.errors import EvidenceFormatError
from enclava.attestation.sev_snp_errors import (
    SnpReservedFieldError,
    SnpSigningKeyUnsupportedError,
    SnpUnknownProductError,
    SnpUnsupportedVersionError,
)

__all__ = [
    "SnpReport",
    "SnpProduct",
    "SNP_MILAN",
    "SNP_GENOA",
    "SNP_TURIN",
    "SNP_PRODUCTS",
    "snp_product_named",
    "snp_product_for_cpuid",
    "SNP_REPORT_LEN",
    "SNP_SIGNED_LEN",
    "SNP_SIGNING_KEY_VCEK",
    "SNP_SIGNING_KEY_VLEK",
    "POLICY_DEBUG_BIT",
    "load_amd_certificates",
]

SNP_REPORT_LEN = 0x4A0  # 1184
SNP_SIGNED_LEN = 0x2A0
POLICY_DEBUG_BIT = 19
SNP_SIGNING_KEY_VCEK = 0
SNP_SIGNING_KEY_VLEK = 1
_POLICY_RESERVED_ONE_BIT = 17
_POLICY_HIGHEST_DEFINED_BIT = 25  # PAGE_SWAP_DISABLE (ABI 1.58); bits 63:26 are reserved, zero
_SIG_ALGO_ECDSA_P384_SHA384 = 1
_SUPPORTED_VERSIONS = (2, 3, 4, 5)
_COMPONENT_LEN = 72  # r and s are stored as 72-byte little-endian numbers; P-384 needs 48


@dataclass(frozen=True)
class SnpProduct:
    """One AMD EPYC generation as SEV-SNP sees it.

    ``tcb_layout`` names the security patch level (SPL) in each of the 8 TCB_VERSION bytes (None:
    reserved, must be zero); the same names key the VCEK/VLEK SPL extensions. ``hwid_length`` is
    how many leading CHIP_ID bytes the VCEK's hwID extension certifies (Turin's hwID is 8 bytes,
    the rest of its CHIP_ID is zero).
    """

    name: str
    cpuid_family: int
    cpuid_model: int
    tcb_layout: tuple[str | None, ...]
    hwid_length: int

    def tcb_parts(self, tcb: bytes) -> dict[str, int]:
        """The named SPLs of a TCB_VERSION in this product's layout."""
        return {part: tcb[i] for i, part in enumerate(self.tcb_layout) if part is not None}

    def tcb_reserved_clear(self, tcb: bytes) -> bool:
        return not any(tcb[i] for i, part in enumerate(self.tcb_layout) if part is None)


_ZEN3_ZEN4_TCB = ("bl", "tee", None, None, None, None, "snp", "ucode")
SNP_MILAN = SnpProduct("Milan", 0x19, 0x01, _ZEN3_ZEN4_TCB, 64)
SNP_GENOA = SnpProduct("Genoa", 0x19, 0x11, _ZEN3_ZEN4_TCB, 64)
SNP_TURIN = SnpProduct(
    "Turin", 0x1A, 0x02, ("fmc", "bl", "tee", "snp", None, None, None, "ucode"), 8
)
SNP_PRODUCTS = (SNP_MILAN, SNP_GENOA, SNP_TURIN)


def snp_product_named(name: str) -> SnpProduct:
    for product in SNP_PRODUCTS:
        if product.name == name:
            return product
    raise SnpUnknownProductError(f"{name[:32]!r} is not an SEV-SNP product this CA supports")


def snp_product_for_cpuid(family: int, model: int) -> SnpProduct:
    """The product a version-3+ report names by CPUID (AMD KDS spec, "Determining the Product
    Name"): family 19h model 01h Milan, 19h/11h Genoa, 1Ah/02h Turin."""
    for product in SNP_PRODUCTS:
        if (product.cpuid_family, product.cpuid_model) == (family, model):
            return product
    raise SnpUnknownProductError(
        f"the report's CPUID family {family:#x} model {model:#x} is not Milan, Genoa or Turin"
    )


@dataclass(frozen=True)
class SnpReport:
    version: int
    guest_svn: int
    policy: int
    family_id: bytes
    image_id: bytes
    vmpl: int
    signature_algo: int
    current_tcb: bytes
    platform_info: int
    author_key_en: bool
    signing_key: int  # SNP_SIGNING_KEY_VCEK or SNP_SIGNING_KEY_VLEK
    report_data: bytes
    measurement: bytes
    host_data: bytes
    id_key_digest: bytes
    author_key_digest: bytes
    report_id: bytes
    report_id_ma: bytes
    reported_tcb: bytes
    cpuid: tuple[int, int, int] | None  # family, model, stepping (version 3+)
    chip_id: bytes
    committed_tcb: bytes
    current_version: tuple[int, int, int]  # firmware major, minor, build
    committed_version: tuple[int, int, int]
    launch_tcb: bytes
    launch_mit_vector: int | None  # version 5+
    current_mit_vector: int | None
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

    @property
    def signed_by_vlek(self) -> bool:
        return self.signing_key == SNP_SIGNING_KEY_VLEK

    @property
    def product(self) -> SnpProduct | None:
        """The product the report's CPUID names (version 3+), None for a version-2 report."""
        return None if self.cpuid is None else snp_product_for_cpuid(*self.cpuid[:2])

    @staticmethod
    def tcb_parts(tcb: bytes, product: SnpProduct = SNP_MILAN) -> dict[str, int]:
        """A TCB_VERSION's named SPLs, in ``product``'s layout (Milan's by default)."""
        return product.tcb_parts(tcb)

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
        platform_info, flags = struct.unpack_from("<QI", raw, 0x40)
        if version not in _SUPPORTED_VERSIONS:
            raise SnpUnsupportedVersionError(
                f"unsupported SEV-SNP report version {version} (supported: 2 to 5)"
            )
        if signature_algo != _SIG_ALGO_ECDSA_P384_SHA384:
            raise EvidenceFormatError(f"unsupported SEV-SNP signature algorithm {signature_algo}")
        if not policy >> _POLICY_RESERVED_ONE_BIT & 1 or policy >> (
            _POLICY_HIGHEST_DEFINED_BIT + 1
        ):
            raise SnpReservedFieldError(
                f"reserved bits of the SEV-SNP guest policy {policy:#x} are not as specified"
            )
        if flags >> 5:
            raise SnpReservedFieldError("reserved bits 31:5 of the SEV-SNP report flags are set")
        signing_key = flags >> 2 & 0x7
        if signing_key not in (SNP_SIGNING_KEY_VCEK, SNP_SIGNING_KEY_VLEK) or flags & 0x2:
            raise SnpSigningKeyUnsupportedError(
                f"the SEV-SNP report's SIGNING_KEY is {signing_key}"
                + (" with MASK_CHIP_KEY (unsigned)" if flags & 0x2 else "")
                + "; only the VCEK (0) and the VLEK (1) are accepted"
            )
        cpuid = (raw[0x188], raw[0x189], raw[0x18A]) if version >= 3 else None
        reserved = [(0x4C, 0x50), (0x18B if cpuid else 0x188, 0x1A0), (0x1EB, 0x1EC)]
        reserved += [(0x1EF, 0x1F0), (0x208 if version >= 5 else 0x1F8, SNP_SIGNED_LEN)]
        for start, end in reserved:
            if any(raw[start:end]):
                raise SnpReservedFieldError(
                    f"non-zero bytes in the reserved range [{start:#x}, {end:#x}) of the "
                    f"version-{version} SEV-SNP report"
                )
        signature = raw[SNP_SIGNED_LEN:]
        r_le, s_le = signature[:_COMPONENT_LEN], signature[_COMPONENT_LEN : 2 * _COMPONENT_LEN]
        if any(r_le[48:]) or any(s_le[48:]) or any(signature[2 * _COMPONENT_LEN :]):
            raise SnpReservedFieldError(
                "non-zero bytes in the reserved part of the SEV-SNP signature"
            )
        mit = struct.unpack_from("<QQ", raw, 0x1F8) if version >= 5 else (None, None)
        return cls(
            version=version,
            guest_svn=guest_svn,
            policy=policy,
            family_id=raw[0x10:0x20],
            image_id=raw[0x20:0x30],
            vmpl=vmpl,
            signature_algo=signature_algo,
            current_tcb=raw[0x38:0x40],
            platform_info=platform_info,
            author_key_en=bool(flags & 0x1),
            signing_key=signing_key,
            report_data=raw[0x50:0x90],
            measurement=raw[0x90:0xC0],
            host_data=raw[0xC0:0xE0],
            id_key_digest=raw[0xE0:0x110],
            author_key_digest=raw[0x110:0x140],
            report_id=raw[0x140:0x160],
            report_id_ma=raw[0x160:0x180],
            reported_tcb=raw[0x180:0x188],
            cpuid=cpuid,
            chip_id=raw[0x1A0:0x1E0],
            committed_tcb=raw[0x1E0:0x1E8],
            current_version=(raw[0x1EA], raw[0x1E9], raw[0x1E8]),
            committed_version=(raw[0x1EE], raw[0x1ED], raw[0x1EC]),
            launch_tcb=raw[0x1F0:0x1F8],
            launch_mit_vector=mit[0],
            current_mit_vector=mit[1],
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
