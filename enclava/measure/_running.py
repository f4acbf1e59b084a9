"""The measurement a running component reports: of the files it was loaded from, and only if
every first-party module it has loaded is one of them.

A component calls :func:`running_measurement` once at start, after its own imports. The root is
the folder its entry package was imported from (a checkout, or site-packages); the image is built
from that root exactly as ``enclava measure --root`` builds it. If the process has loaded any
first-party module that is not a file of that image (another service's code, a module from
another folder, a module run by path), nothing is measured: :class:`ForeignModuleLoaded`.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType

from enclava.measure._image import archive_of, image_contents, measure_archive
from enclava.measure.components import FIRST_PARTY, Component, component
from enclava.measure.errors import ForeignModuleLoaded, ImageFileMissing

__all__ = ["running_root", "foreign_modules", "running_measurement"]

_SHOWN = 8


def running_root(name: str | Component) -> Path:
    """The folder the component's entry package was loaded from (the parent of its package
    folder)."""
    comp = component(name)
    package = sys.modules.get(comp.package) or importlib.import_module(comp.package)
    location = getattr(package, "__file__", None)
    if not location:
        raise ImageFileMissing(
            f"package {comp.package} was not loaded from a file; it cannot be measured"
        )
    return Path(location).resolve().parent.parent


def _is_first_party_file(root: Path, path: Path) -> bool:
    return path.is_relative_to(root) and path.relative_to(root).parts[0] in FIRST_PARTY


def foreign_modules(
    root: Path, files: list[str], namespaces: set[str], modules: Mapping[str, ModuleType | None]
) -> list[str]:
    """Names of loaded first-party modules (by name, or by file under ``root``) outside the
    image."""
    allowed = {(root / relative).resolve() for relative in files}
    foreign = []
    for name, module in list(modules.items()):
        if module is None:
            continue  # an import the process blocked; nothing was loaded
        location = getattr(module, "__file__", None)
        path = Path(location).resolve() if location else None
        first_party = name.split(".", 1)[0] in FIRST_PARTY
        if not first_party and not (path is not None and _is_first_party_file(root, path)):
            continue
        if path is None:
            if name not in namespaces:
                foreign.append(name)
        elif path not in allowed:
            foreign.append(f"{name} ({path})")
    return sorted(foreign)


def running_measurement(
    name: str | Component, *, modules: Mapping[str, ModuleType | None] | None = None
) -> bytes:
    """The 48-byte measurement of the image this process runs; refuses if it runs anything else.

    ``modules`` defaults to ``sys.modules``.
    """
    comp = component(name)
    root = running_root(comp)
    files, modules_of_image = image_contents(root, comp)
    namespaces = {module for module, path in modules_of_image.items() if path is None}
    foreign = foreign_modules(root, files, namespaces, sys.modules if modules is None else modules)
    if foreign:
        shown = ", ".join(foreign[:_SHOWN]) + (
            f" and {len(foreign) - _SHOWN} more" if len(foreign) > _SHOWN else ""
        )
        raise ForeignModuleLoaded(
            f"the {comp.name} process has loaded first-party code outside its measured image: "
            f"{shown}"
        )
    return measure_archive(archive_of(root, files))
