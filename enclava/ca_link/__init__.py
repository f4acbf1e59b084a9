"""The attested channel to the CA: trust the CA only after its own attestation vouches for the TLS
key it answers with, then pin that key.

- :mod:`.identity`  ``CaIdentity`` (what ``GET /v1/ca`` answers) and ``bind_ca_identity`` (the
                    report_data the CA's evidence must hold), shared by the CA and its clients
- :mod:`.channel`   ``connect_attested_ca`` and the pinned ``AttestedCa`` it returns
- :mod:`.chain_ca`  ``connect_chain_ca`` / ``connect_devnet_ca``: the channel with the CA's
                    evidence checked against the on-chain allow-list and its signer active on chain
- :mod:`.errors`    ``CaChannelInsecure``, ``CaUnreachable``, ``CaIdentityMismatch``,
                    ``CaEvidenceRefused`` and their leaves

The evidence verifier is the caller's: ``enclava.attestation.verifiers.ca_evidence_verifier``
runs the CA's own pipeline (vendor chain, measurement on the on-chain allow-list) on it.
"""

from enclava.ca_link.channel import AttestedCa, EvidenceCheck, connect_attested_ca
from enclava.ca_link.errors import (
    CaChannelInsecure,
    CaEvidenceRefused,
    CaIdentityMalformed,
    CaIdentityMismatch,
    CaLinkError,
    CaSignerUnexpected,
    CaUnreachable,
)
from enclava.ca_link.identity import (
    CA_IDENTITY_DOMAIN,
    CA_NONCE_BYTES,
    CaIdentity,
    bind_ca_identity,
    spki_sha256,
)

__all__ = [
    "AttestedCa",
    "EvidenceCheck",
    "connect_attested_ca",
    "CaIdentity",
    "bind_ca_identity",
    "spki_sha256",
    "CA_IDENTITY_DOMAIN",
    "CA_NONCE_BYTES",
    "CaLinkError",
    "CaChannelInsecure",
    "CaUnreachable",
    "CaIdentityMismatch",
    "CaIdentityMalformed",
    "CaSignerUnexpected",
    "CaEvidenceRefused",
]
