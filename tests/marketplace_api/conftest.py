"""Fixtures: the marketplace app in-process (TestClient) on the real devnet."""

from __future__ import annotations

import chain_story
import pytest
from fastapi.testclient import TestClient
from market_helpers import market_settings

from marketplace_api import create_app


@pytest.fixture(scope="module")
def market(devnet_manifest, tmp_path_factory):
    app = create_app(market_settings(devnet_manifest, tmp_path_factory.mktemp("market")))
    with TestClient(app) as client:
        yield client


@pytest.fixture(scope="module")
def story(devnet_manifest):
    return chain_story.Story.of(devnet_manifest)
