"""Package names imported on first use (PEP 562), so that importing a light module of a package
(an enum, a manifest reader) does not pay for its heavy siblings (web3, numpy, TenSEAL).

A package's ``__init__`` keeps its real imports under ``TYPE_CHECKING`` for the type checker and
says ``__getattr__ = lazy_exports(__name__, {"Name": "package.module", ...})``. The CLI starts in
well under a second because of it (issue 15).
"""

from __future__ import annotations

import importlib
import sys
from typing import Any, Callable, Mapping

__all__ = ["lazy_exports"]


def lazy_exports(package: str, table: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` that imports ``table[name]`` on first use and caches the value."""

    def __getattr__(name: str) -> Any:
        module = table.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        setattr(sys.modules[package], name, value)
        return value

    return __getattr__
