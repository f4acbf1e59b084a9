"""The demo's context on the session devnet: a provider started the way `make demo` starts it."""

from __future__ import annotations

import pytest

from demo import DemoContext
from enclava import devnet
from enclava.devnet.provider import start_provider, stop_provider

PROVIDER = "demo-test"


@pytest.fixture(scope="module")
def demo_provider(devnet_manifest):
    handle = start_provider(devnet_manifest.name, name=PROVIDER)
    yield handle
    stop_provider(devnet_manifest.name, PROVIDER)


@pytest.fixture(scope="module")
def demo_context(devnet_manifest, demo_provider):
    return DemoContext.build(devnet.load_manifest(devnet_manifest.name), demo_provider)
