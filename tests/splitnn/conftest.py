"""A freshly built model folder per test session (deterministic, ~20 s), so tests never depend on
the committed artifact being current."""

from __future__ import annotations

import pytest

from enclava.splitnn.build import build_model


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("splitnn-model")
    build_model(root)
    return root
