"""The provider node's errors: what can go wrong between the node and its trusted loader.

    EnclavaError
    └── LoaderLinkError              the loader process cannot be started or reached (retried)
        ├── LoaderUnavailable        the loader, or the chain / CA behind it, is unreachable for now
        └── LoaderRefused            the loader refused the request (its typed reason is kept)

Order-level failures are not errors here: they come back from the loader as signed failures.
"""

from __future__ import annotations

from enclava.errors import EnclavaError

__all__ = ["LoaderLinkError", "LoaderUnavailable", "LoaderRefused"]


class LoaderLinkError(EnclavaError):
    code = "loader_link_error"
    hint = "Check the trusted loader's log (loader-*.log in the provider's state folder)."


class LoaderUnavailable(LoaderLinkError):
    code = "loader_unavailable"
    hint = "The trusted loader, or the chain or CA it needs, is unreachable; the job is retried with back-off."


class LoaderRefused(LoaderLinkError):
    code = "loader_refused"
    hint = "The trusted loader refused the request; its reason is in the message."

    def __init__(self, message: str, *, remote_type: str = "", **kwargs) -> None:
        super().__init__(message, **kwargs)
        self.remote_type = remote_type
