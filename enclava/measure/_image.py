"""A component's image: which files it holds, their canonical archive, and its SHA-384.

The image of a component is, as paths relative to the root (a checkout, or the site-packages
folder the packages were installed into):

1. every file in the component's package folder (Python modules, the sandbox scripts it runs by
   path, data files), except ``__pycache__``, compiled bytecode and hidden files, and the same of
   each of its ``extra_packages`` (programs it starts without importing them, e.g. the loader's
   serving engine ``engines/chat_server``);
2. every file of the measuring package ``enclava/measure`` (it runs in the component too);
3. every first-party module imported, transitively, by any module of 1 and 2 (see ``_imports``),
   with the ``__init__.py`` of each enclosing package;
4. ``requirements/app.lock``, the locked list of third-party packages.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from enclava.measure._archive import canonical_tar
from enclava.measure._imports import import_closure, package_modules
from enclava.measure.components import LOCK_FILE, MEASURE_PACKAGE, Component, component
from enclava.measure.errors import ImageFileMissing

__all__ = [
    "image_files",
    "image_modules",
    "image_contents",
    "archive_of",
    "build_image",
    "measure",
    "measure_archive",
]

_SKIPPED_SUFFIXES = (".pyc", ".pyo")


def _folder_files(root: Path, package: str) -> list[str]:
    folder = root.joinpath(*package.split("."))
    if not (folder / "__init__.py").is_file():
        raise ImageFileMissing(
            f"package {package} is not under {root} (no {folder / '__init__.py'})"
        )
    files = []
    for path in folder.rglob("*"):
        relative = path.relative_to(root)
        if any(part.startswith(".") or part == "__pycache__" for part in relative.parts):
            continue
        if path.is_file() and not path.name.endswith(_SKIPPED_SUFFIXES):
            files.append(relative.as_posix())
    return files


def image_modules(root: Path | str, name: str | Component) -> dict[str, Path | None]:
    """The first-party modules of the image by name, with their files (None: namespace package)."""
    root, comp = Path(root).resolve(), component(name)
    seeds = [name for package in comp.packages for name in package_modules(root, package)]
    seeds += package_modules(root, MEASURE_PACKAGE)
    return {module.name: module.path for module in import_closure(root, seeds).values()}


def image_contents(root: Path, name: str | Component) -> tuple[list[str], dict[str, Path | None]]:
    """(the image's files, its first-party modules): :func:`image_files` and
    :func:`image_modules`."""
    comp = component(name)
    modules = image_modules(root, comp)
    files = set(_folder_files(root, MEASURE_PACKAGE))
    for package in comp.packages:
        files.update(_folder_files(root, package))
    files.update(path.relative_to(root).as_posix() for path in modules.values() if path)
    if not (root / LOCK_FILE).is_file():
        raise ImageFileMissing(f"the dependency lock {LOCK_FILE} is not under {root}")
    files.add(LOCK_FILE)
    return sorted(files, key=lambda p: p.encode("utf-8")), modules


def image_files(root: Path | str, name: str | Component) -> list[str]:
    """The image's files as sorted POSIX paths relative to ``root``."""
    return image_contents(Path(root).resolve(), name)[0]


def _read(root: Path, relative: str) -> bytes:
    try:
        return (root / relative).read_bytes()
    except OSError as exc:
        raise ImageFileMissing(f"cannot read {relative} under {root}: {exc}") from exc


def archive_of(root: Path, files: list[str]) -> bytes:
    """The canonical archive of ``files`` (relative to ``root``) with their current contents."""
    return canonical_tar((relative, _read(root, relative)) for relative in files)


def build_image(root: Path | str, name: str | Component) -> bytes:
    """The canonical archive (ustar bytes) of the component's image under ``root``."""
    root = Path(root).resolve()
    return archive_of(root, image_files(root, name))


def measure_archive(archive: bytes) -> bytes:
    """The measurement of an image archive: its SHA-384 (48 bytes, the size of MRTD /
    MEASUREMENT)."""
    return hashlib.sha384(archive).digest()


def measure(root: Path | str, name: str | Component) -> bytes:
    """The 48-byte measurement of the component's image under ``root``."""
    return measure_archive(build_image(root, name))
