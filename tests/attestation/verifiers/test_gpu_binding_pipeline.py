"""CPU + GPU as one attestation through EvidenceVerifier: the GPU evidence is verified with the CA
nonce, its digest must be bound into the CPU report, and simulated GPUs go only with simulated
CPUs under the insecure flag. Uses the simulated TEE and the simulated GPU (development roots, the
same verifier code as NVIDIA's)."""

from __future__ import annotations

import dataclasses

import pytest
from ca_support import enclave_key_der

from enclava.attestation import (
    AttestationError,
    Evidence,
    NonceReusedError,
    ReportDataMismatchError,
    SimulatedTdxAttester,
    SimulatedTeeRefusedError,
    UntrustedRootError,
    bind_report_data,
)
from enclava.attestation.gpu.evidence import gpu_evidence_digest
from enclava.attestation.gpu.simulated import SimulatedGpuAttester, simulated_gpu_verifier
from enclava.attestation.verifiers import (
    GUARDS,
    EvidenceVerifier,
    GpuCcModeOffError,
    GpuDebugEnabledError,
    GpuEvidenceUnexpectedError,
    GpuNonceMismatchError,
    GpuNotBoundError,
    GuardContext,
    InMemoryMeasurementAllowList,
    InMemoryNonceStore,
    SimulatedGpuRefusedError,
    TcbPolicy,
    VerifiedClaims,
    guard_gpu_debug_disabled,
    guard_report_data_binding,
)
from enclava.protocol.tee import TeeType

MEASUREMENT = bytes.fromhex("cd" * 48)
KEY = enclave_key_der(b"gpu-pipeline")


def _verifier(store: InMemoryNonceStore, **kwargs) -> EvidenceVerifier:
    kwargs.setdefault("insecure_allow_simulated_tee", True)
    return EvidenceVerifier(
        allow_list=InMemoryMeasurementAllowList([(TeeType.SIMULATED, MEASUREMENT)]),
        nonce_store=store,
        **kwargs,
    )


def _evidence(nonce: bytes, gpus=None, *, bind=None) -> Evidence:
    """Simulated CPU evidence whose report_data binds ``bind`` (default: the GPUs' digest)."""
    gpus = SimulatedGpuAttester(gpu_class="H100").collect(nonce) if gpus is None else gpus
    digest = gpu_evidence_digest(gpus) if bind is None else bind
    cpu = SimulatedTdxAttester(MEASUREMENT).attest(bind_report_data(nonce, KEY, digest))
    return dataclasses.replace(cpu, gpus=tuple(gpus))


def test_a_simulated_cpu_with_a_simulated_gpu_is_one_attestation():
    store = InMemoryNonceStore()
    nonce = store.issue()
    result = _verifier(store).verify(_evidence(nonce), nonce=nonce, enclave_public_key_der=KEY)
    (gpu,) = result.claims.gpus
    assert gpu.gpu_class == "H100" and gpu.nonce == nonce and gpu.simulated is True
    assert result.checks == (
        "select_verifier",
        "verify_evidence",
        "verify_gpu_evidence",
        *(g.__name__ for g in GUARDS),
    )
    with pytest.raises(NonceReusedError):  # consumed once, as for CPU-only evidence
        _verifier(store).verify(_evidence(nonce), nonce=nonce, enclave_public_key_der=KEY)


def test_several_gpus_are_each_verified_and_kept_in_order():
    store = InMemoryNonceStore()
    nonce = store.issue()
    gpus = SimulatedGpuAttester(gpu_class="H100", count=2).collect(nonce)
    result = _verifier(store).verify(
        _evidence(nonce, gpus), nonce=nonce, enclave_public_key_der=KEY
    )
    assert [g.gpu_class for g in result.claims.gpus] == ["H100", "H100"]


def test_gpus_not_bound_into_the_cpu_report_are_refused_before_the_nonce_is_spent():
    store = InMemoryNonceStore()
    nonce = store.issue()
    gpus = SimulatedGpuAttester().collect(nonce)
    cpu_only = SimulatedTdxAttester(MEASUREMENT).attest(bind_report_data(nonce, KEY))
    unbound = dataclasses.replace(cpu_only, gpus=gpus)
    with pytest.raises(GpuNotBoundError) as info:
        _verifier(store).verify(unbound, nonce=nonce, enclave_public_key_der=KEY)
    assert info.value.code == "gpu_not_bound"
    store.consume(nonce)  # still unspent: the binding guard runs before the nonce guard


def test_gpu_evidence_swapped_after_binding_is_refused():
    store = InMemoryNonceStore()
    nonce = store.issue()
    bound = SimulatedGpuAttester(count=2).collect(nonce)
    swapped = _evidence(nonce, (bound[1], bound[0]), bind=gpu_evidence_digest(bound))
    with pytest.raises(ReportDataMismatchError) as info:
        _verifier(store).verify(swapped, nonce=nonce, enclave_public_key_der=KEY)
    assert info.value.code == "report_data_mismatch"
    dropped = _evidence(nonce, bound[:1], bind=gpu_evidence_digest(bound))
    with pytest.raises(ReportDataMismatchError):
        _verifier(store).verify(dropped, nonce=nonce, enclave_public_key_der=KEY)


def test_a_cpu_report_that_binds_gpus_it_does_not_carry_is_refused():
    store = InMemoryNonceStore()
    nonce = store.issue()
    gpus = SimulatedGpuAttester().collect(nonce)
    cpu = SimulatedTdxAttester(MEASUREMENT).attest(
        bind_report_data(nonce, KEY, gpu_evidence_digest(gpus))
    )
    with pytest.raises(ReportDataMismatchError):
        _verifier(store).verify(cpu, nonce=nonce, enclave_public_key_der=KEY)


def test_gpus_that_signed_another_nonce_are_refused_by_the_gpu_verifier():
    store = InMemoryNonceStore()
    nonce, other = store.issue(), store.issue()
    stale = _evidence(nonce, SimulatedGpuAttester().collect(other))
    with pytest.raises(AttestationError) as info:
        _verifier(store).verify(stale, nonce=nonce, enclave_public_key_der=KEY)
    assert "nonce" in info.value.code
    store.consume(nonce)  # refused before the guards: the nonce is not spent


@pytest.mark.parametrize(
    "attester", [SimulatedGpuAttester(debug=True), SimulatedGpuAttester(cc_mode=False)]
)
def test_a_debug_or_non_cc_gpu_is_refused(attester):
    store = InMemoryNonceStore()
    nonce = store.issue()
    with pytest.raises(AttestationError) as info:
        _verifier(store).verify(
            _evidence(nonce, attester.collect(nonce)), nonce=nonce, enclave_public_key_der=KEY
        )
    assert info.value.code.startswith("gpu_")  # the GPU verifier's own refusal (see its suite)
    store.consume(nonce)  # refused before the guards: the nonce is not spent


class _RealTdx:
    """A stand-in for a real TDX verifier's answer (this module only): vendor-verified, not
    simulated, binding whatever report_data the evidence carries in its quote."""

    tee_type = TeeType.TDX

    def verify_evidence(self, evidence: Evidence, *, now: int) -> VerifiedClaims:
        return VerifiedClaims(
            tee_type=TeeType.TDX,
            measurement=MEASUREMENT,
            report_data=evidence.quote[:64],
            debug=False,
            tcb_status="UpToDate",
        )


def _real_cpu_with_simulated_gpu(nonce: bytes) -> Evidence:
    gpus = SimulatedGpuAttester().collect(nonce)
    return Evidence(
        TeeType.TDX, bind_report_data(nonce, KEY, gpu_evidence_digest(gpus)), b"", gpus=gpus
    )


def test_a_simulated_gpu_beside_a_real_cpu_tee_is_refused():
    store = InMemoryNonceStore()
    nonce = store.issue()
    allow = InMemoryMeasurementAllowList([(TeeType.TDX, MEASUREMENT)])
    evidence = _real_cpu_with_simulated_gpu(nonce)
    # the default GPU verifier pins NVIDIA's roots: the development chain is not trusted
    strict = EvidenceVerifier(
        allow_list=allow,
        nonce_store=store,
        verifiers=[_RealTdx()],
        insecure_allow_simulated_tee=True,
    )
    with pytest.raises(UntrustedRootError):
        strict.verify(evidence, nonce=nonce, enclave_public_key_der=KEY)
    # even a CA misconfigured with the development GPU roots refuses it: the claims say simulated
    misconfigured = EvidenceVerifier(
        allow_list=allow,
        nonce_store=store,
        verifiers=[_RealTdx()],
        gpu_verifier=simulated_gpu_verifier(),
    )
    with pytest.raises(SimulatedGpuRefusedError) as refused:
        misconfigured.verify(evidence, nonce=nonce, enclave_public_key_der=KEY)
    assert isinstance(refused.value, SimulatedTeeRefusedError)
    assert refused.value.code == "simulated_gpu_refused"


def test_without_the_insecure_flag_simulated_cpu_and_gpu_are_refused():
    store = InMemoryNonceStore()
    nonce = store.issue()
    with pytest.raises(SimulatedTeeRefusedError):
        _verifier(store, insecure_allow_simulated_tee=False).verify(
            _evidence(nonce), nonce=nonce, enclave_public_key_der=KEY
        )


def test_channel_evidence_with_gpus_is_refused():
    nonce = bytes(32)
    peer = EvidenceVerifier(
        allow_list=InMemoryMeasurementAllowList([(TeeType.SIMULATED, MEASUREMENT)]),
        nonce_store=None,
        insecure_allow_simulated_tee=True,
    )
    evidence = _evidence(nonce)
    with pytest.raises(GpuEvidenceUnexpectedError) as info:
        peer.verify_bound(evidence, report_data=evidence.quote[:64])
    assert info.value.code == "gpu_evidence_unexpected"


# -- the GPU guards on their own ------------------------------------------------------------------


def _gpu_claims(nonce: bytes, **changes):
    from enclava.attestation.gpu.claims import GpuClaims

    fields = dict(
        gpu_class="H100",
        architecture="HOPPER",
        nonce=nonce,
        driver_version="550.54.15",
        vbios_version="96.00.88.00.11",
        cc_mode=True,
        debug=False,
        simulated=True,
        details={},
    )
    fields.update(changes)
    return GpuClaims(**fields)


def _ctx(nonce: bytes, gpu_digest: bytes | None) -> GuardContext:
    return GuardContext(
        nonce=nonce,
        enclave_public_key_der=KEY,
        nonce_store=InMemoryNonceStore(),
        tcb_policy=TcbPolicy(),
        allow_list=InMemoryMeasurementAllowList([]),
        gpu_digest=gpu_digest,
    )


def _claims(report_data: bytes, gpus) -> VerifiedClaims:
    return VerifiedClaims(
        tee_type=TeeType.SIMULATED,
        measurement=MEASUREMENT,
        report_data=report_data,
        debug=False,
        tcb_status="UpToDate",
        simulated=True,
        gpus=tuple(gpus),
    )


DIGEST = bytes(range(32))
NONCE = bytes(range(32, 64))


def test_the_gpu_debug_guard_refuses_debug_and_cc_off_each_with_its_error():
    ctx = _ctx(NONCE, DIGEST)
    guard_gpu_debug_disabled(_claims(b"", [_gpu_claims(NONCE)]), ctx)
    with pytest.raises(GpuDebugEnabledError) as debug:
        guard_gpu_debug_disabled(
            _claims(b"", [_gpu_claims(NONCE), _gpu_claims(NONCE, debug=True)]), ctx
        )
    assert debug.value.code == "gpu_debug_enabled" and "GPU 1" in debug.value.message
    with pytest.raises(GpuCcModeOffError) as cc:
        guard_gpu_debug_disabled(_claims(b"", [_gpu_claims(NONCE, cc_mode=False)]), ctx)
    assert cc.value.code == "gpu_cc_mode_off"


def test_the_binding_guard_checks_each_gpu_signed_this_nonce():
    bound = bind_report_data(NONCE, KEY, DIGEST)
    guard_report_data_binding(_claims(bound, [_gpu_claims(NONCE)]), _ctx(NONCE, DIGEST))
    with pytest.raises(GpuNonceMismatchError) as info:
        guard_report_data_binding(
            _claims(bound, [_gpu_claims(NONCE), _gpu_claims(bytes(32))]), _ctx(NONCE, DIGEST)
        )
    assert info.value.code == "gpu_nonce_mismatch"


def test_the_binding_guard_refuses_gpu_claims_without_a_digest_and_the_reverse():
    with pytest.raises(GpuNotBoundError):
        guard_report_data_binding(
            _claims(bind_report_data(NONCE, KEY), [_gpu_claims(NONCE)]), _ctx(NONCE, None)
        )
    with pytest.raises(GpuNotBoundError):
        guard_report_data_binding(
            _claims(bind_report_data(NONCE, KEY, DIGEST), []), _ctx(NONCE, DIGEST)
        )
