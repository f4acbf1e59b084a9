"""End-to-end fixtures: a real provider node with workers on the session's devnet."""

from __future__ import annotations

import pytest

from demo.parties import parties
from tests.e2e.provider_process import running_provider


@pytest.fixture(scope="module")
def market_parties(devnet_manifest):
    return parties(devnet_manifest)


@pytest.fixture(scope="module")
def provider(devnet_manifest, tmp_path_factory):
    with running_provider(devnet_manifest, "e2e", tmp_path_factory.mktemp("provider-e2e")) as proc:
        yield proc
