"""Errors of the verifying serving client: why a service is not trusted, or an exchange refused.

    EnclavaError
    ├── ServiceUnreachable           service_unreachable        the pre-flight GET failed
    ├── ServiceRefused               service_refused            a guard of verify_service failed:
    │   │                                                       nothing was sent to the service
    │   ├── ServiceUrlInsecure       service_url_insecure       not an https:// endpoint
    │   ├── StatementNotForService   statement_not_for_service  another service id or chain
    │   ├── TlsKeyNotBound           tls_key_not_bound          the TLS certificate is not the
    │   │                                                       statement's (P-256, self-signed)
    │   ├── EnclaveCertificateRefused enclave_certificate_refused  does not chain to the attested CA
    │   ├── EnclaveNotValid          enclave_not_valid          revoked, unknown, expired or its
    │   │                                                       measurement not allowed on chain
    │   ├── EnclaveNotForService     enclave_not_for_service    not the service's bound enclave,
    │   │                                                       or another provider, TEE or GPU
    │   ├── SimulatedTeeRefused      service_simulated_tee_refused  simulated, not allowed
    │   ├── ServiceNotLive           service_not_live           unknown, stopped or ended on chain
    │   └── ModelHashMismatch        model_hash_mismatch        serves another model than the terms
    ├── ExchangeRefused              exchange_refused           the transport refused an exchange
    │   ├── RequestNotForService     request_not_for_service    a request to another origin
    │   ├── ResponseEncodingRefused  response_encoding_refused  a compressed body cannot be hashed
    │   ├── ServiceDistrusted        service_distrusted         an earlier exchange was refused
    │   ├── TlsPinFailed             tls_pin_failed             not the verified TLS key
    │   └── StreamMalformed          stream_malformed           data after the receipt, or cut off
    └── SavedResponseInvalid         saved_response_invalid     a saved response file is malformed

Receipt refusals (forged, replayed, altered, inflated) are ``enclava.protocol.errors.Receipt*``.
"""

from __future__ import annotations

from enclava.errors import EnclavaError

__all__ = [
    "ServiceUnreachable",
    "ServiceRefused",
    "ServiceUrlInsecure",
    "StatementNotForService",
    "TlsKeyNotBound",
    "EnclaveCertificateRefused",
    "EnclaveNotValid",
    "EnclaveNotForService",
    "SimulatedTeeRefused",
    "ServiceNotLive",
    "ModelHashMismatch",
    "ExchangeRefused",
    "RequestNotForService",
    "ResponseEncodingRefused",
    "ServiceDistrusted",
    "TlsPinFailed",
    "StreamMalformed",
    "SavedResponseInvalid",
]

_NOTHING_SENT = "Nothing was sent to this endpoint. "


class ServiceUnreachable(EnclavaError):
    code = "service_unreachable"
    hint = "Check the service's endpoint URL (`enclava service list`) and that it is up."


class ServiceRefused(EnclavaError):
    code = "service_refused"
    hint = _NOTHING_SENT + "The service failed verification; do not use it."


class ServiceUrlInsecure(ServiceRefused):
    code = "service_url_insecure"
    hint = _NOTHING_SENT + "Use the service's https:// endpoint: TLS terminates in the enclave."


class StatementNotForService(ServiceRefused):
    code = "statement_not_for_service"
    hint = _NOTHING_SENT + "The endpoint serves another service or chain; check the service id."


class TlsKeyNotBound(ServiceRefused):
    code = "tls_key_not_bound"
    hint = (
        _NOTHING_SENT + "The TLS key that answered is not the one the enclave signed: something "
        "between you and the enclave terminates TLS."
    )


class EnclaveCertificateRefused(ServiceRefused):
    code = "enclave_certificate_refused"
    hint = _NOTHING_SENT + "The enclave's certificate is not issued by the attested CA, or expired."


class EnclaveNotValid(ServiceRefused):
    code = "enclave_not_valid"
    hint = (
        _NOTHING_SENT + "The AttestationRegistry does not hold the enclave as valid (revoked, "
        "expired, unknown, or its measurement is no longer allowed)."
    )


class EnclaveNotForService(ServiceRefused):
    code = "enclave_not_for_service"
    hint = _NOTHING_SENT + "The enclave runs for another provider, TEE type or GPU than the terms."


class SimulatedTeeRefused(ServiceRefused):
    code = "service_simulated_tee_refused"
    hint = (
        _NOTHING_SENT + "The service runs in a simulated TEE, which protects nothing; pass "
        "insecure_allow_simulated_tee=True on a development devnet only."
    )


class ServiceNotLive(ServiceRefused):
    code = "service_not_live"
    hint = _NOTHING_SENT + "The service is unknown, stopped or past its end on chain."


class ModelHashMismatch(ServiceRefused):
    code = "model_hash_mismatch"
    hint = _NOTHING_SENT + "The enclave serves another model than the service's terms name."


class ExchangeRefused(EnclavaError):
    code = "exchange_refused"
    hint = "The verifying transport refused this exchange; see the detail."


class RequestNotForService(ExchangeRefused):
    code = "request_not_for_service"
    hint = "Point the client's base_url at the verified service's endpoint; nothing was sent."


class ResponseEncodingRefused(ExchangeRefused):
    code = "response_encoding_refused"
    hint = "The service compressed a response, which its receipt cannot cover; do not use it."


class ServiceDistrusted(ExchangeRefused):
    code = "service_distrusted"
    hint = (
        "An earlier response of this service was refused, so this transport sends nothing more; "
        "verify the service again and start a new transport (pass last_voucher to resume)."
    )


class TlsPinFailed(ExchangeRefused):
    code = "tls_pin_failed"
    hint = (
        "The endpoint answered with another TLS key than the verified enclave's; nothing was sent. "
        "Verify the service again (it may have restarted) before sending anything."
    )


class StreamMalformed(ExchangeRefused):
    code = "stream_malformed"
    hint = "The stream carried data after its receipt or was cut off; do not use it."


class SavedResponseInvalid(EnclavaError):
    code = "saved_response_invalid"
    hint = "The file is not a response saved by enclava.client.serving.save_response."
