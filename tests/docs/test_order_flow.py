"""docs/ORDER_FLOW.md stays true: every `path::name` it points to exists, and every step of
ARCHITECTURE's "one order, end to end" (eight of them) names at least one function."""

from __future__ import annotations

import importlib
import inspect
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "ORDER_FLOW.md"
REFERENCE = re.compile(r"`([\w./-]+\.(?:py|sol))::([\w.]+)`")
STEP = re.compile(r"^## (\d+)\. ", re.MULTILINE)


def _references() -> list[tuple[str, str]]:
    return REFERENCE.findall(DOC.read_text())


def _steps() -> dict[int, str]:
    text = DOC.read_text()
    marks = list(STEP.finditer(text))
    return {
        int(m.group(1)): text[m.end() : marks[i + 1].start() if i + 1 < len(marks) else len(text)]
        for i, m in enumerate(marks)
    }


def test_every_step_of_one_order_names_a_function() -> None:
    steps = _steps()
    assert sorted(steps) == list(range(1, 9))
    for number, body in steps.items():
        assert REFERENCE.search(body), f"step {number} names no file::function"


@pytest.mark.parametrize(("path", "name"), _references())
def test_each_reference_points_to_a_real_definition(path: str, name: str) -> None:
    file = ROOT / path
    assert file.is_file(), f"{path} does not exist"
    if path.endswith(".sol"):
        assert re.search(rf"\bfunction {re.escape(name)}\b", file.read_text()), (
            f"{path} has no function {name}"
        )
        return
    module = importlib.import_module(path.removesuffix(".py").replace("/", "."))
    target: object = module
    for part in name.split("."):
        assert hasattr(target, part), f"{path} has no {name}"
        target = inspect.getattr_static(target, part)
    assert callable(target) or isinstance(target, (property, classmethod, staticmethod)), (
        f"{path}::{name} is not a function, class or property"
    )
