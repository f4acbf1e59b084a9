"""Verification of simulated TDX evidence: the TDX code path, rooted in the development PKI.

INSECURE BY DESIGN, for development only. The development root's keys derive from a public seed
(``enclava.attestation.devpki``), so anyone can mint evidence it accepts. It is therefore trusted
only by a verifier constructed with ``insecure_allow_simulated_tee=True``; without the flag every
simulated evidence is refused with ``SimulatedTeeRefusedError`` before a byte of it is parsed.
Accepted claims are marked ``simulated=True`` and TEE type SIMULATED, so certificates issued on
them are visibly simulated and production policy refuses them.
"""

from __future__ import annotations

import dataclasses
import logging

from enclava.attestation.devpki import development_root_der
from enclava.attestation.errors import EvidenceFormatError, SimulatedTeeRefusedError
from enclava.attestation.evidence import Evidence
from enclava.attestation.verifiers.base import VerifiedClaims
from enclava.attestation.verifiers.tdx import TdxVerifier
from enclava.protocol.tee import TeeType

__all__ = ["SimulatedTdxVerifier"]

log = logging.getLogger(__name__)


class SimulatedTdxVerifier:
    tee_type = TeeType.SIMULATED

    def __init__(self, *, insecure_allow_simulated_tee: bool = False) -> None:
        self.insecure_allow_simulated_tee = insecure_allow_simulated_tee is True
        self._tdx = (
            TdxVerifier(root_ca_der=development_root_der())
            if self.insecure_allow_simulated_tee
            else None
        )
        if self._tdx is not None:
            log.warning("INSECURE: simulated TEE evidence (development PKI) will be accepted")

    def verify_evidence(self, evidence: Evidence, *, now: int) -> VerifiedClaims:
        if self._tdx is None:
            raise SimulatedTeeRefusedError(
                "simulated TEE evidence is refused: this verifier was not "
                "constructed with insecure_allow_simulated_tee=True"
            )
        if evidence.tee_type is not TeeType.SIMULATED:
            raise EvidenceFormatError(
                f"the simulated verifier was given {evidence.tee_type.wire_name} evidence"
            )
        claims = self._tdx.verify_quote(evidence.quote, evidence.collateral, now=now)
        return dataclasses.replace(claims, tee_type=TeeType.SIMULATED, simulated=True)
