"""Errors of attestation: producing evidence inside a TEE and verifying it at the CA.

Every refusal has its own leaf, so the CA's audit log and the loader's messages say exactly
which check failed. Hierarchy::

  EnclavaError
  └── AttestationError                attestation_error
      ├── EvidenceFormatError         evidence_malformed           bytes or envelope malformed
      ├── EvidenceSignatureError      evidence_signature_invalid   a signature or chain fails
      ├── UntrustedRootError          evidence_untrusted_root      chain ends in an untrusted root
      ├── CollateralExpiredError      evidence_collateral_expired  certs, CRLs or TCB info expired
      ├── EvidenceRevokedError        evidence_revoked             certificate or TCB level revoked
      ├── SimulatedTeeRefusedError    simulated_tee_refused        simulated, no insecure flag
      ├── UnsupportedTeeError         tee_unsupported              no verifier for this TEE type
      ├── ReportDataMismatchError     report_data_mismatch         binds another nonce or key
      ├── NonceError                  nonce_error
      │   ├── NonceUnknownError       nonce_unknown                the CA never issued this nonce
      │   ├── NonceReusedError        nonce_reused                 the nonce was already consumed
      │   └── NonceExpiredError       nonce_expired                the nonce is past its lifetime
      ├── DebugEnclaveError           tee_debug_enabled            the TD / guest is in debug mode
      ├── TcbStatusRejectedError      tcb_status_rejected          the TCB status is not accepted
      ├── MeasurementNotAllowedError  measurement_not_allowed      measurement not allow-listed
      ├── PolicyLookupError           policy_lookup_failed         allow-list/nonce store unreadable
      └── AttesterError               attester_error               producing evidence failed
          ├── TsmUnavailableError     tsm_unavailable              no configfs-tsm interface
          └── TsmGenerationError      tsm_generation_conflict      raced on the TSM entry

Finer leaves live beside their verifiers and subclass the errors above, so a handler of the broad
error still catches them: ``sev_snp_errors`` (product, signing key, chip and TCB binding of SEV-SNP
reports), ``verifiers.tdx.ServiceTdNotAllowedError`` (a TD 1.5 bound to a service TD) and
``gpu.errors`` (NVIDIA GPU evidence: SPDM, device chain, RIMs, OCSP, CC mode).

Outside errors (dcap-qvl's ``ValueError``, ``cryptography`` exceptions, ``OSError``) are translated
at
the boundary with ``raise ... from exc``; verifiers never let another exception type escape.
"""

from __future__ import annotations

from enclava.errors import EnclavaError

__all__ = [
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


class AttestationError(EnclavaError):
    code = "attestation_error"
    hint = "The attestation evidence was refused; see the detail for the check that failed."


class EvidenceFormatError(AttestationError):
    code = "evidence_malformed"
    hint = (
        "Send the quote or report exactly as the TEE produced it, in the Evidence envelope format."
    )


class EvidenceSignatureError(AttestationError):
    code = "evidence_signature_invalid"
    hint = "The evidence or its collateral was altered or corrupted; attest again from the enclave."


class UntrustedRootError(AttestationError):
    code = "evidence_untrusted_root"
    hint = (
        "The certificate chain does not end in the vendor root this CA trusts (Intel SGX Root CA, "
        "AMD ARK)."
    )


class CollateralExpiredError(AttestationError):
    code = "evidence_collateral_expired"
    hint = (
        "Fetch fresh collateral (TCB info, QE identity, CRLs) and attest again; check the CA's "
        "clock."
    )


class EvidenceRevokedError(AttestationError):
    code = "evidence_revoked"
    hint = (
        "The platform's certificate or TCB level is revoked; the provider must update the platform."
    )


class SimulatedTeeRefusedError(AttestationError):
    code = "simulated_tee_refused"
    hint = (
        "Simulated evidence is for development only; start the CA with "
        "insecure_allow_simulated_tee=True on a development devnet, never in production."
    )


class UnsupportedTeeError(AttestationError):
    code = "tee_unsupported"
    hint = "Use a TEE type this CA has a verifier for (tdx, sev-snp; simulated in development)."


class ReportDataMismatchError(AttestationError):
    code = "report_data_mismatch"
    hint = (
        "Compute report_data with enclava.attestation.bind_report_data(nonce, public key) and "
        "attest again."
    )


class NonceError(AttestationError):
    code = "nonce_error"
    hint = "Ask the CA for a fresh nonce and attest again."


class NonceUnknownError(NonceError):
    code = "nonce_unknown"


class NonceReusedError(NonceError):
    code = "nonce_reused"
    hint = "Each CA nonce is single-use; ask the CA for a fresh nonce and attest again."


class NonceExpiredError(NonceError):
    code = "nonce_expired"
    hint = "The nonce expired before the evidence arrived; ask for a fresh one and attest promptly."


class DebugEnclaveError(AttestationError):
    code = "tee_debug_enabled"
    hint = (
        "Launch the TD / SEV-SNP guest with debug disabled; a debug guest's memory is readable by "
        "the host."
    )


class TcbStatusRejectedError(AttestationError):
    code = "tcb_status_rejected"
    hint = (
        "The provider must update the platform's firmware/microcode, or the CA operator must widen "
        "the TCB policy."
    )


class MeasurementNotAllowedError(AttestationError):
    code = "measurement_not_allowed"
    hint = (
        "Run an image whose measurement is on the allow-list, or have the image registered on the "
        "allow-list."
    )


class PolicyLookupError(AttestationError):
    code = "policy_lookup_failed"
    hint = (
        "The CA could not consult its allow-list or nonce store (chain or database down); retry "
        "later."
    )


class AttesterError(AttestationError):
    code = "attester_error"
    hint = (
        "Producing attestation evidence inside the TEE failed; check the guest kernel and the TEE "
        "driver."
    )


class TsmUnavailableError(AttesterError):
    code = "tsm_unavailable"
    hint = (
        "No configfs-tsm report interface: run inside a TDX or SEV-SNP guest with Linux >= 6.7 and "
        "configfs mounted at /sys/kernel/config."
    )


class TsmGenerationError(AttesterError):
    code = "tsm_generation_conflict"
    hint = (
        "Another process wrote the same configfs-tsm report entry concurrently; retry attestation."
    )
