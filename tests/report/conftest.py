"""Report tests reuse the chain story of the marketplace API tests (a completed order on the
devnet)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "marketplace_api"))

import chain_story  # noqa: E402


@pytest.fixture(scope="module")
def story(devnet_manifest):
    return chain_story.Story.of(devnet_manifest)


@pytest.fixture(scope="module")
def completed(devnet_manifest):
    return chain_story.completed_order(devnet_manifest, inputs=[b"first input", b"second input"])
