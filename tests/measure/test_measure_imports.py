"""The first-party import graph read with ``ast``: every kind of import counts, nothing is run."""

from __future__ import annotations

from pathlib import Path

import pytest

from enclava.measure import ImageSourceInvalid
from enclava.measure._imports import import_closure, imported_names, resolve


def _tree(root: Path, files: dict[str, str]) -> Path:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    return _tree(
        tmp_path,
        {
            "trusted_loader/__init__.py": "",
            "trusted_loader/main.py": (
                "import json\nimport httpx\nfrom . import sibling\nfrom .sub.deep import thing\n"
                "from enclava.chain.types import measurement_digest\n"
                "def later():\n    import enclava.lazy\n"
                "if False:\n    from enclava import conditional\n"
                "from typing import TYPE_CHECKING\n"
                "if TYPE_CHECKING:\n    import enclava.typing_only\n"
                "else:\n    import enclava.otherwise\n"
                "try:\n    import enclava.optional\nexcept ImportError:\n    pass\n"
                "import importlib\nplugin = importlib.import_module('enclava.plugin')\n"
            ),
            "trusted_loader/sibling.py": "from ..enclava_never import x\n",
            "trusted_loader/sub/__init__.py": "",
            "trusted_loader/sub/deep.py": "from ... import beyond\nthing = 1\n",
            "enclava/__init__.py": "",
            "enclava/chain/__init__.py": "",
            "enclava/chain/types.py": "def measurement_digest(m): return m\n",
            "enclava/lazy.py": "",
            "enclava/conditional.py": "",
            "enclava/optional.py": "",
            "enclava/plugin.py": "",
            "enclava/typing_only.py": "",
            "enclava/otherwise.py": "",
            "enclava/unused.py": "",
            "provider_node/__init__.py": "",
        },
    )


def test_closure_follows_every_kind_of_import(tree: Path):
    found = import_closure(tree, ["trusted_loader.main"])
    assert set(found) == {
        "trusted_loader",
        "trusted_loader.main",
        "trusted_loader.sibling",
        "trusted_loader.sub",
        "trusted_loader.sub.deep",
        "enclava",
        "enclava.chain",
        "enclava.chain.types",
        "enclava.lazy",
        "enclava.conditional",
        "enclava.optional",
        "enclava.plugin",
        "enclava.otherwise",
    }


def test_closure_leaves_out_unimported_and_third_party_modules(tree: Path):
    found = import_closure(tree, ["trusted_loader.main"])
    assert "enclava.unused" not in found and "provider_node" not in found and "httpx" not in found
    assert "enclava.typing_only" not in found  # `if TYPE_CHECKING:` never runs


def test_relative_imports_resolve_against_the_package(tree: Path):
    module = resolve(tree, "trusted_loader.sub.deep")
    assert imported_names(module, b"from . import a\nfrom ..b import c\n") == {
        "trusted_loader.sub",
        "trusted_loader.sub.a",
        "trusted_loader.b",
        "trusted_loader.b.c",
    }
    package = resolve(tree, "trusted_loader.sub")
    assert imported_names(package, b"from .x import y\n") == {
        "trusted_loader.sub.x",
        "trusted_loader.sub.x.y",
    }


def test_a_namespace_folder_is_a_module_without_a_file(tmp_path: Path):
    _tree(
        tmp_path,
        {"engines/demo/__init__.py": "", "trusted_loader/__init__.py": "import engines.demo\n"},
    )
    found = import_closure(tmp_path, ["trusted_loader"])
    assert found["engines"].path is None and found["engines.demo"].path is not None


def test_a_module_that_does_not_parse_is_a_typed_error(tmp_path: Path):
    _tree(tmp_path, {"trusted_loader/__init__.py": "def broken(:\n"})
    with pytest.raises(ImageSourceInvalid) as caught:
        import_closure(tmp_path, ["trusted_loader"])
    assert caught.value.code == "measure_source_invalid"
