"""The provider node's errors: a wallet setting it cannot use, and what can go wrong between the
node and its trusted loader.

    EnclavaError
    ├── ConfigError
    │   └── ProviderWalletInvalid        the provider's wallet setting cannot be used
    └── LoaderLinkError                  the loader process cannot be started or reached
        ├── LoaderUnavailable            (also a TransientError) the loader, or the chain / CA
        │   │                            behind it, is unreachable for now: the job is retried
        │   └── LoaderCertificationRequired  the enclave's certificate lapsed: renew, then retry
        └── LoaderRefused                the loader refused the request (its wire type is kept)

Order-level failures are not errors here: they come back from the loader as signed failures. The
loader's answers (``{"type", "detail"}`` with a status) become these classes in one place,
:func:`provider_node.loader_link.loader_error`; everything after decides by class.
"""

from __future__ import annotations

from enclava.errors import ConfigError, EnclavaError, TransientError

__all__ = [
    "ProviderWalletInvalid",
    "LoaderLinkError",
    "LoaderUnavailable",
    "LoaderCertificationRequired",
    "LoaderRefused",
]


class ProviderWalletInvalid(ConfigError):
    code = "provider_wallet_invalid"
    hint = (
        "Set wallet (a keystore made by `enclava wallet new`) with PROVIDER_WALLET_PASSWORD or a "
        "readable wallet_password_file; or private_key; not both."
    )


class LoaderLinkError(EnclavaError):
    code = "loader_link_error"
    hint = "Check the trusted loader's log (loader-*.log in the provider's state folder)."


class LoaderUnavailable(LoaderLinkError, TransientError):
    code = "loader_unavailable"
    hint = (
        "The trusted loader, or the chain or CA it needs, is unreachable; the job is retried "
        "with back-off."
    )


class LoaderCertificationRequired(LoaderUnavailable):
    code = "loader_certification_required"
    hint = (
        "The enclave has no fresh certificate; the node renews it (consent, certify) and retries."
    )


class LoaderRefused(LoaderLinkError):
    code = "loader_refused"
    hint = "The trusted loader refused the request; its reason is in the message."

    def __init__(self, message: str, *, remote_type: str = "", hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.remote_type = remote_type
