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


class DecryptModeNotAllowed(FheError):
    code = "fhe_decrypt_mode_not_allowed"
    hint = "Pick a decryption mode the model's policy lists (`decrypt_modes` in its FHE manifest)."


class FheListingInvalid(FheError):
    code = "fhe_listing_invalid"
    hint = "Ask the model owner to republish the listing."
