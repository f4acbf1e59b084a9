"""Errors of the CA service (attestation errors live in ``enclava.attestation.errors``).

    EnclavaError
    └── CaError                      base of the service's own refusals
        ├── CertificateInvalid       a certificate or CSR fails a check (401)
        ├── SealingError             the sealed key file cannot be opened (500, fail closed)
        └── RegistrationFailed       the on-chain registerEnclave transaction failed (502)
"""

from __future__ import annotations

from enclava.errors import EnclavaError

__all__ = ["CaError", "CertificateInvalid", "SealingError", "RegistrationFailed"]


class CaError(EnclavaError):
    code = "ca_error"
    http_status = 400


class CertificateInvalid(CaError):
    code = "certificate_invalid"
    hint = "Attest again and request a new certificate from this CA."
    http_status = 401


class SealingError(CaError):
    code = "sealing_error"
    hint = "The CA's sealed keys cannot be opened with this sealing key; check CA_SEALING_KEY_FILE."
    http_status = 500


class RegistrationFailed(CaError):
    code = "registration_failed"
    hint = "Check the chain RPC and that the CA signer is authorised and funded."
    http_status = 502
