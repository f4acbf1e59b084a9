"""Errors the marketplace API answers with (one shape: ``{"type", "detail", "hint"}``).

Hierarchy::

    EnclavaError
    ├── MarketError
    │   ├── AddressInvalid              400  not an Ethereum address
    │   ├── NotSignedIn                 401  no, expired or revoked session
    │   │   └── SessionExpired          401  the session's time is up
    │   ├── SignInFailed                401  the SIWE message or its signature does not check out
    │   │   ├── NonceInvalid            401  the nonce is unknown, expired or already used
    │   │   └── SignInExpired           401  the SIWE message's expiration time has passed
    │   ├── NotOwner                    403  the session's wallet does not own the listing
    │   ├── NotFound                    404  unknown listing, TEE offer, provider, order
    │   │   └── ServiceUnknown          404  no such confidential-serving service indexed
    │   ├── ListingInvalid              422  metadata or listing fields refused
    │   │   └── TailUrlRefused          422  tail_url not https, or not public
    │   ├── RelayFailed                 502  the chain refused the relayed listing
    │   ├── TailUnavailable             502  the listing's tail service does not answer usefully
    │   │   └── TailDestinationRefused  502  tail_url reaches a refused address
    │   ├── RelayDisabled               503  no relayer account configured
│   ├── AuditRequestInvalid         422  the signed audit read is for another resource
│   ├── AuditUnavailable            503  no CA configured, or it cannot be reached or trusted
│   ├── AuditRefused                502  the CA refused the owner's signed audit read
│   ├── AuditLogInvalid             502  the CA's audit view does not verify as one hash chain
    │   └── RateLimited                 429  too many requests from this client
    └── ConfigError
        ├── SiweNotConfigured                MARKET_SIWE_DOMAIN / _URI missing or bad
        └── TrustedProxiesInvalid            a MARKET_TRUSTED_PROXIES entry is invalid
"""

from __future__ import annotations

from enclava.errors import ConfigError, EnclavaError

__all__ = [
    "MarketError",
    "AddressInvalid",
    "NotSignedIn",
    "SessionExpired",
    "SignInFailed",
    "NonceInvalid",
    "SignInExpired",
    "NotOwner",
    "NotFound",
    "ServiceUnknown",
    "ListingInvalid",
    "TailUrlRefused",
    "RelayFailed",
    "TailUnavailable",
    "TailDestinationRefused",
    "RelayDisabled",
    "RateLimited",
    "AuditRequestInvalid",
    "AuditUnavailable",
    "AuditRefused",
    "AuditLogInvalid",
    "SiweNotConfigured",
    "TrustedProxiesInvalid",
]


class MarketError(EnclavaError):
    code = "market_error"


class AddressInvalid(MarketError):
    code = "invalid_address"
    hint = "Pass your wallet address as 0x followed by 40 hex digits."
    http_status = 400


class NotSignedIn(MarketError):
    code = "not_signed_in"
    hint = "Sign in with your wallet: GET /v1/auth/nonce, sign the message, POST /v1/auth/verify."
    http_status = 401


class SessionExpired(NotSignedIn):
    code = "session_expired"


class SignInFailed(MarketError):
    code = "sign_in_failed"
    hint = "Request a fresh nonce and sign the exact EIP-4361 message with the wallet it names."
    http_status = 401


class NonceInvalid(SignInFailed):
    code = "nonce_invalid"
    hint = "Request a fresh nonce from GET /v1/auth/nonce and sign again."


class SignInExpired(SignInFailed):
    code = "sign_in_expired"


class NotOwner(MarketError):
    code = "not_owner"
    hint = "Only the wallet that owns a listing on chain can change it; sign in with that wallet."
    http_status = 403


class NotFound(MarketError):
    code = "not_found"
    hint = "Check the id; new chain events appear after the indexer has caught up."
    http_status = 404


class ServiceUnknown(NotFound):
    code = "service_not_found"
    hint = (
        "Check the service id (0x + 64 hex digits, from the ServiceStarted event or GET "
        "/v1/services); a service started a moment ago appears once the indexer has caught up."
    )


class ListingInvalid(MarketError):
    code = "listing_invalid"
    hint = "Fix the listing fields named in the detail."
    http_status = 422


class TailUrlRefused(ListingInvalid):
    code = "tail_url_refused"
    hint = (
        "A tail_url must be an https:// base URL (no credentials, query or fragment) whose host"
        " resolves only "
        "to public addresses: no loopback, private, link-local, multicast, reserved or metadata"
        " address."
    )


class RelayFailed(MarketError):
    code = "relay_failed"
    hint = "Check the signature (EIP-712 ListResource with your current nonce) and the deadline."
    http_status = 502


class TailUnavailable(MarketError):
    code = "tail_unavailable"
    hint = "The model owner's tail service does not answer; retry later or contact the owner."
    http_status = 502


class TailDestinationRefused(TailUnavailable):
    code = "tail_destination_refused"
    hint = (
        "The listing's tail_url leads to an address this marketplace never forwards to (not "
        "https, or not a "
        "public address); the model's owner must set an https tail on a public address."
    )


class RelayDisabled(MarketError):
    code = "relay_disabled"
    hint = "Set MARKET_RELAYER_KEY to a funded account to relay listings."
    http_status = 503


class RateLimited(MarketError):
    code = "rate_limited"
    hint = "Slow down; retry after the number of seconds in the Retry-After header."
    http_status = 429


class AuditRequestInvalid(MarketError):
    code = "audit_request_invalid"
    hint = (
        "Sign the request GET /v1/resources/{id}/audit/request prepares, and post it to the same "
        "resource's URL."
    )
    http_status = 422


class AuditUnavailable(MarketError):
    code = "audit_unavailable"
    hint = (
        "The marketplace cannot reach a CA it trusts: set MARKET_CA_URL (or MARKET_MANIFEST), "
        "check the CA is up, or read your log with `enclava audit RESOURCE`."
    )
    http_status = 503


class AuditRefused(MarketError):
    code = "audit_refused"
    hint = "Read the detail: the CA says which check refused the signed audit read."
    http_status = 502


class AuditLogInvalid(MarketError):
    code = "audit_log_invalid"
    hint = (
        "The CA's audit log was edited or rewound: do not trust its releases; compare with "
        "`enclava audit RESOURCE`, which checks it against the head you saw last time."
    )
    http_status = 502


class SiweNotConfigured(ConfigError):
    code = "siwe_not_configured"
    hint = (
        "Set MARKET_SIWE_DOMAIN to the host (and port) users sign in at, e.g. "
        "market.example.com, and "
        "MARKET_SIWE_URI to the site's URI, e.g. https://market.example.com; sign-in messages "
        "must name both."
    )


class TrustedProxiesInvalid(ConfigError):
    code = "trusted_proxies_invalid"
    hint = (
        "Set MARKET_TRUSTED_PROXIES to a JSON list of addresses or CIDR networks, "
        'e.g. ["10.0.0.0/8"].'
    )
