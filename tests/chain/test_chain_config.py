"""The one chain configuration: an RPC URL with an addresses file (any EVM chain), or a devnet
manifest; every service's settings reach the chain through it."""

from __future__ import annotations

import json

import pytest

from certification_authority.settings import CaSettings
from enclava.chain.config import (
    ChainConfig,
    Manifest,
    load_addresses,
    load_chain_config,
    read_manifest,
)
from enclava.chain.rpc import ChainClient
from enclava.errors import ConfigError, DevnetError
from marketplace_api.settings import MarketSettings
from provider_node.settings import ProviderSettings
from trusted_loader.settings import LoaderSettings

ADDRESSES = {
    "ProviderRegistry": "0x" + "11" * 20,
    "ResourceRegistry": "0x" + "22" * 20,
    "AttestationRegistry": "0x" + "33" * 20,
    "Marketplace": "0x" + "44" * 20,
}


def _manifest(tmp_path) -> Manifest:
    manifest = Manifest(
        name="t",
        state_dir=str(tmp_path),
        chain_id=31337,
        rpc_url="http://127.0.0.1:8545",
        ipfs_api="",
        ipfs_gateway="",
        redis_url="",
        accounts=[],
        contracts=dict(ADDRESSES),
        deploy_block=7,
    )
    manifest.save()
    return manifest


def test_addresses_file_gives_the_contracts_and_optional_chain_facts(tmp_path):
    path = tmp_path / "addresses.json"
    path.write_text(json.dumps({**ADDRESSES, "chain_id": 10, "deploy_block": 5}))
    contracts, extras = load_addresses(path)
    assert contracts == ADDRESSES
    assert extras == {"chain_id": 10, "deploy_block": 5}


def test_deployment_record_of_the_deploy_script_is_an_addresses_file(tmp_path):
    path = tmp_path / "deployment.json"
    record = {"chain_id": 11155111, "deployer": "0x" + "55" * 20, "block": 42}
    path.write_text(json.dumps({**record, "contracts": ADDRESSES, "parameters": {}}))
    config = load_chain_config(rpc_url="https://rpc.example", addresses=path)
    assert config == ChainConfig("https://rpc.example", ADDRESSES, 11155111, 42)


def test_addresses_missing_a_contract_are_refused(tmp_path):
    partial = {k: v for k, v in ADDRESSES.items() if k != "Marketplace"}
    with pytest.raises(ConfigError, match="Marketplace"):
        load_addresses(json.dumps(partial))


def test_rpc_url_without_addresses_is_refused_with_the_setting_to_add():
    with pytest.raises(ConfigError) as info:
        load_chain_config(rpc_url="https://rpc.example", env_prefix="CA_")
    assert "CA_ADDRESSES" in (info.value.hint or "")


def test_manifest_gives_rpc_contracts_chain_id_and_deploy_block(tmp_path):
    manifest = _manifest(tmp_path)
    config = load_chain_config(manifest=tmp_path / "manifest.json")
    assert config == ChainConfig(manifest.rpc_url, ADDRESSES, 31337, 7)
    assert read_manifest(tmp_path / "manifest.json") == manifest


def test_missing_manifest_is_a_devnet_error(tmp_path):
    with pytest.raises(DevnetError):
        load_chain_config(manifest=tmp_path / "nope.json")


def test_ca_reaches_any_chain_from_rpc_url_chain_id_and_addresses_file(tmp_path):
    path = tmp_path / "addresses.json"
    path.write_text(json.dumps(ADDRESSES))
    settings = CaSettings(
        state_dir=tmp_path, rpc_url="https://rpc.example", chain_id=10, addresses=str(path)
    )
    assert settings.chain_config() == ChainConfig("https://rpc.example", ADDRESSES, 10, 0)


def test_market_and_loader_settings_read_the_same_shape(tmp_path):
    path = tmp_path / "addresses.json"
    path.write_text(json.dumps({**ADDRESSES, "deploy_block": 3}))
    market = MarketSettings(rpc_url="https://rpc.example", chain_id=10, addresses=str(path))
    loader = LoaderSettings(
        socket="/tmp/s",
        provider="0x" + "66" * 20,
        rpc_url="https://rpc.example",
        ipfs_api="http://127.0.0.1:5001",
        ca_url="https://ca.example",
        addresses=str(path),
        chain_id=10,
    )
    provider = ProviderSettings(rpc_url="https://rpc.example", chain_id=10, addresses=str(path))
    expected = ChainConfig("https://rpc.example", ADDRESSES, 10, 3)
    assert market.chain_config() == expected
    assert loader.chain_config() == expected
    assert provider.chain_config() == expected


def test_a_provider_contracts_table_still_works_with_a_deprecation_warning():
    with pytest.warns(FutureWarning, match="addresses"):
        provider = ProviderSettings(
            rpc_url="https://rpc.example", contracts=ADDRESSES, deploy_block=3
        )
    assert provider.chain_config() == ChainConfig("https://rpc.example", ADDRESSES, None, 3)


def test_connect_refuses_an_rpc_serving_another_chain(monkeypatch):
    monkeypatch.setattr(ChainClient, "chain_id", lambda self: 1)
    with pytest.raises(ConfigError, match="serves chain 1, not 10"):
        ChainConfig("http://127.0.0.1:1", ADDRESSES, chain_id=10).connect()


def test_an_addresses_file_with_a_non_numeric_chain_id_is_a_config_error(tmp_path):
    path = tmp_path / "addresses.json"
    path.write_text(json.dumps({**ADDRESSES, "chain_id": "mainnet"}))
    with pytest.raises(ConfigError, match="chain_id is not a number"):
        load_chain_config(rpc_url="https://rpc.example", addresses=str(path))
