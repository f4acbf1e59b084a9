"""The CA's one entry point for evidence: pick the TEE's verifier, verify, then run the guards.

``EvidenceVerifier.verify`` always runs, in this order:

0. ``select_verifier``      a verifier exists for the evidence's TEE type; simulated evidence only
                            with ``insecure_allow_simulated_tee=True``
1. vendor verification      the TEE module (tdx, sev_snp, simulated) checks signatures and chains
2. GPU verification         each of ``evidence.gpus`` by the GPU verifier, which must find the CA
                            nonce signed in its SPDM report: NVIDIA's pinned roots for TDX and
                            SEV-SNP evidence, the development roots only for simulated CPU evidence
                            (a simulated GPU beside a real CPU TEE is refused,
                            ``SimulatedGpuRefusedError``); the claims land in ``claims.gpus``
3. the guards of ``guards.GUARDS``: binding (with the GPU evidence digest), nonce, debug, GPU debug
   and CC mode, TCB status, allow-list

``EvidenceVerifier.verify_bound`` checks a *peer's* evidence (the CA's own, asked for by a client
with a fresh nonce) through the same steps 0 and 1 and ``guards.CHANNEL_GUARDS``: the report_data
must be exactly the binding the client computed, then debug, TCB status and the allow-list. That
binding has no room for GPUs, so channel evidence carrying any is refused
(``GpuEvidenceUnexpectedError``) rather than half-checked.

Every refusal is an ``EnclavaError`` subclass with its own ``code``; it is logged with that code and
the TEE type only (no key material) and re-raised for the service to answer and audit.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING

from enclava.attestation.binding import NONCE_LENGTH
from enclava.attestation.errors import (
    EvidenceFormatError,
    SimulatedTeeRefusedError,
    UnsupportedTeeError,
)
from enclava.attestation.evidence import Evidence
from enclava.attestation.gpu.evidence import gpu_evidence_digest
from enclava.attestation.verifiers.allowlist import MeasurementAllowList
from enclava.attestation.verifiers.base import (
    TcbPolicy,
    VerificationResult,
    VerifiedClaims,
    Verifier,
)
from enclava.attestation.verifiers.gpu import (
    GpuEvidenceUnexpectedError,
    GpuEvidenceVerifier,
    SimulatedGpuRefusedError,
    default_gpu_verifier,
    default_simulated_gpu_verifier,
)
from enclava.attestation.verifiers.guards import (
    CHANNEL_GUARDS,
    ChannelContext,
    GuardContext,
    run_guards,
)
from enclava.attestation.verifiers.nonces import NonceStore
from enclava.attestation.verifiers.sev_snp import SevSnpVerifier
from enclava.attestation.verifiers.simulated import SimulatedTdxVerifier
from enclava.attestation.verifiers.tdx import TdxVerifier
from enclava.errors import ConfigError, EnclavaError
from enclava.protocol.tee import TeeType

if TYPE_CHECKING:
    from enclava.attestation.gpu.claims import GpuClaims

__all__ = ["EvidenceVerifier", "default_verifiers"]

log = logging.getLogger(__name__)


def default_verifiers(*, insecure_allow_simulated_tee: bool = False) -> dict[TeeType, Verifier]:
    """Intel-rooted TDX (quote v4 and v5), SEV-SNP pinned to AMD's Milan, Genoa and Turin ARKs, and
    simulated TDX (refusing unless the flag is set)."""
    return {
        TeeType.TDX: TdxVerifier(),
        TeeType.SEV_SNP: SevSnpVerifier(),
        TeeType.SIMULATED: SimulatedTdxVerifier(
            insecure_allow_simulated_tee=insecure_allow_simulated_tee
        ),
    }


class EvidenceVerifier:
    """``nonce_store`` may be None only for a verifier of peers' evidence (``verify_bound``).

    ``gpu_verifier`` checks GPUs beside a real CPU TEE (default: NVIDIA's pinned roots);
    ``simulated_gpu_verifier`` those beside simulated CPU evidence (default: the development roots),
    used only with ``insecure_allow_simulated_tee``. Both are built on first use.
    """

    def __init__(
        self,
        *,
        allow_list: MeasurementAllowList,
        nonce_store: NonceStore | None,
        tcb_policy: TcbPolicy | None = None,
        insecure_allow_simulated_tee: bool = False,
        verifiers: Mapping[TeeType, Verifier] | Iterable[Verifier] | None = None,
        clock: Callable[[], float] = time.time,
        gpu_verifier: GpuEvidenceVerifier | None = None,
        simulated_gpu_verifier: GpuEvidenceVerifier | None = None,
    ) -> None:
        self.insecure_allow_simulated_tee = insecure_allow_simulated_tee is True
        if verifiers is None:
            verifiers = default_verifiers(
                insecure_allow_simulated_tee=self.insecure_allow_simulated_tee
            )
        elif not isinstance(verifiers, Mapping):
            verifiers = {verifier.tee_type: verifier for verifier in verifiers}
        mismatched = [
            tee.wire_name for tee, verifier in verifiers.items() if verifier.tee_type is not tee
        ]
        if mismatched:
            raise ConfigError(
                f"verifiers registered under another TEE type than their own: {mismatched}"
            )
        self._verifiers: dict[TeeType, Verifier] = dict(verifiers)
        self._allow_list, self._nonce_store = allow_list, nonce_store
        self._tcb_policy, self._clock = tcb_policy or TcbPolicy(), clock
        self._gpu_verifier, self._simulated_gpu_verifier = gpu_verifier, simulated_gpu_verifier

    def select_verifier(self, evidence: Evidence) -> Verifier:
        if not isinstance(evidence, Evidence):
            raise EvidenceFormatError("expected an Evidence envelope")
        if evidence.tee_type is TeeType.SIMULATED and not self.insecure_allow_simulated_tee:
            raise SimulatedTeeRefusedError(
                "simulated TEE evidence is refused: the CA was not started with "
                "insecure_allow_simulated_tee=True"
            )
        verifier = self._verifiers.get(evidence.tee_type)
        if verifier is None:
            raise UnsupportedTeeError(
                f"this CA has no verifier for {evidence.tee_type.wire_name} evidence"
            )
        return verifier

    def verify(
        self,
        evidence: Evidence,
        *,
        nonce: bytes,
        enclave_public_key_der: bytes,
        now: int | None = None,
    ) -> VerificationResult:
        """Verify ``evidence`` for the CA ``nonce`` and the enclave key it must bind; raise on any
        refusal."""
        when = int(self._clock()) if now is None else now
        tee = evidence.tee_type.wire_name if isinstance(evidence, Evidence) else "unknown"
        if self._nonce_store is None:
            raise ConfigError(
                "this verifier has no nonce store: it checks peers' evidence only (verify_bound)"
            )
        try:
            claims = self._vendor_claims(evidence, when)
            gpu_checks: tuple[str, ...] = ()
            if evidence.gpus:
                claims = replace(claims, gpus=self._gpu_claims(evidence, claims, nonce, when))
                gpu_checks = ("verify_gpu_evidence",)
            ctx = GuardContext(
                nonce=nonce,
                enclave_public_key_der=enclave_public_key_der,
                nonce_store=self._nonce_store,
                tcb_policy=self._tcb_policy,
                allow_list=self._allow_list,
                gpu_digest=gpu_evidence_digest(evidence.gpus) if evidence.gpus else None,
            )
            checks = (
                "select_verifier",
                "verify_evidence",
                *gpu_checks,
                *run_guards(claims, ctx),
            )
        except EnclavaError as exc:
            log.info("attestation refused: tee=%s code=%s", tee, exc.code)
            raise
        log.info(
            "attestation verified: tee=%s measurement=%s simulated=%s gpus=%d",
            tee,
            claims.measurement_hex,
            claims.simulated,
            len(claims.gpus),
        )
        return VerificationResult(
            claims=claims,
            enclave_public_key_der=enclave_public_key_der,
            nonce=nonce,
            verified_at=when,
            checks=checks,
        )

    def _vendor_claims(self, evidence: Evidence, when: int) -> VerifiedClaims:
        """Steps 0 and 1: the TEE's verifier, and the vendor's signature chain."""
        claims = self.select_verifier(evidence).verify_evidence(evidence, now=when)
        if (
            claims.simulated and not self.insecure_allow_simulated_tee
        ):  # defence in depth, see select_verifier
            raise SimulatedTeeRefusedError(
                "a verifier vouched for simulated evidence; this CA refuses it"
            )
        return claims

    def _gpu_claims(
        self, evidence: Evidence, cpu: VerifiedClaims, nonce: bytes, when: int
    ) -> tuple[GpuClaims, ...]:
        """Step 2: each GPU's vendor verification, under the roots the CPU evidence calls for."""
        if not isinstance(nonce, bytes) or len(nonce) != NONCE_LENGTH:
            raise EvidenceFormatError(f"the CA nonce must be exactly {NONCE_LENGTH} bytes")
        if cpu.simulated:  # only reached with the insecure flag: _vendor_claims refused it else
            if self._simulated_gpu_verifier is None:
                self._simulated_gpu_verifier = default_simulated_gpu_verifier()
            verifier = self._simulated_gpu_verifier
        else:
            if self._gpu_verifier is None:
                self._gpu_verifier = default_gpu_verifier()
            verifier = self._gpu_verifier
        gpus = tuple(verifier.verify(gpu, nonce=nonce, now=when) for gpu in evidence.gpus)
        if not cpu.simulated and any(gpu.simulated is not False for gpu in gpus):
            raise SimulatedGpuRefusedError(
                f"a simulated GPU beside real {cpu.tee_type.wire_name} evidence is refused"
            )
        return gpus

    def verify_bound(
        self, evidence: Evidence, *, report_data: bytes, now: int | None = None
    ) -> VerifiedClaims:
        """Verify a peer's ``evidence`` whose report_data must be exactly ``report_data``; raise on
        any refusal."""
        when = int(self._clock()) if now is None else now
        tee = evidence.tee_type.wire_name if isinstance(evidence, Evidence) else "unknown"
        try:
            if isinstance(evidence, Evidence) and evidence.gpus:
                raise GpuEvidenceUnexpectedError(
                    "a peer's channel evidence carries GPUs, which its binding cannot cover"
                )
            claims = self._vendor_claims(evidence, when)
            ctx = ChannelContext(
                expected_report_data=report_data,
                tcb_policy=self._tcb_policy,
                allow_list=self._allow_list,
            )
            run_guards(claims, ctx, CHANNEL_GUARDS)
        except EnclavaError as exc:
            log.info("peer attestation refused: tee=%s code=%s", tee, exc.code)
            raise
        log.info(
            "peer attestation verified: tee=%s measurement=%s simulated=%s",
            tee,
            claims.measurement_hex,
            claims.simulated,
        )
        return claims
