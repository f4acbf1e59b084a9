"""EvidenceVerifier end to end: one behaviour suite run against every backend that can bind our
data.

Backends: the simulated TEE (development PKI), and SEV-SNP under a forged AMD root that the test
pins explicitly (the real vectors cannot carry our report_data; they run through the pipeline
below only to show the vendor step passes and the binding guard refuses them).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from ca_support import SNP_VALID_TIME, TDX_PINNED_TIME, enclave_key_der, snp_report

from enclava.attestation import (
    CollateralExpiredError,
    DebugEnclaveError,
    Evidence,
    EvidenceSignatureError,
    MeasurementNotAllowedError,
    NonceExpiredError,
    NonceReusedError,
    NonceUnknownError,
    ReportDataMismatchError,
    SimulatedTdxAttester,
    SimulatedTeeRefusedError,
    TcbStatusRejectedError,
    UnsupportedTeeError,
    bind_report_data,
)
from enclava.attestation.verifiers import (
    CHANNEL_GUARDS,
    GUARDS,
    EvidenceVerifier,
    InMemoryMeasurementAllowList,
    InMemoryNonceStore,
    SevSnpVerifier,
    SimulatedTdxVerifier,
    TcbPolicy,
    Verifier,
    ca_evidence_verifier,
    default_verifiers,
)
from enclava.errors import ConfigError
from enclava.protocol.tee import KNOWN_TEES, TeeType

MEASUREMENT = bytes.fromhex("ab" * 48)
KEY = enclave_key_der(b"pipeline")
SIM_NOW = 1795000000


@dataclass(frozen=True)
class Backend:
    tee_type: TeeType
    make: Callable[..., Evidence]  # (report_data, measurement, *, debug, outdated) -> Evidence
    verifiers: dict
    outdated_verifiers: dict  # verifiers under which make(..., outdated=True) is OutOfDate
    now: int
    expired_now: int
    measurement_offset: int  # a signed byte of the measurement inside the quote/report


def _simulated_backend(_forged, _template) -> Backend:
    def make(report_data, measurement, *, debug=False, outdated=False):
        attester = SimulatedTdxAttester(
            measurement, debug=debug, outdated_tcb=outdated, clock=lambda: SIM_NOW - 60
        )
        return attester.attest(report_data)

    verifiers = default_verifiers(insecure_allow_simulated_tee=True)
    return Backend(
        TeeType.SIMULATED, make, verifiers, verifiers, SIM_NOW, SIM_NOW + 31 * 24 * 3600, 48 + 136
    )


def _snp_backend(forged, template) -> Backend:
    def make(
        report_data, measurement, *, debug=False, outdated=False
    ):  # SNP: outdated is the verifier's view
        report = snp_report(
            template, forged, report_data=report_data, measurement=measurement, debug=debug
        )
        return Evidence(TeeType.SEV_SNP, report, forged.chain_pem)

    def verifiers(minimum_ucode: int) -> dict:
        return {
            TeeType.SEV_SNP: SevSnpVerifier(
                trusted_ark_sha256=[forged.ark_sha256], minimum_tcb={"ucode": minimum_ucode}
            )
        }

    # The forged VCEK certifies microcode SPL 0x44: a minimum of 0x45 makes the same chip OutOfDate.
    return Backend(
        TeeType.SEV_SNP, make, verifiers(0x44), verifiers(0x45), SNP_VALID_TIME, 2_300_000_000, 0x90
    )


@pytest.fixture(params=[_simulated_backend, _snp_backend], ids=["simulated", "sev-snp"])
def backend(request, forged_amd, snp_vector) -> Backend:
    return request.param(forged_amd, snp_vector.quote)


def _pipeline(backend: Backend, **kwargs) -> tuple[EvidenceVerifier, InMemoryNonceStore]:
    store = kwargs.pop("nonce_store", None) or InMemoryNonceStore()
    allow = InMemoryMeasurementAllowList([(backend.tee_type, MEASUREMENT)])
    kwargs.setdefault("insecure_allow_simulated_tee", backend.tee_type is TeeType.SIMULATED)
    return EvidenceVerifier(
        allow_list=allow, nonce_store=store, verifiers=backend.verifiers, **kwargs
    ), store


def test_accepts_bound_fresh_allowed_evidence(backend):
    verifier, store = _pipeline(backend)
    nonce = store.issue()
    evidence = Evidence.from_json(backend.make(bind_report_data(nonce, KEY), MEASUREMENT).to_json())

    result = verifier.verify(evidence, nonce=nonce, enclave_public_key_der=KEY, now=backend.now)

    assert result.measurement == MEASUREMENT and result.tee_type is backend.tee_type
    assert result.simulated is (backend.tee_type is TeeType.SIMULATED)
    assert result.enclave_public_key_der == KEY and result.verified_at == backend.now
    assert result.checks == ("select_verifier", "verify_evidence", *(g.__name__ for g in GUARDS))


def test_refuses_flipped_byte(backend):
    verifier, store = _pipeline(backend)
    nonce = store.issue()
    evidence = backend.make(bind_report_data(nonce, KEY), MEASUREMENT)
    quote = bytearray(evidence.quote)
    quote[backend.measurement_offset] ^= 0x01
    with pytest.raises(EvidenceSignatureError):
        verifier.verify(
            dataclasses.replace(evidence, quote=bytes(quote)),
            nonce=nonce,
            enclave_public_key_der=KEY,
            now=backend.now,
        )


def test_refuses_reused_nonce(backend):
    verifier, store = _pipeline(backend)
    nonce = store.issue()
    evidence = backend.make(bind_report_data(nonce, KEY), MEASUREMENT)
    verifier.verify(evidence, nonce=nonce, enclave_public_key_der=KEY, now=backend.now)
    with pytest.raises(NonceReusedError):
        verifier.verify(evidence, nonce=nonce, enclave_public_key_der=KEY, now=backend.now)


def test_refuses_unknown_and_expired_nonces(backend):
    clock = [0.0]
    verifier, store = _pipeline(
        backend, nonce_store=InMemoryNonceStore(ttl_s=60, clock=lambda: clock[0])
    )
    stranger = bytes(32)
    with pytest.raises(NonceUnknownError):
        verifier.verify(
            backend.make(bind_report_data(stranger, KEY), MEASUREMENT),
            nonce=stranger,
            enclave_public_key_der=KEY,
            now=backend.now,
        )
    nonce = store.issue()
    clock[0] = 61.0
    with pytest.raises(NonceExpiredError):
        verifier.verify(
            backend.make(bind_report_data(nonce, KEY), MEASUREMENT),
            nonce=nonce,
            enclave_public_key_der=KEY,
            now=backend.now,
        )


def test_refuses_report_data_binding_another_key_and_keeps_the_nonce(backend):
    verifier, store = _pipeline(backend)
    nonce = store.issue()
    evidence = backend.make(bind_report_data(nonce, enclave_key_der(b"attacker")), MEASUREMENT)
    with pytest.raises(ReportDataMismatchError):
        verifier.verify(evidence, nonce=nonce, enclave_public_key_der=KEY, now=backend.now)
    store.consume(nonce)  # not spent by evidence that never bound it


def test_refuses_debug_enclave(backend):
    verifier, store = _pipeline(backend)
    nonce = store.issue()
    with pytest.raises(DebugEnclaveError):
        verifier.verify(
            backend.make(bind_report_data(nonce, KEY), MEASUREMENT, debug=True),
            nonce=nonce,
            enclave_public_key_der=KEY,
            now=backend.now,
        )


def test_refuses_measurement_off_allow_list(backend):
    verifier, store = _pipeline(backend)
    nonce = store.issue()
    with pytest.raises(MeasurementNotAllowedError):
        verifier.verify(
            backend.make(bind_report_data(nonce, KEY), bytes(48)),
            nonce=nonce,
            enclave_public_key_der=KEY,
            now=backend.now,
        )


def test_refuses_expired_evidence(backend):
    verifier, store = _pipeline(backend)
    nonce = store.issue()
    with pytest.raises(CollateralExpiredError):
        verifier.verify(
            backend.make(bind_report_data(nonce, KEY), MEASUREMENT),
            nonce=nonce,
            enclave_public_key_der=KEY,
            now=backend.expired_now,
        )


def test_tcb_policy_refuses_out_of_date_unless_explicitly_accepted(backend):
    outdated = dataclasses.replace(backend, verifiers=backend.outdated_verifiers)
    strict, store = _pipeline(outdated)
    nonce = store.issue()
    evidence = backend.make(bind_report_data(nonce, KEY), MEASUREMENT, outdated=True)
    with pytest.raises(TcbStatusRejectedError, match="OutOfDate"):
        strict.verify(evidence, nonce=nonce, enclave_public_key_der=KEY, now=backend.now)

    lenient, store = _pipeline(outdated, tcb_policy=TcbPolicy(frozenset({"UpToDate", "OutOfDate"})))
    nonce = store.issue()
    evidence = backend.make(bind_report_data(nonce, KEY), MEASUREMENT, outdated=True)
    result = lenient.verify(evidence, nonce=nonce, enclave_public_key_der=KEY, now=backend.now)
    assert result.claims.tcb_status == "OutOfDate"


def test_refuses_simulated_evidence_without_insecure_flag(forged_amd, snp_vector):
    backend = _simulated_backend(forged_amd, snp_vector.quote)
    verifier, store = _pipeline(backend, insecure_allow_simulated_tee=False)
    nonce = store.issue()
    with pytest.raises(SimulatedTeeRefusedError):
        verifier.verify(
            backend.make(bind_report_data(nonce, KEY), MEASUREMENT),
            nonce=nonce,
            enclave_public_key_der=KEY,
            now=backend.now,
        )
    store.consume(nonce)  # refused before anything else ran


def test_every_tee_verifier_keeps_the_protocol():
    verifiers = default_verifiers()
    assert set(verifiers) == set(KNOWN_TEES)
    assert all(isinstance(v, Verifier) and v.tee_type is tee for tee, v in verifiers.items())


def test_verifiers_may_be_given_as_a_list(snp_vector):
    verifier = EvidenceVerifier(
        allow_list=InMemoryMeasurementAllowList(),
        nonce_store=InMemoryNonceStore(),
        verifiers=[SevSnpVerifier()],
    )
    assert verifier.select_verifier(snp_vector).tee_type is TeeType.SEV_SNP
    with pytest.raises(UnsupportedTeeError):
        verifier.select_verifier(Evidence(TeeType.TDX, b"q", b""))


def test_refuses_tee_without_verifier(snp_vector):
    verifier = EvidenceVerifier(
        allow_list=InMemoryMeasurementAllowList(), nonce_store=InMemoryNonceStore(), verifiers={}
    )
    with pytest.raises(UnsupportedTeeError):
        verifier.verify(snp_vector, nonce=bytes(32), enclave_public_key_der=KEY, now=SNP_VALID_TIME)


@pytest.mark.parametrize(
    ("vector", "now"), [("tdx_vector", TDX_PINNED_TIME), ("snp_vector", SNP_VALID_TIME)]
)
def test_real_vectors_pass_vendor_step_and_fail_binding(request, vector, now):
    evidence = request.getfixturevalue(vector)
    store = InMemoryNonceStore()
    verifier = EvidenceVerifier(allow_list=InMemoryMeasurementAllowList(), nonce_store=store)
    with pytest.raises(ReportDataMismatchError):
        verifier.verify(evidence, nonce=store.issue(), enclave_public_key_der=KEY, now=now)


def test_refusal_is_logged_with_its_code_and_without_key_material(backend, caplog):
    verifier, store = _pipeline(backend)
    nonce = store.issue()
    evidence = backend.make(bind_report_data(nonce, enclave_key_der(b"other")), MEASUREMENT)
    with caplog.at_level(logging.INFO), pytest.raises(ReportDataMismatchError):
        verifier.verify(evidence, nonce=nonce, enclave_public_key_der=KEY, now=backend.now)
    assert "code=report_data_mismatch" in caplog.text
    assert nonce.hex() not in caplog.text and KEY.hex() not in caplog.text


def test_verifier_registered_under_another_tee_type_is_a_config_error():
    with pytest.raises(ConfigError):
        EvidenceVerifier(
            allow_list=InMemoryMeasurementAllowList(),
            nonce_store=InMemoryNonceStore(),
            verifiers={TeeType.TDX: SevSnpVerifier()},
        )


def test_simulated_claims_are_refused_without_the_flag_whatever_the_verifier(
    forged_amd, snp_vector
):
    class Misconfigured:  # a TDX verifier that (wrongly) trusts the development root
        tee_type = TeeType.TDX

        def verify_evidence(self, evidence, *, now):
            sim = SimulatedTdxVerifier(insecure_allow_simulated_tee=True)
            return sim.verify_evidence(
                dataclasses.replace(evidence, tee_type=TeeType.SIMULATED), now=now
            )

    backend = _simulated_backend(forged_amd, snp_vector.quote)
    store = InMemoryNonceStore()
    verifier = EvidenceVerifier(
        allow_list=InMemoryMeasurementAllowList(), nonce_store=store, verifiers=[Misconfigured()]
    )
    nonce = store.issue()
    evidence = backend.make(bind_report_data(nonce, KEY), MEASUREMENT)
    with pytest.raises(SimulatedTeeRefusedError):
        verifier.verify(
            dataclasses.replace(evidence, tee_type=TeeType.TDX),
            nonce=nonce,
            enclave_public_key_der=KEY,
            now=backend.now,
        )


# -- a peer's evidence (the CA's own, asked for by a client): verify_bound, the same code path -----

REPORT_DATA = bytes(range(64))


def _peer(backend: Backend, **kwargs) -> EvidenceVerifier:
    allow = InMemoryMeasurementAllowList([(backend.tee_type, MEASUREMENT)])
    kwargs.setdefault("insecure_allow_simulated_tee", backend.tee_type is TeeType.SIMULATED)
    return EvidenceVerifier(
        allow_list=allow, nonce_store=None, verifiers=backend.verifiers, **kwargs
    )


def test_bound_evidence_passes_the_vendor_step_and_the_channel_guards(backend):
    claims = _peer(backend).verify_bound(
        backend.make(REPORT_DATA, MEASUREMENT), report_data=REPORT_DATA, now=backend.now
    )
    assert claims.measurement == MEASUREMENT and claims.report_data == REPORT_DATA
    assert [g.__name__ for g in CHANNEL_GUARDS] == [
        "guard_report_data_expected",
        "guard_debug_disabled",
        "guard_tcb_status",
        "guard_measurement_allowed",
    ]


@pytest.mark.parametrize(
    ("case", "error"),
    [
        ("report_data", ReportDataMismatchError),
        ("measurement", MeasurementNotAllowedError),
        ("debug", DebugEnclaveError),
        ("flipped", EvidenceSignatureError),
    ],
)
def test_bound_evidence_is_refused_by_the_same_guards(backend, case, error):
    evidence = backend.make(
        REPORT_DATA, bytes(48) if case == "measurement" else MEASUREMENT, debug=case == "debug"
    )
    if case == "flipped":
        quote = bytearray(evidence.quote)
        quote[backend.measurement_offset] ^= 0x01
        evidence = dataclasses.replace(evidence, quote=bytes(quote))
    expected = bytes(64) if case == "report_data" else REPORT_DATA
    with pytest.raises(error):
        _peer(backend).verify_bound(evidence, report_data=expected, now=backend.now)


def test_bound_simulated_evidence_needs_the_insecure_flag(forged_amd, snp_vector):
    backend = _simulated_backend(forged_amd, snp_vector.quote)
    with pytest.raises(SimulatedTeeRefusedError):
        _peer(backend, insecure_allow_simulated_tee=False).verify_bound(
            backend.make(REPORT_DATA, MEASUREMENT), report_data=REPORT_DATA, now=backend.now
        )


def test_the_client_side_glue_runs_the_pipeline():
    allow = InMemoryMeasurementAllowList([(TeeType.SIMULATED, MEASUREMENT)])
    evidence = SimulatedTdxAttester(MEASUREMENT).attest(REPORT_DATA)
    assert ca_evidence_verifier(allow, insecure_allow_simulated_tee=True)(
        evidence, REPORT_DATA
    ).simulated
    with pytest.raises(SimulatedTeeRefusedError):
        ca_evidence_verifier(allow)(evidence, REPORT_DATA)


def test_a_verifier_without_a_nonce_store_cannot_certify(snp_vector):
    verifier = EvidenceVerifier(allow_list=InMemoryMeasurementAllowList(), nonce_store=None)
    with pytest.raises(ConfigError):
        verifier.verify(snp_vector, nonce=bytes(32), enclave_public_key_der=KEY, now=SNP_VALID_TIME)
