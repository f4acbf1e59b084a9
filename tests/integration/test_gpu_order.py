"""CPU + GPU as one attestation on the real devnet (anvil, Kubo, Redis, the CA service over HTTPS).

(a) A provider node offers a simulated CPU + GPU TEE (``gpu_class = "H100"``, its loader started
    with ``LOADER_GPU=simulated``): the loader binds the simulated GPU's evidence into its simulated
    CPU report, the CA certifies the pair, and an order on that offer completes; the enclave's
    certificate (as the key broker read it, in the owner's audit log) and its on-chain record name
    one H100.
(b) An order for a GPU offer is refused to an enclave certified without a GPU, at each of the three
    places that check it: the key broker refuses its keys (``order_gpu_mismatch``, audited), the
    loader of a provider that promises a GPU it does not have refuses the order before fetching
    anything (reason ``enclave_gpu_mismatch``, the customer refunded), and the marketplace reverts
    such an enclave's report (``MarketplaceEnclaveGpuMismatch``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from broker_story import BrokerStory, denials_in, policy_for

from demo.parties import order_as_customer, parties, publish_engine_at
from enclava.chain.types import ResourceKind
from enclava.client import wait_for_order
from enclava.devnet import dev_account
from enclava.protocol.engine.reasons import Reason
from enclava.protocol.order import OrderStatus
from enclava.protocol.tee import TeeType
from tests.e2e.provider_process import ProviderProcess
from tests.engines.fixture_engine import write_engine

pytestmark = pytest.mark.devnet

GPU = "H100"
ECHO = """import hashlib, json, os
data = open(os.path.join(os.environ["ENCLAVA_INPUT_DIR"], "data", "000"), "rb").read()
with open(os.path.join(os.environ["ENCLAVA_OUTPUT_DIR"], "out.json"), "w") as out:
    json.dump({"sha256": hashlib.sha256(data).hexdigest()}, out)
"""


@contextmanager
def gpu_provider(manifest, folder: Path, **fields) -> Iterator[ProviderProcess]:
    """A provider node whose one TEE offer promises ``gpu_class`` (default: the H100 of this
    module); ``simulate_gpu=False``: its loader has no GPU although the offer says so."""
    proc = ProviderProcess(folder=folder, **{"gpu_class": GPU, **fields})
    proc.write_config(manifest.name)
    proc.start_node()
    proc.start_worker()
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture(scope="module")
def market_parties(devnet_manifest):
    return parties(devnet_manifest)


@pytest.fixture(scope="module")
def engine(market_parties, tmp_path_factory):
    folder = write_engine(tmp_path_factory.mktemp("gpu-engine") / "echo", ECHO)
    return publish_engine_at(market_parties, "model_owner", folder, price=10**15)


def _audit_facts(market_parties, resource_id: int, order_id: str) -> list[dict]:
    """The key-release entries about ``order_id`` in the owner's audit log of ``resource_id``."""
    view = market_parties.broker.audit(dev_account("model_owner"), resource_id)
    entries = view["entries"]
    return [e for e in entries if e["event"] == "key_release" and e["order_id"] == order_id.lower()]


# (a) ---------------------------------------------------------------------------------------------


def test_an_order_on_a_gpu_offer_completes_in_a_certified_cpu_gpu_enclave(
    devnet_manifest, market_parties, engine, tmp_path_factory
):
    p = market_parties
    with gpu_provider(
        devnet_manifest, tmp_path_factory.mktemp("provider-gpu"), name="gpu", dev_role="provider"
    ) as provider:
        placed = order_as_customer(p, provider.tee_offer_id(), engine.resource_id)
        order = wait_for_order(p.market, placed.order_id, timeout=240)
        assert order.status == OrderStatus.COMPLETED, provider.jobs().get(placed.order_id)
    assert p.market.verify_report(placed.order_id) == (True, "")

    granted = _audit_facts(p, engine.resource_id, placed.order_id)
    assert granted and all(e["decision"] == "granted" for e in granted), granted
    facts = granted[0]["details"]
    assert (facts["gpu_class"], facts["gpu_count"]) == (GPU, 1)  # read from the certificate

    assert order.enclave is not None
    record = p.market.enclave(order.enclave)
    assert (record.gpu_class, record.gpu_count) == (GPU, 1)


# (b) ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def story(devnet_manifest) -> BrokerStory:
    return BrokerStory(devnet_manifest)


@pytest.fixture(scope="module")
def gpu_offer(story) -> int:
    """provider_b's simulated TEE offer that promises an H100."""
    provider = dev_account("provider_b")
    if not story.market.is_provider(provider.address):
        story.market.register_provider(provider, story.market.min_stake())
    return story.market.publish_tee_offer(
        provider, tee_type=TeeType.SIMULATED, gpu_class=GPU, price_per_second=10**9, slots=8
    )


def _gpu_order(story, resource, tee_offer_id: int) -> str:
    import pyrage

    order_id, _ = story.market.create_order(
        dev_account("customer"),
        engine_id=resource.resource_id,
        resource_ids=[],
        tee_offer_id=tee_offer_id,
        inputs=[],
        recipient_key=str(pyrage.x25519.Identity.generate().to_public()).encode(),
        max_duration=600,
    )
    story.accept(order_id, "provider_b")
    return order_id


def test_the_broker_refuses_a_gpu_orders_keys_to_an_enclave_certified_without_a_gpu(
    story, gpu_offer
):
    resource = story.list_resource("model_owner", ResourceKind.ENGINE, b"print('gpu engine')")
    assert story.deposit(resource, policy_for(resource)).status_code == 200
    cpu_enclave = story.certify("provider_b")  # simulated CPU only: no GPU in its certificate
    order_id = _gpu_order(story, resource, gpu_offer)
    reply = story.release(cpu_enclave, order_id)
    assert reply.status_code == 403, reply.text
    body = reply.json()
    assert body["type"] == "order_gpu_mismatch" and set(body) == {"type", "detail", "hint"}
    assert ("order_gpu_mismatch", "guard_order_gpu") in denials_in(story.audit(resource), order_id)


def test_the_marketplace_reverts_the_report_of_an_enclave_without_the_offers_gpu(story, gpu_offer):
    resource = story.list_resource("model_owner", ResourceKind.ENGINE, b"print('gpu engine 2')")
    cpu_enclave = story.certify("provider_b")
    order_id = _gpu_order(story, resource, gpu_offer)
    assert story.complete_refused(cpu_enclave, order_id, "provider_b") == (
        "MarketplaceEnclaveGpuMismatch"
    )


def test_a_loader_without_the_offers_gpu_refuses_the_order_before_fetching(
    devnet_manifest, market_parties, engine, tmp_path_factory
):
    p = market_parties
    with gpu_provider(
        devnet_manifest,
        tmp_path_factory.mktemp("provider-no-gpu"),
        name="nogpu",
        dev_role="provider_b",
        simulate_gpu=False,
    ) as provider:
        placed = order_as_customer(p, provider.tee_offer_id(), engine.resource_id)
        order = wait_for_order(p.market, placed.order_id, timeout=240)
        assert order.status == OrderStatus.FAILED, provider.jobs().get(placed.order_id)
        assert provider.scratch_entries() == []
    assert p.market.failure_reason(placed.order_id) == int(Reason.ENCLAVE_GPU_MISMATCH)
    assert p.market.payouts_for_order(placed.order_id) == {
        dev_account("customer").address: placed.escrow
    }
    # nothing was asked of the broker: the loader refused before fetching or asking for keys
    assert _audit_facts(p, engine.resource_id, placed.order_id) == []
