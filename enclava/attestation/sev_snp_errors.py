"""The SEV-SNP verifier's own refusals, each a leaf of the common attestation hierarchy.

They subclass the generic errors (format, signature) so every caller that handles those keeps
working; the leaf names *which* check refused, for the CA's audit log and the provider's hint::

  EvidenceFormatError
  ├── SnpUnsupportedVersionError     snp_report_version_unsupported  not a version 2..5 report
  ├── SnpReservedFieldError          snp_report_reserved_nonzero     a reserved field is not zero
  ├── SnpSigningKeyUnsupportedError  snp_signing_key_unsupported     SIGNING_KEY not VCEK/VLEK
  └── SnpUnknownProductError         snp_product_unknown             no Milan/Genoa/Turin chain
  EvidenceSignatureError
  ├── SnpChainError                  snp_chain_invalid               chain signature/shape fails
  ├── SnpReportSignatureError        snp_report_signature_invalid    report signature fails
  ├── SnpProductMismatchError        snp_product_mismatch            report CPU ≠ chain product
  ├── SnpSigningKeyMismatchError     snp_signing_key_mismatch        VCEK report, VLEK chain (or ↔)
  ├── SnpChipMismatchError           snp_chip_id_mismatch            VCEK of another chip
  └── SnpTcbMismatchError            snp_tcb_mismatch                VCEK/VLEK of another TCB
"""

from __future__ import annotations

from enclava.attestation.errors import EvidenceFormatError, EvidenceSignatureError

__all__ = [
    "SnpUnsupportedVersionError",
    "SnpReservedFieldError",
    "SnpSigningKeyUnsupportedError",
    "SnpUnknownProductError",
    "SnpChainError",
    "SnpReportSignatureError",
    "SnpProductMismatchError",
    "SnpSigningKeyMismatchError",
    "SnpChipMismatchError",
    "SnpTcbMismatchError",
]


class SnpUnsupportedVersionError(EvidenceFormatError):
    code = "snp_report_version_unsupported"
    hint = "Send an SEV-SNP ATTESTATION_REPORT of version 2 to 5, as the AMD firmware produced it."


class SnpReservedFieldError(EvidenceFormatError):
    code = "snp_report_reserved_nonzero"
    hint = "The report has bits set where AMD's ABI reserves zeros; send it unaltered."


class SnpSigningKeyUnsupportedError(EvidenceFormatError):
    code = "snp_signing_key_unsupported"
    hint = (
        "Request a report signed by the VCEK or the VLEK (SIGNING_KEY 0 or 1), not an unsigned one."
    )


class SnpUnknownProductError(EvidenceFormatError):
    code = "snp_product_unknown"
    hint = "Only AMD EPYC Milan, Genoa and Turin SEV-SNP platforms are supported."


class SnpChainError(EvidenceSignatureError):
    code = "snp_chain_invalid"
    hint = (
        "Send the endorsement chain exactly as AMD KDS serves it: VCEK, ASK, ARK (or VLEK, ASVK, "
        "ARK)."
    )


class SnpReportSignatureError(EvidenceSignatureError):
    code = "snp_report_signature_invalid"
    hint = "The report was altered or signed by another key; attest again from the guest."


class SnpProductMismatchError(EvidenceSignatureError):
    code = "snp_product_mismatch"
    hint = "Send the AMD chain of the product (Milan, Genoa, Turin) the report was made on."


class SnpSigningKeyMismatchError(EvidenceSignatureError):
    code = "snp_signing_key_mismatch"
    hint = "A VCEK-signed report needs the VCEK chain, a VLEK-signed one the VLEK chain."


class SnpChipMismatchError(EvidenceSignatureError):
    code = "snp_chip_id_mismatch"
    hint = "Send the VCEK of the chip that made the report (AMD KDS, by CHIP_ID and REPORTED_TCB)."


class SnpTcbMismatchError(EvidenceSignatureError):
    code = "snp_tcb_mismatch"
    hint = "Send the VCEK/VLEK issued for the report's REPORTED_TCB (fetch it again from AMD KDS)."
