"""examples/provider.toml loads as it is, names a wallet (not a raw key), and explains every key;
the wallet setting's mistakes are refused with a hint; ``http_port = 0`` serves on a free port and
logs its URL."""

from __future__ import annotations

import logging
import os
import re
import time
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
from eth_account import Account

from enclava.errors import ConfigError
from enclava.wallet import WrongPassword, create_wallet
from provider_node.errors import ProviderWalletInvalid
from provider_node.jobs import JobStore
from provider_node.node import ProviderNode
from provider_node.settings import ProviderSettings, load_settings

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "provider.toml"
PASSWORD = "provider password"


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    """A clean ENCLAVA_HOME and no PROVIDER_* variables from the caller's shell."""
    for name in [n for n in os.environ if n.startswith("PROVIDER_")]:
        monkeypatch.delenv(name)
    monkeypatch.delenv("ENCLAVA_PROVIDER_CONFIG", raising=False)
    monkeypatch.setenv("ENCLAVA_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def test_the_example_loads_and_signs_with_the_wallet_it_names(home, monkeypatch):
    made = create_wallet("provider", PASSWORD)
    monkeypatch.setenv("PROVIDER_WALLET_PASSWORD", PASSWORD)
    settings = load_settings(EXAMPLE)
    assert settings.wallet == "provider" and settings.private_key is None
    assert settings.account().address == made.address
    assert [(o.tee_type, o.price_per_second) for o in settings.tee_offers] == [("simulated", 10**9)]


def test_the_example_names_no_raw_key_and_explains_every_setting():
    text = EXAMPLE.read_text()
    assert not re.search(r"^private_key\s*=", text, re.MULTILINE)  # only as a commented option
    named = set(re.findall(r"^#?\s*([a-z_]+)\s*=", text, re.MULTILINE))
    named |= set(re.findall(r"^\[\[([a-z_]+)\]\]", text, re.MULTILINE))
    # the password is never a key of the file: the example names its variable instead
    assert "PROVIDER_WALLET_PASSWORD" in text
    fields = set(ProviderSettings.model_fields) - {"wallet_password"}
    assert fields - named == set(), "settings the example does not explain"
    assert named - fields - {"tee_type", "gpu_class", "price_per_second", "slots"} == set()


def test_a_password_file_opens_the_wallet(home, tmp_path):
    made = create_wallet("provider", PASSWORD)
    secret = tmp_path / "provider.password"
    secret.write_text(PASSWORD + "\n")
    settings = load_settings(EXAMPLE, wallet_password_file=str(secret))
    assert settings.account().address == made.address


def test_a_wallet_without_a_password_source_is_refused_with_the_variable_to_set(home):
    with pytest.raises(ConfigError, match="PROVIDER_WALLET_PASSWORD"):
        load_settings(EXAMPLE)


def test_a_wrong_password_names_the_provider_variable(home, monkeypatch):
    create_wallet("provider", PASSWORD)
    monkeypatch.setenv("PROVIDER_WALLET_PASSWORD", "not it")
    with pytest.raises(WrongPassword) as caught:
        load_settings(EXAMPLE).account()
    assert "PROVIDER_WALLET_PASSWORD" in caught.value.hint


def test_an_unreadable_password_file_is_a_typed_error(home, tmp_path):
    create_wallet("provider", PASSWORD)
    settings = load_settings(EXAMPLE, wallet_password_file=str(tmp_path / "missing"))
    with pytest.raises(ProviderWalletInvalid, match="missing"):
        settings.account()


def test_wallet_and_private_key_together_are_refused(home, monkeypatch):
    monkeypatch.setenv("PROVIDER_WALLET_PASSWORD", PASSWORD)
    with pytest.raises(ConfigError, match="not both"):
        load_settings(EXAMPLE, private_key=Account.create().key.hex())


def test_a_raw_private_key_is_still_accepted(home):
    account = Account.create()
    settings = load_settings(EXAMPLE, wallet="", private_key=account.key.hex())
    assert settings.account().address == account.address


def test_http_port_zero_serves_on_a_free_port_and_logs_the_url(tmp_path, caplog):
    settings = ProviderSettings(http_port=0, state_dir=str(tmp_path))
    jobs = JobStore(f"sqlite:///{tmp_path / 'jobs.db'}")
    runtime = SimpleNamespace(settings=settings, jobs=jobs, account=Account.create())
    node = ProviderNode(runtime, celery=None)  # type: ignore[arg-type]
    with caplog.at_level(logging.INFO, logger="provider_node.node"):
        server = node._serve_http()
    try:
        lines = [
            r.getMessage() for r in caplog.records if "provider node HTTP at" in r.getMessage()
        ]
        assert len(lines) == 1, caplog.records
        url = re.search(r"http://127\.0\.0\.1:(\d+)", lines[0])
        assert url and int(url.group(1)) != 0 and node.http_url == url.group(0)
        for _ in range(100):
            try:
                reply = httpx.get(f"{node.http_url}/healthz", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.05)
        else:
            pytest.fail(f"nothing answers at {node.http_url}")
        assert reply.json()["status"] == "ok"
        assert httpx.get(f"{node.http_url}/v1/jobs/0x{'ab' * 32}", timeout=2).status_code == 404
    finally:
        server.should_exit = True
        jobs.dispose()
