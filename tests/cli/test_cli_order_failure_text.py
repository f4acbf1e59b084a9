"""What `order status --wallet` prints of a failure detail: the engine's text, never its terminal
control sequences (unit test of the printing helper; the devnet run is in
tests/e2e/test_order_failures.py)."""

from __future__ import annotations

from enclava.cli.order import _printable


def test_terminal_escapes_in_engine_output_are_shown_not_obeyed():
    text = "ValueError: bad row\n\tat 3\x1b[2J\x1b]0;owned\x07\u202e"
    assert _printable(text) == "ValueError: bad row\n\tat 3\\x1b[2J\\x1b]0;owned\\x07\ufffd"
