"""Errors of the attested channel to the CA. A client that meets any of them trusts nothing it got.

EnclavaError
└── CaLinkError                  ca_link_error
    ├── CaChannelInsecure        ca_channel_insecure      the URL is not https
    ├── CaUnreachable            ca_unreachable           no TLS connection, or no answer
    ├── CaIdentityMismatch       ca_identity_mismatch     report_data or the TLS key do not match
    │   ├── CaIdentityMalformed  ca_identity_malformed    GET /v1/ca is not the documented shape
    │   └── CaSignerUnexpected   ca_signer_unexpected     an attested CA, but not the signer
    │                                                     asked for
    └── CaEvidenceRefused        ca_evidence_refused      the verifier refused the CA's evidence
                                                          (``reason``: the verifier's own code)
"""

from __future__ import annotations

from enclava.errors import EnclavaError

__all__ = [
    "CaLinkError",
    "CaChannelInsecure",
    "CaUnreachable",
    "CaIdentityMismatch",
    "CaIdentityMalformed",
    "CaSignerUnexpected",
    "CaEvidenceRefused",
]


class CaLinkError(EnclavaError):
    code = "ca_link_error"
    hint = "The CA could not be trusted; nothing it answered was used."


class CaChannelInsecure(CaLinkError):
    code = "ca_channel_insecure"
    hint = (
        "The CA serves HTTPS only: use its https:// URL (`enclava devnet status` shows it on the "
        "devnet)."
    )


class CaUnreachable(CaLinkError):
    code = "ca_unreachable"
    hint = "Check the CA URL and that the CA is running (`enclava devnet status` on the devnet)."


class CaIdentityMismatch(CaLinkError):
    code = "ca_identity_mismatch"
    hint = (
        "Something between you and the CA answers in its place (or the CA's keys changed): do not "
        "use this connection; check the network path to the CA."
    )


class CaIdentityMalformed(CaIdentityMismatch):
    code = "ca_identity_malformed"
    hint = (
        "The CA's /v1/ca answer is not what this client understands; check the URL and the CA's "
        "version."
    )


class CaSignerUnexpected(CaIdentityMismatch):
    code = "ca_signer_unexpected"
    hint = (
        "The attested CA is not the one expected (another signer address); check which CA you "
        "configured."
    )


class CaEvidenceRefused(CaLinkError):
    """The caller's verifier refused the CA's evidence; ``reason`` is that verifier's error code."""

    code = "ca_evidence_refused"
    hint = (
        "The CA's attestation was refused (vendor chain, measurement not on the allow-list, or a "
        "simulated TEE without the insecure development flag); see the reason."
    )

    def __init__(self, message: str, *, reason: str = "unknown", hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.reason = reason
