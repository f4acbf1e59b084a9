"""The failure detail's JSON (what the loader writes and the customer reads) and its wire field."""

from __future__ import annotations

import json

import pytest

from enclava.protocol.errors import FailureDetailInvalid
from enclava.protocol.failure_detail import (
    MAX_STDERR_TAIL,
    FailureDetail,
    detail_json,
    parse_detail,
)
from enclava.protocol.loader_api import SignedOutcome, outcome_from_json, outcome_to_json
from enclava.protocol.order import OrderFailure


def test_detail_is_canonical_json_that_reads_back():
    detail = FailureDetail("engine_failed", "engine failed with exit code 1", "Traceback\nboom\n")
    data = detail_json(detail)
    assert data == (
        b'{"message":"engine failed with exit code 1","reason":"engine_failed",'
        b'"stderr_tail":"Traceback\\nboom\\n"}'
    )
    assert parse_detail(data) == detail


def test_detail_keeps_the_end_of_a_long_tail_within_8_kib():
    tail = "x" * 10_000 + "é" * 3 + "the last line\n"
    kept = json.loads(detail_json(FailureDetail("engine_failed", "m", tail)))["stderr_tail"]
    assert kept.endswith("ééé" + "the last line\n")
    assert len(kept.encode("utf-8")) <= MAX_STDERR_TAIL


def test_detail_cut_inside_a_character_drops_the_partial_character():
    tail = "é" * MAX_STDERR_TAIL  # 2 bytes each: the cut lands on a character's second byte
    kept = json.loads(detail_json(FailureDetail("engine_failed", "m", tail + "!")))["stderr_tail"]
    assert kept.endswith("!") and set(kept[:-1]) == {"é"}
    assert len(kept.encode("utf-8")) <= MAX_STDERR_TAIL


@pytest.mark.parametrize(
    "data",
    [
        b"not json",
        b"\xff\xfe",
        b"[]",
        b'{"reason":"engine_failed","message":"m"}',
        b'{"reason":3,"message":"m","stderr_tail":""}',
        b'{"reason":"r","message":"m","stderr_tail":"' + b"x" * 200_000 + b'"}',
    ],
)
def test_a_detail_that_is_not_the_documented_json_is_refused(data):
    with pytest.raises(FailureDetailInvalid):
        parse_detail(data)


def test_the_loader_wire_carries_the_detail_cid():
    failure = OrderFailure(b"\x01" * 32, "0x" + "ab" * 20, 3, "bafy-detail")
    outcome = SignedOutcome(order_id="0x" + "01" * 32, failure=failure, signature=b"\x05" * 65)
    back = outcome_from_json(json.loads(json.dumps(outcome_to_json(outcome))))
    assert back.failure == failure and back.failure.as_tuple()[3] == "bafy-detail"
