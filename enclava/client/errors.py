"""The client library's errors: what a customer or an owner meets talking to the services.

EnclavaError
├── BrokerUnavailable            the CA's key broker cannot be reached
├── BrokerRefused                the key broker refused the request (its wire type is kept)
├── MarketApiUnavailable         the marketplace API cannot be reached
├── MarketApiRefused             the marketplace API refused the request (its wire type is kept)
│   └── ListingMismatch          the listing the API prepared is not the one asked for: unsigned
├── TailUnavailable              the model owner's tail service cannot be reached
├── TailRefused                  the tail refused the activations (its wire type is kept)
├── OrderWaitTimeout             the order did not finish while we waited
├── OrderFailedError             the order ended failed, timed out or cancelled (refunded)
├── PreflightRefused             before paying: the order as given would revert or fail
│   ├── ResourceKindMismatch     a resource of the wrong kind (a weights id as the engine, ...)
│   ├── ResourceUnavailable      a resource is unknown, inactive or retired
│   ├── WeightsMissing           the engine's listing names weights the order does not include
│   ├── WeightsForAnotherEngine  a given weights listing names another engine
│   ├── InputSchemaMismatch      an input file does not match the engine's declared input schema
│   ├── PolicyRefused            an owner's key policy refuses this customer or this TEE offer
│   ├── TeeOfferNotAvailable     the TEE offer is unknown, paused or retired
│   └── TeeOfferFull             every slot of the TEE offer is taken
├── AuditLogTampered             the CA's audit log no longer holds what it held when last read
│   ├── AuditLogRewound          it is shorter than, or no longer holds, the head seen last time
│   └── AuditLogEdited           an entry or a link no longer matches its hash
├── AuditHeadsUnreadable         the file of remembered audit heads is not what `audit` wrote
└── FheError                     (``enclava.fhe.errors``)
    ├── DecryptModeNotAllowed    the model's policy does not list this decryption mode
    └── FheListingInvalid        the model's public FHE manifest is missing or malformed
"""

from __future__ import annotations

from enclava.errors import EnclavaError
from enclava.fhe.errors import FheError

__all__ = [
    "BrokerUnavailable",
    "BrokerRefused",
    "MarketApiUnavailable",
    "MarketApiRefused",
    "ListingMismatch",
    "TailUnavailable",
    "TailRefused",
    "OrderWaitTimeout",
    "OrderFailedError",
    "PreflightRefused",
    "ResourceKindMismatch",
    "ResourceUnavailable",
    "WeightsMissing",
    "WeightsForAnotherEngine",
    "InputSchemaMismatch",
    "PolicyRefused",
    "TeeOfferNotAvailable",
    "TeeOfferFull",
    "AuditLogTampered",
    "AuditLogRewound",
    "AuditLogEdited",
    "AuditHeadsUnreadable",
    "DecryptModeNotAllowed",
    "FheListingInvalid",
]


class BrokerUnavailable(EnclavaError):
    code = "broker_unavailable"
    hint = "Check the CA URL (`enclava devnet status` on the devnet)."


class BrokerRefused(EnclavaError):
    code = "broker_refused"
    hint = "Read the detail: the broker says which check refused the request."


class MarketApiUnavailable(EnclavaError):
    code = "market_api_unavailable"
    hint = "Check the marketplace URL; on the devnet run `enclava devnet status`."


class MarketApiRefused(EnclavaError):
    code = "market_api_refused"
    hint = "Read the detail: the marketplace says which field or check refused the request."


class ListingMismatch(MarketApiRefused):
    code = "listing_mismatch"
    hint = "Use a marketplace URL you trust (the devnet manifest names it)."


class TailUnavailable(EnclavaError):
    code = "tail_unavailable"
    hint = "The model owner's tail service cannot be reached; retry later or ask the owner."


class TailRefused(EnclavaError):
    code = "tail_refused"
    hint = "Read the detail: the tail says which check refused the activations."


class OrderWaitTimeout(EnclavaError):
    code = "order_wait_timeout"
    hint = "The order is still running; check it later with `enclava order status`."


class OrderFailedError(EnclavaError):
    code = "order_failed"
    hint = "The escrow was refunded; `enclava balance withdraw` collects it."


class PreflightRefused(EnclavaError):
    """Found by `order create` before anything is uploaded or paid (:mod:`.preflight`)."""

    code = "preflight_refused"
    hint = "Nothing was uploaded or paid; fix the order as the detail says and run it again."


class ResourceKindMismatch(PreflightRefused):
    code = "resource_kind_mismatch"
    hint = "Pass the engine's id to --engine and model or dataset ids to --resource."


class ResourceUnavailable(PreflightRefused):
    code = "resource_unavailable"
    hint = "Check the resource id in the catalogue (`/v1/catalogue` or the marketplace pages)."


class WeightsMissing(PreflightRefused):
    code = "weights_missing"
    hint = "Add the engine's weights with --resource (the engine's listing names them)."


class WeightsForAnotherEngine(PreflightRefused):
    code = "weights_for_another_engine"
    hint = "Use the weights listed for this engine, or the engine these weights are for."


class InputSchemaMismatch(PreflightRefused):
    code = "input_schema_mismatch"
    hint = "Make the input file match the engine's input schema (shown on its listing)."


class PolicyRefused(PreflightRefused):
    code = "policy_refused"
    hint = "The owner's key policy would refuse the keys: choose another TEE offer, or ask them."


class TeeOfferNotAvailable(PreflightRefused):
    code = "tee_offer_not_available"
    hint = "Choose an active TEE offer (`/v1/tee-offers` on the marketplace)."


class TeeOfferFull(PreflightRefused):
    code = "tee_offer_full"
    hint = "Every slot of this TEE offer is running an order: choose another offer or retry later."


class AuditLogTampered(EnclavaError):
    """``seq``: the first chain position that does not hold what it should (None if unknown)."""

    code = "audit_log_tampered"
    hint = (
        "Do not trust this CA's key releases: keep the saved head file and this output as "
        "evidence and report it to the CA's operator. Only if you reset the devnet yourself "
        "(a new CA, a new log), run `enclava audit RESOURCE --forget` to start anew."
    )

    def __init__(self, message: str, *, seq: int | None = None, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.seq = seq


class AuditLogRewound(AuditLogTampered):
    code = "audit_log_rewound"


class AuditLogEdited(AuditLogTampered):
    code = "audit_log_edited"


class AuditHeadsUnreadable(EnclavaError):
    code = "audit_heads_unreadable"
    hint = (
        "The file of remembered audit heads was changed by hand or is damaged: restore it from a "
        "backup, or delete it to start anew (a rewound log is then no longer detected)."
    )


class DecryptModeNotAllowed(FheError):
    code = "fhe_decrypt_mode_not_allowed"
    hint = "Pick a decryption mode the model's policy lists (`decrypt_modes` in its FHE manifest)."


class FheListingInvalid(FheError):
    code = "fhe_listing_invalid"
    hint = "Ask the model owner to republish the listing."
