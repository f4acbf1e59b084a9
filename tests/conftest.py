"""Shared fixtures: a real devnet (anvil, Kubo, Redis) per test session, stopped at the end."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from enclava import devnet


def _unique(prefix: str) -> str:
    return f"{prefix}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


@pytest.fixture(scope="session")
def devnet_manifest(tmp_path_factory):
    """One devnet for the whole session, in its own state folder, with the contracts deployed."""
    home = tmp_path_factory.mktemp("devnet-home")
    os.environ["ENCLAVA_DEVNET_HOME"] = str(home)
    name = _unique("test")
    manifest = devnet.up(name)
    os.environ["ENCLAVA_MANIFEST"] = str(Path(manifest.state_dir) / "manifest.json")
    yield manifest
    survivors = devnet.down(name)
    assert survivors == [], f"devnet processes survived: {survivors}"


@pytest.fixture
def unique_name():
    return _unique
