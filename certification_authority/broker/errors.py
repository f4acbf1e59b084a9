"""Errors of the key broker. Every refusal has its own leaf, its stable ``code`` goes to the audit
log, and ``http_status`` is what the CA's HTTP layer answers. Hierarchy::

    EnclavaError
    └── BrokerError                      broker_error                 400
        ├── BrokerRequestInvalid         broker_request_invalid       400  fields malformed
        ├── BrokerStorageError           broker_storage_error         503  the database failed
        ├── ChainLookupError             broker_chain_unavailable     503  chain or allow-list down
        ├── SignatureError               signature_error              401  deposits, audit reads
        │   ├── SignatureInvalid         signature_invalid            401  not the named owner's
        │   ├── SignatureStale           signature_stale              401  issued_at out of window
        │   └── WrongCa                  wrong_ca                     401  signed for another CA
        ├── ResourceNotFound             resource_not_found           404  no such resource
        ├── NotResourceOwner             not_resource_owner           403  not the on-chain owner
        ├── DepositReplayed              deposit_replayed             409  not newer than the last
        ├── CiphertextNotForCa           ciphertext_not_for_ca        400  the CA cannot open it
        └── ReleaseDenied                release_denied               403  ``guard`` says which
            ├── ReleaseReplayed          release_replayed             409  guard_request_unused
            ├── CertificateExpired       certificate_expired          401  guard_certificate_valid
            ├── CertificateRevoked       certificate_revoked          403  guard_certificate_valid
            ├── EnclaveRevoked           enclave_revoked              403  guard_certificate_valid
            ├── MeasurementNotAllowed    measurement_not_allowed      403  guard_measurement_allowed
            ├── OrderNotFound            order_not_found              404  guard_order_accepted
            ├── OrderNotAccepted         order_not_accepted           409  guard_order_accepted
            ├── OrderExpired             order_expired                409  guard_order_accepted
            ├── ProviderMismatch         order_provider_mismatch      403  guard_order_accepted
            ├── OrderTeeMismatch         order_tee_type_mismatch      403  guard_order_accepted
            ├── OrderGpuMismatch         order_gpu_mismatch           403  guard_order_gpu
            ├── ResourceNotInOrder       resource_not_in_order        403  guard_resource_in_order
            ├── ServiceNotFound          service_not_found            404  guard_service_live
            ├── ServiceNotLive           service_not_live             409  guard_service_live
            ├── ServiceEnded             service_ended                409  guard_service_live
            ├── ServiceProviderMismatch  service_provider_mismatch    403  guard_service_live
            ├── ServiceTeeMismatch       service_tee_type_mismatch    403  guard_service_live
            ├── ServiceEnclaveMismatch   service_enclave_mismatch     403  guard_service_enclave
            ├── ServiceGpuMismatch       service_gpu_mismatch         403  guard_service_gpu
            ├── ResourceNotServed        resource_not_served          403  guard_resource_served
            ├── PolicyServingRefused     policy_serving_refused       403  guard_policy_allows
            ├── KeyNotDeposited          key_not_deposited            404  guard_policy_allows
            ├── PolicyExpired            policy_expired               403  guard_policy_allows
            ├── PolicyEngineRefused      policy_engine_refused        403  guard_policy_allows
            ├── PolicySimulatedRefused   policy_simulated_tee_refused 403  guard_policy_allows
            ├── PolicyTeeRefused         policy_tee_type_refused      403  guard_policy_allows
            ├── PolicyGpuRefused         policy_gpu_refused           403  guard_policy_allows
            ├── PolicyMeasurementRefused policy_measurement_refused   403  guard_policy_allows
            ├── PolicyCustomerRefused    policy_customer_refused      403  guard_policy_allows
            ├── UsesExhausted            policy_uses_exhausted        409  guard_policy_allows
            └── KeyUnwrapFailed          key_unwrap_failed            500  release, after the guards

Outside errors (eth-account, pyrage, SQLAlchemy, the chain view) are translated at the boundary
with ``raise ... from exc``; the broker lets no other exception type escape.
"""

from __future__ import annotations

from enclava.errors import EnclavaError

__all__ = [
    "BrokerError",
    "BrokerRequestInvalid",
    "BrokerStorageError",
    "ChainLookupError",
    "SignatureError",
    "SignatureInvalid",
    "SignatureStale",
    "WrongCa",
    "ResourceNotFound",
    "NotResourceOwner",
    "DepositReplayed",
    "CiphertextNotForCa",
    "ReleaseDenied",
    "ReleaseReplayed",
    "CertificateExpired",
    "CertificateRevoked",
    "EnclaveRevoked",
    "MeasurementNotAllowed",
    "OrderNotFound",
    "OrderNotAccepted",
    "OrderExpired",
    "ProviderMismatch",
    "OrderTeeMismatch",
    "OrderGpuMismatch",
    "ResourceNotInOrder",
    "KeyNotDeposited",
    "PolicyExpired",
    "PolicyEngineRefused",
    "PolicySimulatedRefused",
    "PolicyTeeRefused",
    "PolicyGpuRefused",
    "PolicyMeasurementRefused",
    "PolicyCustomerRefused",
    "UsesExhausted",
    "KeyUnwrapFailed",
]


class BrokerError(EnclavaError):
    code = "broker_error"
    hint = "See the detail; the CA's logs name the check that failed."
    http_status = 400


class BrokerRequestInvalid(BrokerError):
    code = "broker_request_invalid"
    hint = "Fix the request fields named in the detail."


class BrokerStorageError(BrokerError):
    code = "broker_storage_error"
    hint = "The CA's database failed; retry, and if it persists tell the CA's operator."
    http_status = 503


class ChainLookupError(BrokerError):
    code = "broker_chain_unavailable"
    hint = "The CA could not read the chain or the allow-list; retry later."
    http_status = 503
    #: the guard that was reading the chain when it failed (the audit log records it)
    guard: str = ""


class SignatureError(BrokerError):
    code = "signature_error"
    hint = (
        "Sign the request again with the owner's wallet (build_deposit_request / "
        "build_audit_request)."
    )
    http_status = 401


class SignatureInvalid(SignatureError):
    code = "signature_invalid"
    hint = (
        "Sign the canonical message built from exactly these fields (normalized policy) with the "
        "wallet named as owner."
    )


class SignatureStale(SignatureError):
    code = "signature_stale"
    hint = "Sign a fresh request: issued_at must be within a few minutes of the CA's clock."


class WrongCa(SignatureError):
    code = "wrong_ca"
    hint = "The request was signed for another CA; sign it with this CA's id."


class ResourceNotFound(BrokerError):
    code = "resource_not_found"
    hint = "Check the resource id; the resource must be registered on chain first."
    http_status = 404


class NotResourceOwner(BrokerError):
    code = "not_resource_owner"
    hint = "Only the resource's on-chain owner can deposit its key or read its audit log."
    http_status = 403


class DepositReplayed(BrokerError):
    code = "deposit_replayed"
    hint = (
        "This deposit is not newer than the one stored; sign a new request to replace the policy."
    )
    http_status = 409


class CiphertextNotForCa(BrokerError):
    code = "ciphertext_not_for_ca"
    hint = "Encrypt the resource key with age to this CA's recipient (GET the CA's age recipient)."


class ReleaseDenied(BrokerError):
    """A guard refused a key. ``guard`` names it; ``resource_id`` is the resource (None: the whole
    order)."""

    code = "release_denied"
    hint = "No key was released; see the detail for the check that failed."
    http_status = 403
    guard = "release"

    def __init__(
        self, message: str, *, resource_id: int | None = None, hint: str | None = None
    ) -> None:
        super().__init__(message, hint=hint)
        self.resource_id = resource_id


_CERT, _MEAS, _ORDER = (
    "guard_certificate_valid",
    "guard_measurement_allowed",
    "guard_order_accepted",
)
_UNUSED = "guard_request_unused"
_RES, _POL = "guard_resource_in_order", "guard_policy_allows"
_ASK_OWNER = "The owner's policy refuses this request; ask the owner to deposit a new policy."


class ReleaseReplayed(ReleaseDenied):
    code, guard = "release_replayed", _UNUSED
    hint = "Each key-release request is accepted once: sign a new one with a fresh request_nonce."
    http_status = 409


class CertificateExpired(ReleaseDenied):
    code, guard = "certificate_expired", _CERT
    hint = "Attest again to get a fresh certificate."
    http_status = 401


class CertificateRevoked(ReleaseDenied):
    code, guard = "certificate_revoked", _CERT
    hint = "This certificate was revoked by the CA; the enclave must not be used."


class EnclaveRevoked(ReleaseDenied):
    code, guard = "enclave_revoked", _CERT
    hint = "This enclave was revoked by the CA; the enclave must not be used."


class MeasurementNotAllowed(ReleaseDenied):
    code, guard = "measurement_not_allowed", _MEAS
    hint = "Run an image whose measurement is on the on-chain allow-list."


class OrderNotFound(ReleaseDenied):
    code, guard = "order_not_found", _ORDER
    hint = "Check the order id."
    http_status = 404


class OrderNotAccepted(ReleaseDenied):
    code, guard = "order_not_accepted", _ORDER
    hint = "Keys are released only for an order its provider has accepted."
    http_status = 409


class OrderExpired(ReleaseDenied):
    code, guard = "order_expired", _ORDER
    hint = "The order is past its deadline; it can only time out now."
    http_status = 409


class ProviderMismatch(ReleaseDenied):
    code, guard = "order_provider_mismatch", _ORDER
    hint = "Only an enclave of the order's provider can obtain its keys."


class OrderTeeMismatch(ReleaseDenied):
    code, guard = "order_tee_type_mismatch", _ORDER
    hint = "Run the order in the TEE type it was placed for."


class OrderGpuMismatch(ReleaseDenied):
    code, guard = "order_gpu_mismatch", "guard_order_gpu"
    hint = (
        "The order's TEE offer promises a GPU: run it in an enclave certified with that GPU class "
        "(the certificate's gpu_class)."
    )


class ResourceNotInOrder(ReleaseDenied):
    code, guard = "resource_not_in_order", _RES
    hint = "Ask only for the keys of the order's engine and resources."


class KeyNotDeposited(ReleaseDenied):
    code, guard = "key_not_deposited", _POL
    hint = "The resource's owner has not deposited its key with this CA."
    http_status = 404


class PolicyExpired(ReleaseDenied):
    code, guard = "policy_expired", _POL
    hint = _ASK_OWNER


class PolicyEngineRefused(ReleaseDenied):
    code, guard = "policy_engine_refused", _POL
    hint = _ASK_OWNER


class PolicySimulatedRefused(ReleaseDenied):
    code, guard = "policy_simulated_tee_refused", _POL
    hint = _ASK_OWNER


class PolicyTeeRefused(ReleaseDenied):
    code, guard = "policy_tee_type_refused", _POL
    hint = _ASK_OWNER


class PolicyGpuRefused(ReleaseDenied):
    code, guard = "policy_gpu_refused", _POL
    hint = _ASK_OWNER


class PolicyMeasurementRefused(ReleaseDenied):
    code, guard = "policy_measurement_refused", _POL
    hint = _ASK_OWNER


class PolicyCustomerRefused(ReleaseDenied):
    code, guard = "policy_customer_refused", _POL
    hint = _ASK_OWNER


class UsesExhausted(ReleaseDenied):
    code, guard = "policy_uses_exhausted", _POL
    hint = _ASK_OWNER
    http_status = 409


class KeyUnwrapFailed(ReleaseDenied):
    code, guard = "key_unwrap_failed", "release"
    hint = "The CA cannot open the stored key (was its identity rotated?); tell its operator."
    http_status = 500


class NotOrderCustomer(BrokerError):
    code = "not_order_customer"
    hint = "Only the order's customer can deposit the key of its inputs."
    http_status = 403


class OrderNotOnChain(BrokerError):
    code = "order_not_on_chain"
    hint = "Deposit the inputs' key after the order's creation transaction is mined."
    http_status = 404


class OrderClosed(BrokerError):
    code = "order_closed"
    hint = "The order is finished or its inputs' key was already released; place a new order."
    http_status = 409


__all__ += ["NotOrderCustomer", "OrderNotOnChain", "OrderClosed"]


_SERVICE = "guard_service_live"


class ServiceNotFound(ReleaseDenied):
    code, guard = "service_not_found", _SERVICE
    hint = "Check the service id; a service exists once its startService transaction is mined."
    http_status = 404


class ServiceNotLive(ReleaseDenied):
    code, guard = "service_not_live", _SERVICE
    hint = "The service was stopped; start a new one to serve the model again."
    http_status = 409


class ServiceEnded(ReleaseDenied):
    code, guard = "service_ended", _SERVICE
    hint = "The service's lifetime is over; start a new one to serve the model again."
    http_status = 409


class ServiceProviderMismatch(ReleaseDenied):
    code, guard = "service_provider_mismatch", _SERVICE
    hint = "Only an enclave of the service's provider can obtain its model's key."


class ServiceTeeMismatch(ReleaseDenied):
    code, guard = "service_tee_type_mismatch", _SERVICE
    hint = "Run the service in the TEE type of its TEE offer."


class ServiceEnclaveMismatch(ReleaseDenied):
    code, guard = "service_enclave_mismatch", "guard_service_enclave"
    hint = (
        "The model's key goes only to the enclave the provider bound to the service on chain: "
        "bind this enclave (ServiceMarket.bindEnclave) first."
    )


class ServiceGpuMismatch(ReleaseDenied):
    code, guard = "service_gpu_mismatch", "guard_service_gpu"
    hint = (
        "The service's TEE offer promises a GPU: run it in an enclave certified with that GPU "
        "class (the certificate's gpu_class)."
    )


class ResourceNotServed(ReleaseDenied):
    code, guard = "resource_not_served", "guard_resource_served"
    hint = "A service enclave obtains the key of its service's model only."


class PolicyServingRefused(ReleaseDenied):
    code, guard = "policy_serving_refused", _POL
    hint = (
        "The model's owner has not allowed serving: they deposit the key again with "
        'allow_serving and allowed_customers "any" (the service decides whom it serves).'
    )


__all__ += [
    "ServiceNotFound",
    "ServiceNotLive",
    "ServiceEnded",
    "ServiceProviderMismatch",
    "ServiceTeeMismatch",
    "ServiceEnclaveMismatch",
    "ServiceGpuMismatch",
    "ResourceNotServed",
    "PolicyServingRefused",
]
