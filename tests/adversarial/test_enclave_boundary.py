"""The enclave is its own process: the provider's worker holds the wallet, the loader holds the
enclave keys, and the interface between them cannot make the enclave sign what it did not produce.

Before this boundary, ``provider_node/runtime.py`` built the enclave identity inside the provider's
worker and ``fail_job`` signed with it, so a provider could sign a report for work never done; and
``startedAt = 0`` billed the full max duration.
"""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest

from demo.parties import order_as_customer, parties, publish_engine_at
from enclava.client import completed_report, wait_for_order
from enclava.devnet import dev_account
from enclava.protocol.engine.reasons import Reason
from enclava.protocol.order import OrderStatus
from provider_node.loader_link import loader_socket_dir
from tests.e2e.provider_process import running_provider
from tests.engines.fixture_engine import write_engine

SLEEPER = """import json, os, time
time.sleep({seconds})
json.dump(
    {{"slept": {seconds}}}, open(os.path.join(os.environ["ENCLAVA_OUTPUT_DIR"], "out.json"), "w")
)
"""


@pytest.fixture(scope="module")
def provider(devnet_manifest, tmp_path_factory):
    with running_provider(
        devnet_manifest, "boundary", tmp_path_factory.mktemp("provider-boundary")
    ) as proc:
        yield proc


@pytest.fixture(scope="module")
def p(devnet_manifest):
    return parties(devnet_manifest)


def _sleeper(p, folder: Path, seconds: int, wall: int = 30):
    return publish_engine_at(
        p,
        "model_owner",
        write_engine(folder, SLEEPER.format(seconds=seconds), wall=wall),
        price=10**15,
    )


def _sockets(provider) -> list[Path]:
    return sorted(loader_socket_dir(provider.folder / "state" / "loader").glob("*.sock"))


def _loader_processes(provider) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if b"trusted_loader.main" in cmdline and str(provider.folder).encode() in environ:
            pids.append(int(entry.name))
    return pids


@pytest.fixture(scope="module")
def completed(p, provider, tmp_path_factory):
    """One order that ran a 3-second engine to completion."""
    engine = _sleeper(p, tmp_path_factory.mktemp("sleeper") / "engine", 3)
    placed = order_as_customer(p, provider.tee_offer_id(), engine.resource_id)
    order = wait_for_order(p.market, placed.order_id, timeout=240)
    assert order.status == OrderStatus.COMPLETED, provider.jobs().get(placed.order_id)
    return placed, order


def test_loader_runs_as_its_own_process_without_the_provider_wallet(provider, completed):
    pids = _loader_processes(provider)
    assert pids, "no trusted-loader process runs for this provider"
    secret = dev_account("provider").key.hex().removeprefix("0x").encode()
    workers = {w.pid for w in provider.workers}
    for pid in pids:
        environ = Path(f"/proc/{pid}/environ").read_bytes()
        names = {item.split(b"=", 1)[0] for item in environ.split(b"\0") if item}
        assert not [
            n for n in names if n.startswith(b"PROVIDER_") or n == b"ENCLAVA_PROVIDER_CONFIG"
        ]
        assert secret not in environ.lower()
        assert secret not in Path(f"/proc/{pid}/cmdline").read_bytes().lower()
        assert pid not in workers and pid != os.getpid()


def test_report_is_signed_by_the_loaders_enclave(p, provider, completed):
    placed, order = completed
    statuses = []
    for sock in _sockets(provider):
        with httpx.Client(
            transport=httpx.HTTPTransport(uds=str(sock)), base_url="http://loader"
        ) as http:
            statuses.append(http.get("/v1/enclave").json())
    assert order.enclave in {s["enclave"] for s in statuses}
    assert all("key" not in name for s in statuses for name in s)  # public facts only


def test_loader_refuses_to_sign_a_timeout_for_an_order_with_time_left(provider, completed):
    placed, _ = completed
    answers = []
    for sock in _sockets(provider):
        with httpx.Client(
            transport=httpx.HTTPTransport(uds=str(sock)), base_url="http://loader"
        ) as http:
            answers.append(http.post(f"/v1/orders/{placed.order_id}/timeout"))
    assert answers and all(a.status_code == 400 for a in answers), [a.text for a in answers]
    assert {a.json()["type"] for a in answers} == {"engine_timeout"}


def test_billed_time_is_the_enclaves_measured_run_time(p, completed):
    placed, order = completed
    report, _ = completed_report(p.market, placed.order_id)
    billed = report.finished_at - report.started_at
    assert report.started_at >= order.accepted_at
    assert 3 <= billed <= 60, billed  # the engine slept 3 s; the enclave measured the whole run
    paid = p.market.payouts_for_order(placed.order_id)
    price = order.terms.price_per_second
    assert paid[order.terms.provider] == price * billed
    assert paid[dev_account("customer").address] == price * (order.terms.max_duration - billed)


def test_engine_is_stopped_at_the_end_of_the_orders_window(p, provider, tmp_path):
    engine = _sleeper(p, tmp_path / "engine", 12, wall=30)  # its manifest allows 30 s
    placed = order_as_customer(p, provider.tee_offer_id(), engine.resource_id, max_duration=6)
    order = wait_for_order(p.market, placed.order_id, timeout=240)
    assert order.status == OrderStatus.FAILED
    assert p.market.failure_reason(placed.order_id) == int(Reason.TIMEOUT)
    assert p.market.payouts_for_order(placed.order_id) == {
        dev_account("customer").address: placed.escrow
    }
