"""End-to-end fixtures: a real provider node with workers on the session's devnet."""

from __future__ import annotations

import pytest

from tests.e2e.provider_process import ProviderProcess
from tests.e2e.story import parties


@pytest.fixture(scope="module")
def market_parties(devnet_manifest):
    return parties(devnet_manifest)


@pytest.fixture(scope="module")
def provider(devnet_manifest, tmp_path_factory):
    proc = ProviderProcess(name="e2e", folder=tmp_path_factory.mktemp("provider-e2e"))
    proc.write_config(devnet_manifest.name)
    proc.start_node()
    proc.start_worker()
    yield proc
    proc.stop()
