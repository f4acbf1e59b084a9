"""A component's image from the checkout: what it holds, and a measurement that depends only on
the bytes of those files (not on times, owners, modes or stray caches)."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import pytest

from enclava.measure import (
    ImageFileMissing,
    UnknownComponent,
    build_image,
    image_files,
    image_modules,
    measure,
    measure_archive,
)
from enclava.paths import project_root

ROOT = project_root()


@pytest.fixture(scope="module")
def loader_files() -> list[str]:
    return image_files(ROOT, "loader")


def _copy(files: list[str], dest: Path) -> Path:
    for relative in files:
        target = dest / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ROOT / relative, target)
    return dest


def test_loader_image_holds_its_package_sandbox_scripts_library_and_lock(loader_files):
    assert (
        "trusted_loader/sandbox/_bootstrap.py" in loader_files
    )  # run with `python -c`, never imported
    assert "trusted_loader/sandbox/_isolate.py" in loader_files  # run by path as root
    assert "requirements/app.lock" in loader_files
    assert {"enclava/__init__.py", "enclava/errors.py", "enclava/measure/_running.py"} <= set(
        loader_files
    )
    assert all(Path(ROOT / f).is_file() for f in loader_files)


def test_loader_image_holds_no_other_service_than_what_it_imports(loader_files):
    assert not any(
        f.startswith(("provider_node/", "marketplace_api/", "tests/", "scripts/"))
        for f in loader_files
    )
    assert not any("__pycache__" in f or f.endswith(".pyc") for f in loader_files)


def test_every_module_file_is_in_the_image(loader_files):
    modules = image_modules(ROOT, "loader")
    assert {str(p.relative_to(ROOT)) for p in modules.values() if p} <= set(loader_files)
    assert (
        "trusted_loader.sandbox.runner" in modules and "enclava.protocol.engine.manifest" in modules
    )


def test_ca_image_is_the_ca_package_and_its_library():
    files = image_files(ROOT, "ca")
    assert "certification_authority/compose.py" in files and "requirements/app.lock" in files
    assert not any(
        f.startswith(("trusted_loader/", "provider_node/", "marketplace_api/")) for f in files
    )


def test_measurement_is_sha384_of_the_archive():
    image = build_image(ROOT, "ca")
    assert (
        measure_archive(image) == hashlib.sha384(image).digest()
        and len(measure_archive(image)) == 48
    )


def test_measurement_ignores_times_modes_and_caches(loader_files, tmp_path):
    first, second = _copy(loader_files, tmp_path / "a"), _copy(loader_files, tmp_path / "b")
    for path in (second / f for f in loader_files):
        os.utime(path, (1, 1))
        path.chmod(0o600)
    (second / "trusted_loader" / "__pycache__").mkdir()
    (second / "trusted_loader" / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"stale")
    (second / "trusted_loader" / ".editor.swp").write_bytes(b"swap")
    assert measure(first, "loader") == measure(second, "loader")


def test_a_new_file_in_the_package_changes_the_measurement(loader_files, tmp_path):
    copy = _copy(loader_files, tmp_path / "copy")
    before = measure(copy, "loader")
    (copy / "trusted_loader" / "extra.txt").write_bytes(b"")
    assert (
        "trusted_loader/extra.txt" in image_files(copy, "loader")
        and measure(copy, "loader") != before
    )


def test_unknown_component_is_refused():
    with pytest.raises(UnknownComponent) as caught:
        measure(ROOT, "provider")
    assert caught.value.code == "measure_unknown_component"


def test_a_root_without_the_lock_is_refused(loader_files, tmp_path):
    copy = _copy(loader_files, tmp_path / "copy")
    (copy / "requirements" / "app.lock").unlink()
    with pytest.raises(ImageFileMissing) as caught:
        measure(copy, "loader")
    assert "app.lock" in caught.value.message


def test_a_root_without_the_package_is_refused(tmp_path):
    with pytest.raises(ImageFileMissing):
        image_files(tmp_path, "ca")


def test_loader_image_holds_the_serving_engine_it_starts(loader_files):
    assert {
        "engines/__init__.py",
        "engines/chat_server/__main__.py",
        "engines/chat_server/server.py",
        "engines/chat_server/app.py",
    } <= set(loader_files)
    # only the engine the loader starts, not the order engines that arrive encrypted
    assert not any(
        f.startswith("engines/") and not f.startswith("engines/chat_server/")
        for f in loader_files
        if f != "engines/__init__.py"
    )
    assert not any(f.startswith("engines/") for f in image_files(ROOT, "ca"))


def test_a_change_in_the_serving_engine_changes_the_loader_measurement(loader_files, tmp_path):
    copy = _copy(loader_files, tmp_path / "copy")
    before = measure(copy, "loader")
    with open(copy / "engines" / "chat_server" / "app.py", "ab") as handle:
        handle.write(b"\n# changed\n")
    assert measure(copy, "loader") != before


def test_extra_packages_are_measured_whole_and_must_exist(loader_files, tmp_path):
    from enclava.measure import Component

    copy = _copy(loader_files, tmp_path / "copy")
    (copy / "engines" / "chat_server" / "weights.bin").write_bytes(b"data")
    assert "engines/chat_server/weights.bin" in image_files(copy, "loader")
    missing = Component("loader", "trusted_loader", extra_packages=("engines.absent",))
    with pytest.raises(ImageFileMissing):
        image_files(copy, missing)
