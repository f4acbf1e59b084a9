"""The verifier a client hands to ``enclava.ca_link.connect_attested_ca``: the CA's own evidence
goes
through the very pipeline the CA runs on enclaves (the TEE's vendor verifier, then debug, TCB status
and the measurement allow-list), with report_data checked against the client's own binding."""

from __future__ import annotations

from collections.abc import Callable

from enclava.attestation.evidence import Evidence
from enclava.attestation.verifiers.allowlist import MeasurementAllowList
from enclava.attestation.verifiers.base import TcbPolicy, VerifiedClaims
from enclava.attestation.verifiers.pipeline import EvidenceVerifier

__all__ = ["ca_evidence_verifier"]


def ca_evidence_verifier(
    allow_list: MeasurementAllowList,
    *,
    insecure_allow_simulated_tee: bool = False,
    tcb_policy: TcbPolicy | None = None,
) -> Callable[[Evidence, bytes], VerifiedClaims]:
    """``verify(evidence, expected_report_data) -> VerifiedClaims``, raising the pipeline's typed
    refusals.

    ``allow_list``: where the CA's measurement must be listed (on chain:
    ``enclava.chain.allowlist.OnChainAllowList``).
    Simulated evidence is refused unless ``insecure_allow_simulated_tee`` (development devnets
    only).
    """
    pipeline = EvidenceVerifier(
        allow_list=allow_list,
        nonce_store=None,
        tcb_policy=tcb_policy,
        insecure_allow_simulated_tee=insecure_allow_simulated_tee,
    )

    def verify(evidence: Evidence, expected_report_data: bytes) -> VerifiedClaims:
        return pipeline.verify_bound(evidence, report_data=expected_report_data)

    return verify
