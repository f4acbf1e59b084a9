"""Errors of the CA service (attestation errors live in ``enclava.attestation.errors``).

    EnclavaError
    └── CaError                      base of the service's own refusals
        ├── CertificateInvalid       a certificate or CSR fails a check (401)
        │   ├── EnclaveCertificateExpired  the enclave certificate is expired or not yet valid
        │   ├── RequestStale         a key-release request's ``issued_at`` is outside the window
        │   └── ProviderConsentRefused  the provider's consent is missing, malformed or not its own
        ├── GpuClassesMixed          the attested GPUs are not all of one class (422)
        ├── GpuClassInvalid          the GPUs' class label cannot be certified (422)
        ├── SealingError             the sealed key file cannot be opened (500, fail closed)
        ├── RegistrationFailed       an on-chain registerEnclave / revokeEnclave failed (502)
        └── AdminRefused             an admin request is not authorised (401/403)
            ├── AdminRequestInvalid  not a well-formed signed admin request (401)
            ├── AdminNotAuthorized   signed by an address that is not a configured admin (403)
            └── AdminRequestReplayed this exact signed request was already used (401)

    NonceError                       (``enclava.attestation.errors``)
    └── NonceStorageError            the database failed checking a nonce (503, fail closed)

Admin requests with a bad signature, a stale ``issued_at`` or another CA's id are refused with the
broker's ``SignatureInvalid`` / ``SignatureStale`` / ``WrongCa`` (401).
"""

from __future__ import annotations

from enclava.attestation.errors import NonceError
from enclava.errors import EnclavaError

__all__ = [
    "CaError",
    "CertificateInvalid",
    "EnclaveCertificateExpired",
    "RequestStale",
    "ProviderConsentRefused",
    "GpuClassesMixed",
    "GpuClassInvalid",
    "NonceStorageError",
    "SealingError",
    "RegistrationFailed",
    "AdminRefused",
    "AdminRequestInvalid",
    "AdminNotAuthorized",
    "AdminRequestReplayed",
]


class CaError(EnclavaError):
    code = "ca_error"
    http_status = 400


class CertificateInvalid(CaError):
    code = "certificate_invalid"
    hint = "Attest again and request a new certificate from this CA."
    http_status = 401


class EnclaveCertificateExpired(CertificateInvalid):
    code = "certificate_expired"
    hint = "Attest again to get a fresh certificate."


class RequestStale(CertificateInvalid):
    code = "request_stale"
    hint = "Sign a fresh request with the current time."


class ProviderConsentRefused(CertificateInvalid):
    code = "provider_consent_invalid"
    hint = "The provider node must sign with its registered wallet."


class GpuClassesMixed(CaError):
    """An enclave's certificate and on-chain record name one GPU class; GPUs of different classes
    in one CVM cannot be certified as one."""

    code = "gpu_classes_mixed"
    hint = "Attest a CVM whose confidential GPUs are all of one model."
    http_status = 422


class GpuClassInvalid(CaError):
    """The verified GPUs' class is no label a certificate and the chain can carry (1-32 printable
    ASCII, not ``cpu``), or there are more than 255 of them."""

    code = "gpu_class_invalid"
    hint = "The GPU verifier named a class this CA cannot certify; tell the CA's operator."
    http_status = 422


class SealingError(CaError):
    code = "sealing_error"
    hint = "The CA's sealed keys cannot be opened with this sealing key; check CA_SEALING_KEY_FILE."
    http_status = 500


class RegistrationFailed(CaError):
    code = "registration_failed"
    hint = "Check the chain RPC and that the CA signer is authorised and funded."
    http_status = 502


class AdminRefused(CaError):
    code = "admin_refused"
    hint = "Sign a fresh admin request with a wallet listed in CA_ADMIN_ADDRESSES."
    http_status = 403


class AdminRequestInvalid(AdminRefused):
    code = "admin_request_invalid"
    hint = (
        "Send a RevocationRequest built with "
        "certification_authority.admin.build_revocation_request."
    )
    http_status = 401


class AdminNotAuthorized(AdminRefused):
    code = "admin_not_authorized"
    hint = "Only the addresses in CA_ADMIN_ADDRESSES may revoke; sign with one of them."
    http_status = 403


class AdminRequestReplayed(AdminRefused):
    code = "admin_request_replayed"
    hint = "Each signed admin request is accepted once; sign a new one with the current time."
    http_status = 401


class NonceStorageError(NonceError):
    """The database failed while a nonce was checked: refused (fail closed)."""

    code = "nonce_storage_error"
    hint = "The CA's database failed; retry, and if it persists tell the CA's operator."
    http_status = 503
