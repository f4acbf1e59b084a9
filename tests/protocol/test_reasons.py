"""The reasons table: every on-chain code has words, and unknown codes are named, not crashed."""

from __future__ import annotations

from enclava.protocol.engine.reasons import REASONS, Reason, describe_reason, reason_name


def test_every_reason_has_exactly_one_text():
    assert sorted(REASONS) == sorted(int(r) for r in Reason)
    for reason in Reason:
        text = REASONS[int(reason)]
        assert text.name == reason.name.lower()
        assert text.title and text.hint, reason


def test_describe_reason_names_an_unknown_code():
    text = describe_reason(250)
    assert text.name == "unknown" and "250" in text.title and "Upgrade" in text.hint
    assert reason_name(250) == "unknown"


def test_line_names_the_word_and_the_code():
    line = describe_reason(Reason.MEMORY_EXCEEDED).line()
    assert "memory_exceeded" in line and "6" in line and "memory" in line
