"""A freshly built model folder per test session (deterministic, ~20 s), so tests never depend on
the committed artifact being current. tests/research/splitnn shares it (built once per session)."""

from __future__ import annotations

from pathlib import Path

import pytest

from research.splitnn.build import build_model


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.getbasetemp() / "splitnn-model"
    if not (root / "manifest.json").is_file():
        build_model(root)
    return root
