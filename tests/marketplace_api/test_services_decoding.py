"""Unit tests of the serving events' decoding (no chain): real ServiceMarket ABI, logs encoded as
the contract emits them, decoded by web3 and applied to an in-memory index.

A ``ServiceStarted`` whose terms do not hash to its id (an RPC node inventing or altering terms)
adds no service; endpoint, enclave and stop events of an unknown service add nothing; replaying
older events moves nothing back.
"""

from __future__ import annotations

import sqlite3
from dataclasses import replace

import pytest
from eth_abi.abi import encode as abi_encode
from eth_utils.abi import event_abi_to_log_topic
from sqlalchemy import inspect
from sqlalchemy.orm import Session
from web3 import Web3

from enclava.chain.contracts import load_abi
from enclava.protocol.service_terms import TERMS_ABI, ServiceTerms
from marketplace_api import db
from marketplace_api import queries_services as qs
from marketplace_api.errors import ServiceUnknown
from marketplace_api.indexer_services import SERVICE_HANDLERS, started_values

MARKET = Web3.to_checksum_address("0x" + "ab" * 20)
PROVIDER = Web3.to_checksum_address("0x" + "01" * 20)
OWNER = Web3.to_checksum_address("0x" + "02" * 20)
ENCLAVE = Web3.to_checksum_address("0x" + "03" * 20)
TX = b"\x44" * 32


@pytest.fixture(scope="module")
def events():
    return Web3().eth.contract(address=MARKET, abi=load_abi("ServiceMarket")).events


@pytest.fixture
def session():
    engine = db.make_engine("sqlite://")
    with db.make_sessionmaker(engine)() as s:
        yield s
    engine.dispose()


def terms(**changes) -> ServiceTerms:
    base = ServiceTerms(
        nonce=77,
        provider=PROVIDER,
        tee_offer_id=3,
        tee_type=3,
        model_id=9,
        model_owner=OWNER,
        model_hash="0x" + "5e" * 32,
        input_token_price=2 * 10**9,
        output_token_price=5 * 10**9,
        provider_per_token=False,
        provider_price=10**9,
        ends_at=4_000_000_000,
    )
    return replace(base, **changes)


def _word(value: int | bytes | str) -> bytes:
    if isinstance(value, str):
        return bytes(12) + bytes.fromhex(value[2:])
    if isinstance(value, bytes):
        return value
    return value.to_bytes(32, "big")


def _log(event, topics: list, data: bytes, *, block: int = 10, index: int = 0) -> dict:
    return {
        "address": MARKET,
        "topics": [bytes(event_abi_to_log_topic(event.abi)), *(_word(t) for t in topics)],
        "data": data,
        "blockNumber": block,
        "logIndex": index,
        "transactionHash": TX,
        "transactionIndex": 0,
        "blockHash": b"\x55" * 32,
        "removed": False,
    }


def started_log(events, t: ServiceTerms, *, service_id: str | None = None, block: int = 10):
    sid = bytes.fromhex((service_id or t.service_id)[2:])
    data = abi_encode(["uint256", TERMS_ABI], [t.tee_offer_id, t.to_abi()])
    raw = _log(events.ServiceStarted, [sid, t.provider, t.model_id], data, block=block)
    return events.ServiceStarted().process_log(raw), raw


def apply(session: Session, name: str, decoded, raw) -> None:
    pos = db.event_pos(raw["blockNumber"], raw["logIndex"])
    SERVICE_HANDLERS[name](session, decoded["args"], pos, raw)
    session.flush()


def test_a_started_service_is_decoded_from_its_event(events, session):
    t = terms()
    decoded, raw = started_log(events, t)
    values = started_values(decoded["args"], raw)
    assert values is not None
    assert values["service_id"] == t.service_id
    assert values["provider"] == PROVIDER and values["model_id"] == "9"
    assert values["input_token_price_wei"] == str(2 * 10**9)
    assert values["output_token_price_wei"] == str(5 * 10**9)
    assert values["provider_per_token"] is False and values["ends_at"] == "4000000000"
    apply(session, "ServiceStarted", decoded, raw)
    view = qs.service_detail(session, t.service_id)
    assert view["status"] == "LIVE" and view["live"] is True
    assert view["provider_price_mode"] == "per_second" and view["tee_type"] == "SIMULATED"
    assert ServiceTerms.from_json(view["terms"]) == t  # the terms as stored hash to the id


def test_a_forged_started_event_whose_terms_do_not_hash_to_its_id_is_left_out(events, session):
    genuine = terms()
    forged = terms(input_token_price=1, output_token_price=1)  # cheaper terms, the same id
    decoded, raw = started_log(events, forged, service_id=genuine.service_id)
    assert started_values(decoded["args"], raw) is None
    apply(session, "ServiceStarted", decoded, raw)
    assert session.get(db.Service, genuine.service_id) is None
    assert qs.list_services(session)["total"] == 0
    with pytest.raises(ServiceUnknown) as caught:
        qs.service_detail(session, genuine.service_id)
    assert caught.value.code == "service_not_found" and caught.value.http_status == 404


def test_endpoint_enclave_and_stop_apply_in_order_and_replays_change_nothing(events, session):
    t = terms()
    sid = bytes.fromhex(t.service_id[2:])
    decoded, raw = started_log(events, t, block=10)
    apply(session, "ServiceStarted", decoded, raw)
    url = abi_encode(["string"], ["https://serve.example:8443"])
    endpoint_raw = _log(events.ServiceEndpointSet, [sid], url, block=11)
    endpoint = events.ServiceEndpointSet().process_log(endpoint_raw)
    apply(session, "ServiceEndpointSet", endpoint, endpoint_raw)
    bound_raw = _log(events.ServiceEnclaveBound, [sid, ENCLAVE], b"", block=12)
    apply(
        session,
        "ServiceEnclaveBound",
        events.ServiceEnclaveBound().process_log(bound_raw),
        bound_raw,
    )
    stop_raw = _log(events.ServiceStopped, [sid], _word(1_700_000_123), block=13)
    apply(session, "ServiceStopped", events.ServiceStopped().process_log(stop_raw), stop_raw)
    newer_url = abi_encode(["string"], ["https://other.example"])
    old_raw = _log(events.ServiceEndpointSet, [sid], newer_url, block=11, index=0)
    apply(session, "ServiceEndpointSet", events.ServiceEndpointSet().process_log(old_raw), old_raw)
    apply(session, "ServiceStarted", decoded, raw)  # the start again: nothing moves back
    view = qs.service_detail(session, t.service_id)
    assert view["endpoint"] == "https://serve.example:8443"
    assert view["enclave"] == ENCLAVE
    assert view["status"] == "STOPPED" and view["stopped_at"] == 1_700_000_123
    assert qs.list_services(session, live=True)["total"] == 0
    assert qs.list_services(session, live=False)["total"] == 1


def test_events_of_an_unknown_service_add_nothing(events, session):
    sid = b"\x99" * 32
    raw = _log(events.ServiceEndpointSet, [sid], abi_encode(["string"], ["https://x.example"]))
    apply(session, "ServiceEndpointSet", events.ServiceEndpointSet().process_log(raw), raw)
    assert session.get(db.Service, "0x" + sid.hex()) is None


def test_an_ended_service_is_not_live(events, session):
    t = terms(ends_at=1_000)
    decoded, raw = started_log(events, t)
    apply(session, "ServiceStarted", decoded, raw)
    assert qs.service_detail(session, t.service_id)["status"] == "ENDED"
    assert qs.list_services(session, live=True, now=999)["total"] == 1
    assert qs.list_services(session, live=True, now=1_000)["total"] == 0


def test_token_prices_follow_the_latest_event(events, session):
    def prices(inp: int, out: int, block: int):
        data = abi_encode(["uint256", "uint256"], [inp, out])
        raw = _log(events.TokenPricesSet, [9], data, block=block)
        apply(session, "TokenPricesSet", events.TokenPricesSet().process_log(raw), raw)

    prices(3, 4, block=20)
    prices(7, 8, block=21)
    prices(3, 4, block=20)  # a replay of the older event
    assert qs.token_prices(session, 9) == {"input_wei": "7", "output_wei": "8"}
    assert qs.token_prices(session, 10) is None


def test_an_index_made_before_services_replays_the_chain_to_fill_them(tmp_path):
    path = tmp_path / "before-services.db"
    db.make_engine(f"sqlite:///{path}").dispose()
    with sqlite3.connect(path) as old:  # the tables as they were before issue 17
        old.execute("DROP TABLE services")
        old.execute("DROP TABLE token_prices")
        old.execute("INSERT INTO index_cursor (name, block) VALUES ('chain', 42)")
    engine = db.make_engine(f"sqlite:///{path}")
    found = inspect(engine)
    assert found.has_table("services") and found.has_table("token_prices")
    with engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT count(*) FROM index_cursor").scalar() == 0
    engine.dispose()
