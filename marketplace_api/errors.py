"""Errors the marketplace API answers with (one shape: ``{"type", "detail", "hint"}``).

Hierarchy::

    EnclavaError
    └── MarketError
        ├── NotSignedIn          401  no, expired or revoked session
        ├── SignInFailed         401  the SIWE message or its signature does not check out
        ├── NotOwner             403  the session's wallet does not own the listing
        ├── NotFound             404  unknown listing, offer, provider, order
        ├── ListingInvalid       422  metadata or listing fields refused
        ├── RelayFailed          502  the chain refused the relayed listing
        ├── RelayDisabled        503  no relayer account configured
        └── RateLimited          429  too many requests from this client
"""

from __future__ import annotations

from enclava.errors import EnclavaError

__all__ = ["MarketError", "NotSignedIn", "SignInFailed", "NotOwner", "NotFound", "ListingInvalid",
           "RelayFailed", "RelayDisabled", "RateLimited"]


class MarketError(EnclavaError):
    code = "market_error"


class NotSignedIn(MarketError):
    code = "not_signed_in"
    hint = "Sign in with your wallet: GET /v1/auth/nonce, sign the message, POST /v1/auth/verify."
    http_status = 401


class SignInFailed(MarketError):
    code = "sign_in_failed"
    hint = "Request a fresh nonce and sign the exact EIP-4361 message with the wallet it names."
    http_status = 401


class NotOwner(MarketError):
    code = "not_owner"
    hint = "Only the wallet that owns a listing on chain can change it; sign in with that wallet."
    http_status = 403


class NotFound(MarketError):
    code = "not_found"
    hint = "Check the id; new chain events appear after the indexer has caught up."
    http_status = 404


class ListingInvalid(MarketError):
    code = "listing_invalid"
    hint = "Fix the listing fields named in the detail."
    http_status = 422


class RelayFailed(MarketError):
    code = "relay_failed"
    hint = "Check the signature (EIP-712 ListResource with your current nonce) and the deadline."
    http_status = 502


class RelayDisabled(MarketError):
    code = "relay_disabled"
    hint = "Set MARKET_RELAYER_KEY to a funded account to relay listings."
    http_status = 503


class RateLimited(MarketError):
    code = "rate_limited"
    hint = "Slow down; retry after the number of seconds in the Retry-After header."
    http_status = 429
