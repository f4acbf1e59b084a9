"""The node publishes a report only once the chain can accept its ``finishedAt`` (unit test of
``provider_node.executor._wait_for_block_time`` with a stand-in clock and chain time)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from provider_node import executor


class _Clock:
    """Wall and monotonic time that advance only when the code under test sleeps."""

    def __init__(self, wall: float) -> None:
        self.wall, self.slept = wall, 0.0

    def time(self) -> float:
        return self.wall

    def monotonic(self) -> float:
        return self.slept

    def sleep(self, seconds: float) -> None:
        self.wall += seconds
        self.slept += seconds


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> _Clock:
    fake = _Clock(wall=1_000.3)
    monkeypatch.setattr(executor.time, "time", fake.time)
    monkeypatch.setattr(executor.time, "monotonic", fake.monotonic)
    monkeypatch.setattr(executor.time, "sleep", fake.sleep)
    return fake


def _runtime(chain_time: int) -> SimpleNamespace:
    return SimpleNamespace(market=SimpleNamespace(chain_time=lambda: chain_time))


def test_wait_holds_a_report_rounded_up_past_the_latest_block(clock: _Clock) -> None:
    # latest block at 1000, wall clock 1000.3, the run's end rounded up to 1001: a block mined now
    # could still carry 1000, so the node must wait until the wall clock reaches 1001
    executor._wait_for_block_time(_runtime(1_000), 1_001)
    assert clock.wall >= 1_001 and clock.slept == pytest.approx(0.8)


def test_wait_returns_at_once_when_the_chain_is_already_there(clock: _Clock) -> None:
    executor._wait_for_block_time(_runtime(1_005), 1_003)  # blocks ran ahead of the wall clock
    assert clock.slept == 0.0


def test_wait_gives_up_after_its_bound(clock: _Clock) -> None:
    executor._wait_for_block_time(_runtime(1_000), 10_000)  # a forged far-future end
    assert clock.slept == pytest.approx(executor.MAX_CLOCK_WAIT_S, abs=0.3)
