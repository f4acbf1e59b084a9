"""Orders, providers, TEE offers and reports indexed from a real completed order; indexer
idempotence."""

from __future__ import annotations

import chain_story
import pytest
from market_helpers import index
from sqlalchemy import select

from marketplace_api import db

pytestmark = pytest.mark.devnet


@pytest.fixture(scope="module")
def completed(market, devnet_manifest):
    order = chain_story.completed_order(devnet_manifest)
    index(market)
    return order


def _snapshot(market) -> dict:
    sessions = market.app.state.services.sessions
    with sessions() as s:
        return {
            model.__tablename__: sorted(
                repr(sorted((c.name, getattr(row, c.name)) for c in model.__table__.columns))
                for row in s.scalars(select(model)).all()
            )
            for model in (db.Provider, db.TeeOffer, db.Resource, db.Order, db.Enclave, db.Cursor)
        }


def test_completed_order_is_indexed_with_its_report(market, completed):
    order = market.get(f"/v1/orders/{completed.order_id}").json()
    assert order["status"] == "COMPLETED" and order["customer"] == completed.customer.address
    assert order["enclave"] == completed.enclave.address
    assert order["report"]["outputCid"] == completed.output_cid and order["report"][
        "signature"
    ].startswith("0x")
    assert order["engine_id"] == completed.engine_id and order["tee_type"] == "SIMULATED"


def test_orders_by_wallet_as_customer_and_provider(market, completed):
    mine = market.get(f"/v1/wallets/{completed.customer.address}/orders").json()
    assert [o["order_id"] for o in mine["items"]] == [completed.order_id]
    as_provider = market.get(
        f"/v1/wallets/{completed.provider.address}/orders", params={"role": "provider"}
    ).json()
    assert as_provider["total"] == 1
    assert (
        market.get(
            f"/v1/wallets/{completed.provider.address}/orders", params={"role": "customer"}
        ).json()["total"]
        == 0
    )


def test_provider_and_tee_offer_detail(market, completed):
    provider = market.get(f"/v1/providers/{completed.provider.address}").json()
    assert provider["stake_wei"] == str(chain_story.MIN_STAKE)
    assert [o["tee_offer_id"] for o in provider["tee_offers"]] == [completed.tee_offer_id]
    assert [e["address"] for e in provider["enclaves"]] == [completed.enclave.address]
    tee_offer = market.get(f"/v1/tee-offers/{completed.tee_offer_id}").json()
    assert (
        tee_offer["tee_type"] == "SIMULATED"
        and tee_offer["gpu_class"] == "cpu"
        and tee_offer["slots"] == 4
    )
    assert completed.tee_offer_id in [
        o["tee_offer_id"]
        for o in market.get("/v1/tee-offers", params={"tee_type": "SIMULATED"}).json()["items"]
    ]


def test_report_detail_carries_its_verification(market, completed):
    reply = market.get(f"/v1/reports/{completed.order_id}").json()
    assert reply["verified"] is True
    assert {i["name"]: i["status"] for i in reply["checklist"]["items"]}["signature"] == "ok"


def test_report_of_an_unknown_order_is_404_in_the_one_shape(market):
    reply = market.get("/v1/reports/0x" + "cd" * 32)
    assert reply.status_code == 404 and reply.json()["type"] == "order_not_found"


def test_indexing_the_same_blocks_again_changes_nothing(market, completed):
    index(market)
    before = _snapshot(market)
    indexer = market.app.state.services.indexer
    applied = indexer.index_range(indexer.chain.start_block, indexer.cursor())
    assert applied > 0  # the events were really replayed
    assert _snapshot(market) == before


def test_order_status_follows_cancellation(market, story, completed):
    customer = chain_story.fresh_account(story, eth=1)
    order_id, terms = chain_story.create_order(
        story, customer, completed.engine_id, completed.tee_offer_id, [b"in"]
    )
    index(market)
    assert market.get(f"/v1/orders/{order_id}").json()["status"] == "OPEN"
    from enclava.protocol.order import OrderTerms

    cancel = story.contracts.marketplace.functions.cancelOrder
    story.send(customer, cancel(OrderTerms.from_event(terms).as_tuple()))
    index(market)
    assert market.get(f"/v1/orders/{order_id}").json()["status"] == "CANCELLED"


def test_report_page_says_not_verified_after_the_enclave_is_revoked(market, story, devnet_manifest):
    from enclava.devnet import dev_account

    order = chain_story.completed_order(devnet_manifest)
    page = market.get(f"/reports/{order.order_id}")
    assert page.status_code == 200
    assert 'class="status verified-warning">verified (simulated TEE), 1 check skipped<' in page.text
    story.send(
        dev_account("deployer"),
        story.contracts.attestation_registry.functions.revokeEnclave(order.enclave.address),
    )
    page = market.get(f"/reports/{order.order_id}")
    assert 'class="status not-verified">not verified<' in page.text
    assert market.get(f"/v1/reports/{order.order_id}").json()["verified"] is False
