"""ServiceClient's pieces that need no chain: a deployment without ServiceMarket says so with a
hint, service ids are checked before any call, and a state word reads as the contract means it.
(The devnet test, test_services.py, drives the real contract.)"""

from __future__ import annotations

import pytest
from web3 import Web3

from enclava.chain.contracts import ContractSet
from enclava.chain.services import (
    ServiceNotFound,
    ServiceState,
    ServiceStatus,
    service_id_bytes,
)
from enclava.errors import ChainError

FOUR = {
    "ProviderRegistry": "0x" + "11" * 20,
    "ResourceRegistry": "0x" + "22" * 20,
    "AttestationRegistry": "0x" + "33" * 20,
    "Marketplace": "0x" + "44" * 20,
}


def test_a_deployment_without_service_market_still_binds_the_four_and_says_what_is_missing():
    contracts = ContractSet(Web3(), FOUR)
    assert contracts.marketplace.address == Web3.to_checksum_address(FOUR["Marketplace"])
    with pytest.raises(ChainError, match="ServiceMarket") as caught:
        _ = contracts.service_market
    assert "deploy.py" in caught.value.hint


def test_a_deployment_with_service_market_binds_it():
    address = "0x" + "55" * 20
    contracts = ContractSet(Web3(), {**FOUR, "ServiceMarket": address})
    assert contracts.service_market.address == Web3.to_checksum_address(address)
    assert "settle" in {f["name"] for f in contracts.service_market.abi if "name" in f}


@pytest.mark.parametrize("bad", ["0x1234", "not hex", b"\x00" * 31, 42])
def test_malformed_service_ids_are_service_not_found(bad):
    with pytest.raises(ServiceNotFound):
        service_id_bytes(bad)


def test_service_ids_are_read_as_hex_or_bytes():
    raw = bytes(range(32))
    assert service_id_bytes("0x" + raw.hex()) == service_id_bytes(raw) == raw


def test_a_service_is_live_only_while_started_unstopped_and_before_its_end():
    live = ServiceState(ServiceStatus.LIVE, ends_at=1_000, stopped_at=0)
    assert live.live_at(999) and not live.live_at(1_000)
    assert not ServiceState(ServiceStatus.STOPPED, ends_at=1_000, stopped_at=500).live_at(600)
    assert not ServiceState(ServiceStatus.NONE, ends_at=0, stopped_at=0).live_at(0)
