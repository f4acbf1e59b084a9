"""Each guard on its own, their fixed order, and the allow-list they consult."""

from __future__ import annotations

import dataclasses

import pytest
from ca_support import enclave_key_der

from enclava.attestation import (
    DebugEnclaveError,
    EvidenceFormatError,
    MeasurementNotAllowedError,
    NonceReusedError,
    PolicyLookupError,
    ReportDataMismatchError,
    TcbStatusRejectedError,
    bind_report_data,
)
from enclava.attestation.verifiers import (
    GUARDS,
    GuardContext,
    InMemoryMeasurementAllowList,
    InMemoryNonceStore,
    MeasurementAllowList,
    TcbPolicy,
    VerifiedClaims,
    guard_debug_disabled,
    guard_measurement_allowed,
    guard_nonce_fresh,
    guard_report_data_binding,
    guard_tcb_status,
    run_guards,
)
from enclava.errors import ConfigError
from enclava.protocol.tee import TeeType

KEY = enclave_key_der()
MEASUREMENT = bytes(range(48))


def _setup(**claim_changes) -> tuple[VerifiedClaims, GuardContext]:
    store = InMemoryNonceStore()
    nonce = store.issue()
    fields = dict(
        tee_type=TeeType.TDX,
        measurement=MEASUREMENT,
        report_data=bind_report_data(nonce, KEY),
        debug=False,
        tcb_status="UpToDate",
    )
    fields.update(claim_changes)
    ctx = GuardContext(
        nonce=nonce,
        enclave_public_key_der=KEY,
        nonce_store=store,
        tcb_policy=TcbPolicy(),
        allow_list=InMemoryMeasurementAllowList([(TeeType.TDX, MEASUREMENT)]),
    )
    return VerifiedClaims(**fields), ctx


def test_guards_run_in_the_documented_order():
    assert [g.__name__ for g in GUARDS] == [
        "guard_report_data_binding",
        "guard_nonce_fresh",
        "guard_debug_disabled",
        "guard_gpu_debug_disabled",
        "guard_tcb_status",
        "guard_measurement_allowed",
    ]


def test_all_guards_pass_for_good_claims():
    claims, ctx = _setup()
    assert run_guards(claims, ctx) == tuple(g.__name__ for g in GUARDS)


def test_binding_guard_refuses_another_key():
    claims, ctx = _setup()
    with pytest.raises(ReportDataMismatchError):
        guard_report_data_binding(
            claims, dataclasses.replace(ctx, enclave_public_key_der=enclave_key_der(b"x"))
        )


def test_binding_guard_refuses_another_nonce():
    claims, ctx = _setup(report_data=bind_report_data(bytes(32), KEY))
    with pytest.raises(ReportDataMismatchError):
        guard_report_data_binding(claims, ctx)


def test_binding_guard_refuses_malformed_nonce():
    claims, ctx = _setup()
    with pytest.raises(EvidenceFormatError):
        guard_report_data_binding(claims, dataclasses.replace(ctx, nonce=b"short"))


def test_binding_failure_stops_before_the_nonce_is_spent():
    claims, ctx = _setup(report_data=bytes(64))
    with pytest.raises(ReportDataMismatchError):
        run_guards(claims, ctx)
    guard_nonce_fresh(claims, ctx)  # still fresh
    with pytest.raises(NonceReusedError):
        guard_nonce_fresh(claims, ctx)


def test_debug_guard_refuses_debug_enclave():
    claims, ctx = _setup(debug=True)
    with pytest.raises(DebugEnclaveError):
        guard_debug_disabled(claims, ctx)


@pytest.mark.parametrize(
    "status", ["OutOfDate", "SWHardeningNeeded", "ConfigurationNeeded", "Revoked", ""]
)
def test_tcb_guard_is_strict_by_default(status):
    claims, ctx = _setup(tcb_status=status)
    with pytest.raises(TcbStatusRejectedError):
        guard_tcb_status(claims, ctx)


def test_tcb_guard_accepts_explicitly_allowed_status_but_not_rejected_advisories():
    claims, ctx = _setup(tcb_status="SWHardeningNeeded", advisory_ids=("INTEL-SA-00615",))
    policy = TcbPolicy(accepted_statuses=frozenset({"UpToDate", "SWHardeningNeeded"}))
    guard_tcb_status(claims, dataclasses.replace(ctx, tcb_policy=policy))
    strict = TcbPolicy(
        accepted_statuses=policy.accepted_statuses,
        rejected_advisories=frozenset({"INTEL-SA-00615"}),
    )
    with pytest.raises(TcbStatusRejectedError, match="INTEL-SA-00615"):
        guard_tcb_status(claims, dataclasses.replace(ctx, tcb_policy=strict))


def test_allow_list_guard_refuses_unknown_measurement():
    claims, ctx = _setup(measurement=bytes(48))
    with pytest.raises(MeasurementNotAllowedError, match="00" * 48):
        guard_measurement_allowed(claims, ctx)


class Broken:
    """An outside store whose backend is down."""

    def is_allowed(self, tee_type, measurement):
        raise ConnectionError("chain RPC unreachable")

    def consume(self, nonce):
        raise TimeoutError("database timeout")


def test_failing_allow_list_refuses_typed():
    claims, ctx = _setup()
    with pytest.raises(PolicyLookupError, match="allow-list.*ConnectionError"):
        guard_measurement_allowed(claims, dataclasses.replace(ctx, allow_list=Broken()))


def test_failing_nonce_store_refuses_typed():
    claims, ctx = _setup()
    with pytest.raises(PolicyLookupError, match="nonce store.*TimeoutError"):
        guard_nonce_fresh(claims, dataclasses.replace(ctx, nonce_store=Broken()))


def test_allow_list_must_answer_exactly_true():
    class Sloppy:
        def is_allowed(self, tee_type, measurement):
            return "yes"

    claims, ctx = _setup()
    with pytest.raises(MeasurementNotAllowedError):
        guard_measurement_allowed(claims, dataclasses.replace(ctx, allow_list=Sloppy()))


def test_allow_list_is_per_tee_type_and_revocable():
    allow = InMemoryMeasurementAllowList([(TeeType.TDX, MEASUREMENT)])
    assert isinstance(allow, MeasurementAllowList)
    assert allow.is_allowed(TeeType.TDX, MEASUREMENT)
    assert not allow.is_allowed(TeeType.SIMULATED, MEASUREMENT)
    assert not allow.is_allowed(TeeType.SEV_SNP, MEASUREMENT)
    allow.revoke(TeeType.TDX, MEASUREMENT)
    assert not allow.is_allowed(TeeType.TDX, MEASUREMENT)


@pytest.mark.parametrize(
    "entry", [("tdx", MEASUREMENT), (TeeType.TDX, b""), (TeeType.TDX, MEASUREMENT.hex())]
)
def test_allow_list_rejects_malformed_entries(entry):
    with pytest.raises(ConfigError):
        InMemoryMeasurementAllowList([entry])
