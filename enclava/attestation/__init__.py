"""Attestation evidence: its formats, the report_data binding, and the producers inside a TEE.

The evidence verifiers (CA and clients alike) are in ``enclava.attestation.verifiers``.
"""

from enclava.attestation.binding import (
    GPU_DIGEST_LENGTH,
    NONCE_LENGTH,
    REPORT_DATA_DOMAIN,
    REPORT_DATA_DOMAIN_V2,
    REPORT_DATA_LENGTH,
    bind_report_data,
    report_data_matches,
)
from enclava.attestation.configfs_tsm import TSM_REPORT_ROOT, ConfigfsTsm, TsmFs, TsmReport
from enclava.attestation.devpki import DEV_PKI_SEED, development_pki, development_root_der
from enclava.attestation.errors import (
    AttestationError,
    AttesterError,
    CollateralExpiredError,
    DebugEnclaveError,
    EvidenceFormatError,
    EvidenceRevokedError,
    EvidenceSignatureError,
    MeasurementNotAllowedError,
    NonceError,
    NonceExpiredError,
    NonceReusedError,
    NonceUnknownError,
    PolicyLookupError,
    ReportDataMismatchError,
    SimulatedTeeRefusedError,
    TcbStatusRejectedError,
    TsmGenerationError,
    TsmUnavailableError,
    UnsupportedTeeError,
    UntrustedRootError,
)
from enclava.attestation.evidence import MAX_GPUS, Attester, Evidence, GpuCollector
from enclava.attestation.hardware import (
    CollateralSource,
    ConfigfsSevSnpAttester,
    ConfigfsTdxAttester,
    PccsCollateralSource,
    snp_chain_from_cert_table,
)
from enclava.attestation.sev_snp_report import SnpReport, load_amd_certificates
from enclava.attestation.simulated import SimulatedTdxAttester
from enclava.attestation.tdx_quote import QuoteHeader, TdReport, TdxQuote

__all__ = [
    # envelope and binding
    "Evidence",
    "Attester",
    "GpuCollector",
    "MAX_GPUS",
    "bind_report_data",
    "report_data_matches",
    "REPORT_DATA_DOMAIN",
    "REPORT_DATA_DOMAIN_V2",
    "GPU_DIGEST_LENGTH",
    "NONCE_LENGTH",
    "REPORT_DATA_LENGTH",
    # formats
    "TdxQuote",
    "QuoteHeader",
    "TdReport",
    "SnpReport",
    "load_amd_certificates",
    # producers
    "SimulatedTdxAttester",
    "ConfigfsTdxAttester",
    "ConfigfsSevSnpAttester",
    "CollateralSource",
    "PccsCollateralSource",
    "snp_chain_from_cert_table",
    "ConfigfsTsm",
    "TsmFs",
    "TsmReport",
    "TSM_REPORT_ROOT",
    # development PKI (simulated TEE only)
    "DEV_PKI_SEED",
    "development_pki",
    "development_root_der",
    # errors
    "AttestationError",
    "EvidenceFormatError",
    "EvidenceSignatureError",
    "UntrustedRootError",
    "CollateralExpiredError",
    "EvidenceRevokedError",
    "SimulatedTeeRefusedError",
    "UnsupportedTeeError",
    "ReportDataMismatchError",
    "NonceError",
    "NonceUnknownError",
    "NonceReusedError",
    "NonceExpiredError",
    "DebugEnclaveError",
    "TcbStatusRejectedError",
    "MeasurementNotAllowedError",
    "PolicyLookupError",
    "AttesterError",
    "TsmUnavailableError",
    "TsmGenerationError",
]
