"""The loader's failure path: the engine's raw stderr goes into an envelope only the customer opens,
its CID into the signed failure, and nowhere else (unit tests of trusted_loader.pipeline with
stand-ins for the chain client and the IPFS store; real age encryption)."""

from __future__ import annotations

import logging
from types import SimpleNamespace

import pytest

from enclava.crypto import new_resource_key, open_sealed, recipient_of
from enclava.errors import StorageUnavailable
from enclava.protocol.engine.errors import EngineFailed, EngineMemoryExceeded
from enclava.protocol.engine.reasons import Reason
from enclava.protocol.failure_detail import parse_detail
from trusted_loader.errors import OrderNotExecutable
from trusted_loader.pipeline import _fail

ORDER_ID = "0x" + "ab" * 32
SECRET = "patient 4711 glucose 123.45"


class _Store:
    def __init__(self, error: Exception | None = None) -> None:
        self.error, self.added = error, []

    def add(self, data: bytes):
        if self.error:
            raise self.error
        self.added.append(data)
        return SimpleNamespace(cid=f"bafy-detail-{len(self.added)}")


class _Market:
    def __init__(self) -> None:
        self.signed = []

    def sign_failure(self, account, failure) -> bytes:
        self.signed.append(failure)
        return b"\x07" * 65


def _case(store: _Store):
    identity = new_resource_key()
    order = SimpleNamespace(order_id=ORDER_ID, recipient_key=recipient_of(identity).encode())
    ctx = SimpleNamespace(market=_Market(), store=store)
    enclave = SimpleNamespace(address="0x" + "cd" * 20, account=object())
    return identity, order, ctx, enclave


def _engine_error(cls=EngineFailed, message="engine failed with exit code 1"):
    error = cls(message)
    error.raw_stderr_tail = f"Traceback (most recent call last):\nValueError: {SECRET}\n"
    error.stderr_tail = "ValueError: patient <n> glucose <n>"
    return error


def test_failure_detail_is_encrypted_to_the_customer_and_its_cid_signed(caplog):
    identity, order, ctx, enclave = _case(_Store())
    outcome = SimpleNamespace(order_id=ORDER_ID, reason="", failure=None, signature=b"", stages={})
    with caplog.at_level(logging.DEBUG):
        _fail(ctx, enclave, outcome, _engine_error(), order)
    assert outcome.failure.detail_cid == "bafy-detail-1"
    assert ctx.market.signed == [outcome.failure]
    assert outcome.failure.reason_code == Reason.ENGINE_FAILED
    (sealed,) = ctx.store.added
    assert SECRET.encode() not in sealed
    detail = parse_detail(open_sealed(sealed, identity))
    assert detail.reason == "engine_failed"
    assert detail.message == "engine failed with exit code 1"
    assert detail.stderr_tail.endswith(f"ValueError: {SECRET}\n")
    logged = " ".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert "order failed" in logged and "4711" not in logged and "glucose" not in logged


def test_the_detail_names_memory_for_a_memory_kill():
    identity, order, ctx, enclave = _case(_Store())
    outcome = SimpleNamespace(order_id=ORDER_ID, reason="", failure=None, signature=b"", stages={})
    _fail(ctx, enclave, outcome, _engine_error(EngineMemoryExceeded, "needed more"), order)
    assert parse_detail(open_sealed(ctx.store.added[0], identity)).reason == "memory_exceeded"
    assert outcome.failure.reason_code == Reason.MEMORY_EXCEEDED


def test_no_detail_before_the_order_and_its_recipient_key_were_checked():
    _, _, ctx, enclave = _case(_Store())
    outcome = SimpleNamespace(order_id=ORDER_ID, reason="", failure=None, signature=b"", stages={})
    _fail(ctx, enclave, outcome, OrderNotExecutable("not accepted"), None)
    assert outcome.failure.detail_cid == "" and ctx.store.added == []
    assert ctx.market.signed == [outcome.failure]


@pytest.mark.parametrize(
    "store, recipient",
    [(_Store(StorageUnavailable("ipfs down")), None), (_Store(), b"not-an-age-recipient")],
)
def test_a_detail_that_cannot_be_stored_never_blocks_the_refund(store, recipient):
    _, order, ctx, enclave = _case(store)
    if recipient is not None:
        order.recipient_key = recipient
    outcome = SimpleNamespace(order_id=ORDER_ID, reason="", failure=None, signature=b"", stages={})
    _fail(ctx, enclave, outcome, _engine_error(), order)
    assert outcome.failure.detail_cid == "" and outcome.signature == b"\x07" * 65
    assert outcome.failure.reason_code == Reason.ENGINE_FAILED
