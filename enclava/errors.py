"""Enclava's error types: every failure a person can meet has a stable code and a hint.

Hierarchy (each package adds its own leaves in its own ``errors.py``)::

    EnclavaError                     code, hint; the base every boundary translates into
    ├── ConfigError                  missing or invalid configuration
    ├── ToolchainError               a required program (anvil, ipfs, redis-server, solc) is missing
    ├── DevnetError                  the local devnet cannot start, is not running, or is unhealthy
    ├── StorageError                 the content store (Kubo) failed
    │   ├── StorageUnavailable       the IPFS API cannot be reached
    │   ├── ContentNotFound          a CID is unknown or not retrievable
    │   └── IntegrityError           downloaded bytes do not match the expected CID or SHA-256
    ├── TransientError               trouble worth a retry with back-off: a service this one
    │   │                            needs is unreachable for now (loader, CA, chain); services
    │   │                            and workers decide "retry or fail the order" by this type
    │   └── ChainError               the EVM node failed or refused a transaction (the final
    │                                refusals are ``enclava.chain.errors.ChainRefused``)
    ├── ProtocolError                a wire message is malformed or refused
    │                                (``enclava.protocol.errors``: the key-release request, the
    │                                CA's signed answer)
    └── CaLinkError                  the CA cannot be trusted over its attested channel
                                     (``enclava.ca_link.errors``: insecure URL, unreachable,
                                     identity mismatch, evidence refused)

Outside errors (requests, web3, cryptography, ...) are translated at the boundary with
``raise SomeEnclavaError(...) from exc`` so callers handle one family of exceptions.
"""

from __future__ import annotations

__all__ = [
    "EnclavaError",
    "ConfigError",
    "ToolchainError",
    "DevnetError",
    "StorageError",
    "StorageUnavailable",
    "ContentNotFound",
    "IntegrityError",
    "TransientError",
    "ChainError",
]


class EnclavaError(Exception):
    """Base error: ``code`` is stable (for programs and tests), ``hint`` says what to do.

    ``code`` is a class attribute: a distinct failure is a distinct subclass, and callers decide by
    its type, never by matching the string. A raise site may give a more precise ``hint``.
    """

    code: str = "enclava_error"
    hint: str = "See the logs for details."
    #: the HTTP status a service answers this error with (400 unless a subclass says otherwise)
    http_status: int = 400
    #: set when the error relays another service's refusal (``enclava.service_http.refusal``):
    #: that service's error type and HTTP status
    remote_type: str | None = None
    status_code: int | None = None

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if hint is not None:
            self.hint = hint

    def to_dict(self) -> dict[str, str]:
        """The one error shape services answer with: ``{"type", "detail", "hint"}``."""
        return {"type": self.code, "detail": self.message, "hint": self.hint}

    def __str__(self) -> str:
        return f"{self.message} (hint: {self.hint})"


class ConfigError(EnclavaError):
    code = "config_error"
    hint = "Check the configuration file and the environment variables it names."


class ToolchainError(EnclavaError):
    code = "toolchain_missing"
    hint = "Run `make bootstrap` to install the project's tools."


class DevnetError(EnclavaError):
    code = "devnet_error"
    hint = "Run `enclava devnet status` and `enclava devnet logs`; `enclava devnet up` starts it."


class StorageError(EnclavaError):
    code = "storage_error"
    hint = "Check that the IPFS node is running (`enclava devnet status`)."


class StorageUnavailable(StorageError):
    code = "storage_unavailable"


class ContentNotFound(StorageError):
    code = "content_not_found"
    hint = "Check the CID; the content may never have been uploaded or may have been unpinned."


class IntegrityError(StorageError):
    code = "integrity_error"
    hint = "The content was altered or corrupted; do not use it. Re-upload it from the original."


class TransientError(EnclavaError):
    """Trouble worth a retry with back-off rather than failing the order (a marker base: the loader
    answers it with 503, the provider node releases the job for a retry)."""

    code = "transient_error"
    hint = "A service this one needs is unreachable for now; it is retried with back-off."


class ChainError(TransientError):
    code = "chain_error"
    hint = "Check that the chain RPC is reachable and the account is funded."
