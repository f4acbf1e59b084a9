"""How a client trusts this CA: its evidence verified against the chain's allow-list, its signer an
active CA signer of the attestation registry, its TLS key pinned (``enclava.ca_link``).

``connect_chain_ca`` is for any deployment; ``connect_devnet_ca`` reads a devnet manifest and allows
the simulated TEE, because a devnet has no hardware (its CA's evidence is then verified by the same
code under the development root, and its measurement must still be on the devnet's allow-list).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from enclava.attestation.verifiers import ca_evidence_verifier
from enclava.ca_link.channel import AttestedCa, EvidenceCheck, connect_attested_ca
from enclava.ca_link.errors import CaSignerUnexpected
from enclava.chain.allowlist import OnChainAllowList
from enclava.chain.config import ChainConfig
from enclava.chain.contracts import ContractSet
from enclava.errors import ChainError

if TYPE_CHECKING:
    from enclava.chain.config import Manifest

__all__ = ["chain_ca_verifier", "connect_chain_ca", "connect_devnet_ca", "CA_SIGNER_ACTIVE"]

CA_SIGNER_ACTIVE = 1  # IAttestationRegistry.CaStatus.ACTIVE


def _require_active_signer(ca: AttestedCa, contracts: ContractSet) -> None:
    try:
        status = int(contracts.attestation_registry.functions.caStatus(ca.signer_address).call())
    except Exception as exc:  # noqa: BLE001 - web3's many errors: fail closed, keep the cause
        raise ChainError(
            f"cannot read the CA signer's status on chain ({type(exc).__name__})"
        ) from exc
    if status != CA_SIGNER_ACTIVE:
        raise CaSignerUnexpected(
            f"the attested CA's signer {ca.signer_address} is not an active CA signer "
            "of the attestation registry"
        )


def chain_ca_verifier(
    contracts: ContractSet, *, insecure_allow_simulated_tee: bool = False
) -> EvidenceCheck:
    """The check of a CA's evidence: the CA pipeline, its measurement on ``contracts``'
    allow-list."""
    return ca_evidence_verifier(
        OnChainAllowList(contracts), insecure_allow_simulated_tee=insecure_allow_simulated_tee
    )


def connect_chain_ca(
    url: str,
    contracts: ContractSet,
    *,
    insecure_allow_simulated_tee: bool = False,
    expected_signer: str | None = None,
    timeout: float = 30.0,
) -> AttestedCa:
    """The CA at ``url``, attested against ``contracts``' allow-list, its signer active on chain."""
    verify = chain_ca_verifier(contracts, insecure_allow_simulated_tee=insecure_allow_simulated_tee)
    ca = connect_attested_ca(
        url, verify_evidence=verify, expected_signer=expected_signer, timeout=timeout
    )
    try:
        _require_active_signer(ca, contracts)
    except BaseException:
        ca.close()
        raise
    return ca


def connect_devnet_ca(manifest: Manifest, *, timeout: float = 30.0) -> AttestedCa:
    """The devnet's CA (``manifest.services["ca"]``), simulated TEE allowed: development only."""
    _, contracts = ChainConfig.from_manifest(manifest).connect()
    return connect_chain_ca(
        manifest.services["ca"].url, contracts, insecure_allow_simulated_tee=True, timeout=timeout
    )
