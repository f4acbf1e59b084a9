"""``foreign_modules``: which loaded modules a running component may not have (unit level; the
real processes are in tests/adversarial/test_measurement.py)."""

from __future__ import annotations

import types
from pathlib import Path

import pytest

from enclava.measure import ForeignModuleLoaded, foreign_modules, image_files, running_measurement
from enclava.paths import project_root

ROOT = project_root()


def _module(name: str, path: Path | None) -> types.ModuleType:
    module = types.ModuleType(name)
    if path is not None:
        module.__file__ = str(path)
    return module


@pytest.fixture(scope="module")
def files() -> list[str]:
    return image_files(ROOT, "loader")


def test_only_image_modules_and_third_party_pass(files):
    loaded = {
        "json": _module("json", Path("/usr/lib/python3.11/json/__init__.py")),
        "enclava.errors": _module("enclava.errors", ROOT / "enclava" / "errors.py"),
        "trusted_loader": _module("trusted_loader", ROOT / "trusted_loader" / "__init__.py"),
        "builtin_like": _module("sys", None),
        "blocked": None,
    }
    assert foreign_modules(ROOT, files, set(), loaded) == []


def test_another_service_is_foreign(files):
    loaded = {
        "provider_node.settings": _module(
            "provider_node.settings", ROOT / "provider_node" / "settings.py"
        )
    }
    expected = f"provider_node.settings ({ROOT / 'provider_node' / 'settings.py'})"
    assert foreign_modules(ROOT, files, set(), loaded) == [expected]


def test_a_first_party_module_from_another_folder_is_foreign(files, tmp_path):
    loaded = {"enclava.errors": _module("enclava.errors", tmp_path / "enclava" / "errors.py")}
    assert len(foreign_modules(ROOT, files, set(), loaded)) == 1


def test_a_first_party_file_loaded_under_another_name_is_foreign(files):
    loaded = {
        "__main__": _module("__main__", ROOT / "marketplace_api" / "app.py"),
        "loot": _module("loot", ROOT / "provider_node" / "tasks.py"),
    }
    assert len(foreign_modules(ROOT, files, set(), loaded)) == 2


def test_a_namespace_module_passes_only_if_the_image_has_it(files):
    loaded = {"engines": _module("engines", None)}
    assert foreign_modules(ROOT, files, {"engines"}, loaded) == []
    assert foreign_modules(ROOT, files, set(), loaded) == ["engines"]


def test_running_measurement_refuses_a_process_with_foreign_modules():
    loaded = {
        "marketplace_api": _module("marketplace_api", ROOT / "marketplace_api" / "__init__.py")
    }
    with pytest.raises(ForeignModuleLoaded) as caught:
        running_measurement("loader", modules=loaded)
    assert (
        caught.value.code == "measure_foreign_module" and "marketplace_api" in caught.value.message
    )
