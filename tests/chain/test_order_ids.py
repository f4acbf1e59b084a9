"""Order ids as users type them: 0x + 64 hex digits, or refused with OrderNotFound and a hint."""

from __future__ import annotations

import pytest

from enclava.chain.errors import OrderNotFound
from enclava.chain.market import order_id_bytes
from enclava.report import OrderNotFound as ReportOrderNotFound


def test_order_id_bytes_accepts_hex_with_or_without_prefix_and_raw_bytes():
    raw = bytes(range(32))
    assert order_id_bytes("0x" + raw.hex()) == raw
    assert order_id_bytes(raw.hex()) == raw
    assert order_id_bytes(raw) == raw


@pytest.mark.parametrize("bad", ["0xzz" + "00" * 31, "0x1234", "", "not an id", b"\x00" * 31])
def test_order_id_bytes_refuses_anything_else_with_order_not_found(bad):
    with pytest.raises(OrderNotFound) as caught:
        order_id_bytes(bad)
    assert caught.value.code == "order_not_found" and "order id" in caught.value.hint


def test_report_and_chain_share_one_order_not_found():
    assert ReportOrderNotFound is OrderNotFound
