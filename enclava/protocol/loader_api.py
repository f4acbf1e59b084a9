"""The narrow interface between a provider's machine and its trusted loader (the CVM boundary).

The loader is its own program, with its own keys; the provider node talks to it over a local
socket with exactly these messages:

    GET  /v1/enclave                    -> EnclaveStatus (no secret: address, expiry, measurement)
    POST /v1/enclave/consent-request    -> ConsentRequest (the enclave address and the CA nonce
                                           that the provider must sign its consent over)
    POST /v1/enclave/certify  ConsentGiven -> EnclaveStatus
    POST /v1/orders/{order_id}/execute  -> SignedOutcome (a signed report, or a signed failure)
    POST /v1/orders/{order_id}/timeout  -> SignedOutcome (only when the loader itself sees the
                                           order's run window closing)

An order id goes in; a signed outcome comes out. Nothing in this interface lets the host choose
what the enclave signs: reports are only produced by running the order, failures only by the
loader's own checks. Both sides use :class:`SignedOutcome` to move an outcome over the wire.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from enclava.protocol.order import IntegrityReport, OrderFailure

__all__ = [
    "SignedOutcome",
    "outcome_to_json",
    "outcome_from_json",
    "LOADER_SOCKET_ENV",
    "LOADER_STAGES",
]

#: The loader's settings name its socket here (``LOADER_SOCKET``).
LOADER_SOCKET_ENV = "LOADER_SOCKET"
#: The stages the loader times for one order, in the order they run: the keys of an outcome's
#: ``stages`` (seconds each). The provider node adds its own ``report_tx`` when it publishes.
LOADER_STAGES = (
    "certification",
    "check",
    "fetch_verify",
    "key_release",
    "decrypt",
    "workload",
    "encrypt_upload",
    "sign",
)


@dataclass
class SignedOutcome:
    """What the enclave returns for one order: a report or a failure, with the enclave's
    signature.

    A failure's ``detail_cid`` (signed with it) points at the customer-only failure detail; the
    host relays it to ``failOrder`` and cannot read it. ``reason`` is the loader's own words for
    the host's log and never holds the engine's output.
    """

    order_id: str
    report: IntegrityReport | None = None
    failure: OrderFailure | None = None
    signature: bytes = b""
    reason: str = ""
    output_cid: str = ""
    stages: dict[str, float] = field(default_factory=dict)

    @property
    def completed(self) -> bool:
        return self.report is not None


def _hex(raw: bytes) -> str:
    return "0x" + bytes(raw).hex()


def _raw(value: str) -> bytes:
    return bytes.fromhex(str(value).removeprefix("0x"))


def _report_json(report: IntegrityReport) -> dict[str, Any]:
    return {
        "order_id": _hex(report.order_id),
        "engine_hash": _hex(report.engine_hash),
        "inputs_hash": _hex(report.inputs_hash),
        "output_hash": _hex(report.output_hash),
        "output_cid": report.output_cid,
        "tee_type": report.tee_type,
        "measurement": _hex(report.measurement),
        "enclave": report.enclave,
        "started_at": report.started_at,
        "finished_at": report.finished_at,
    }


def _report_from(data: dict[str, Any]) -> IntegrityReport:
    return IntegrityReport(
        order_id=_raw(data["order_id"]),
        engine_hash=_raw(data["engine_hash"]),
        inputs_hash=_raw(data["inputs_hash"]),
        output_hash=_raw(data["output_hash"]),
        output_cid=str(data["output_cid"]),
        tee_type=int(data["tee_type"]),
        measurement=_raw(data["measurement"]),
        enclave=str(data["enclave"]),
        started_at=int(data["started_at"]),
        finished_at=int(data["finished_at"]),
    )


def outcome_to_json(outcome: SignedOutcome) -> dict[str, Any]:
    failure = outcome.failure
    return {
        "order_id": outcome.order_id,
        "signature": _hex(outcome.signature),
        "reason": outcome.reason,
        "output_cid": outcome.output_cid,
        "stages": dict(outcome.stages),
        "report": _report_json(outcome.report) if outcome.report else None,
        "failure": None
        if failure is None
        else {
            "order_id": _hex(failure.order_id),
            "enclave": failure.enclave,
            "reason_code": failure.reason_code,
            "detail_cid": failure.detail_cid,
        },
    }


def outcome_from_json(data: dict[str, Any]) -> SignedOutcome:
    """The host's reading of the loader's answer (the chain checks the signature, not this)."""
    failure = data.get("failure")
    return SignedOutcome(
        order_id=str(data["order_id"]),
        signature=_raw(data["signature"]),
        reason=str(data.get("reason", "")),
        output_cid=str(data.get("output_cid", "")),
        stages={k: float(v) for k, v in data.get("stages", {}).items()},
        report=_report_from(data["report"]) if data.get("report") else None,
        failure=None
        if not failure
        else OrderFailure(
            order_id=_raw(failure["order_id"]),
            enclave=str(failure["enclave"]),
            reason_code=int(failure["reason_code"]),
            detail_cid=str(failure.get("detail_cid", "")),
        ),
    )
