"""The first-party import graph, read from source with ``ast`` (nothing is imported or run).

Every ``import a.b``, ``from a import b``, relative import and ``importlib.import_module("a.b")``
with a literal name counts, wherever it stands: at module level, inside a function, under ``if`` or
``try``. Counting a module that might not be imported only makes the image larger; missing one would
let unmeasured code run, which :func:`running_measurement` refuses anyway. The one exception is the
body of ``if TYPE_CHECKING:`` (``typing.TYPE_CHECKING`` is False at run time, so it never runs; its
``else`` branch counts): type-only imports do not put, say, the devnet's code into the CA's image.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from enclava.measure.components import FIRST_PARTY
from enclava.measure.errors import ImageSourceInvalid

__all__ = ["Module", "resolve", "package_modules", "import_closure"]


@dataclass(frozen=True)
class Module:
    """A first-party module found under the root; ``path`` is None for a namespace package."""

    name: str
    path: Path | None

    @property
    def is_package(self) -> bool:
        return self.path is None or self.path.name == "__init__.py"


def is_first_party(name: str) -> bool:
    return name.split(".", 1)[0] in FIRST_PARTY


def resolve(root: Path, name: str) -> Module | None:
    """The module ``name`` as the import system would find it under ``root`` (None: not a
    module)."""
    base = root.joinpath(*name.split("."))
    if (base / "__init__.py").is_file():
        return Module(name, base / "__init__.py")
    if base.with_suffix(".py").is_file():
        return Module(name, base.with_suffix(".py"))
    if base.is_dir():
        return Module(name, None)
    return None


def package_modules(root: Path, package: str) -> list[str]:
    """The names of every Python module in ``package``'s folder, however deep."""
    folder = root.joinpath(*package.split("."))
    names = []
    for path in sorted(folder.rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        if any(p.startswith(".") or p == "__pycache__" for p in parts):
            continue
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def _absolute(module: Module, level: int, target: str | None) -> str | None:
    """The absolute name of a relative import ``from <level dots><target> import ...`` in
    ``module``."""
    parts = module.name.split(".") if module.is_package else module.name.split(".")[:-1]
    if level - 1 > len(parts) - 1:
        return None  # beyond the top-level package: fails at run time, imports nothing
    base = parts[: len(parts) - (level - 1)]
    return ".".join(base + ([target] if target else []))


def _literal_import_call(node: ast.Call) -> str | None:
    """``importlib.import_module("x")`` / ``import_module("x")`` / ``__import__("x")`` with a
    literal."""
    func = node.func
    name = (
        func.attr
        if isinstance(func, ast.Attribute)
        else func.id
        if isinstance(func, ast.Name)
        else None
    )
    if name not in ("import_module", "__import__") or not node.args:
        return None
    first = node.args[0]
    return first.value if isinstance(first, ast.Constant) and isinstance(first.value, str) else None


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _runtime_nodes(tree: ast.AST) -> Iterator[ast.AST]:
    """Every node of ``tree`` except those inside the body of an ``if TYPE_CHECKING:``."""
    pending = [tree]
    while pending:
        node = pending.pop()
        yield node
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            pending.extend(node.orelse)
        else:
            pending.extend(ast.iter_child_nodes(node))


def imported_names(module: Module, source: bytes) -> set[str]:
    """Every module name ``source`` may import (candidates: ``from a import b`` yields a and
    a.b)."""
    try:
        tree = ast.parse(source, filename=str(module.path))
    except (SyntaxError, ValueError) as exc:
        raise ImageSourceInvalid(f"{module.path} does not parse: {exc}") from exc
    found: set[str] = set()
    for node in _runtime_nodes(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module if node.level == 0 else _absolute(module, node.level, node.module)
            if base is None:
                continue
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names if alias.name != "*")
        elif isinstance(node, ast.Call):
            literal = _literal_import_call(node)
            if literal and not literal.startswith("."):
                found.add(literal)
    return found


def _with_parents(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts) + 1)]


def import_closure(root: Path, seeds: Iterable[str]) -> dict[str, Module]:
    """Every first-party module reachable from ``seeds`` (and every parent package), by name."""
    found: dict[str, Module] = {}
    pending = [name for seed in seeds for name in _with_parents(seed)]
    while pending:
        name = pending.pop()
        if name in found or not is_first_party(name):
            continue
        module = resolve(root, name)
        if module is None:
            continue  # an attribute (``from a import function``) or a module absent from the root
        found[name] = module
        if module.path is None:
            continue
        try:
            source = module.path.read_bytes()
        except OSError as exc:
            raise ImageSourceInvalid(f"cannot read {module.path}: {exc}") from exc
        for imported in imported_names(module, source):
            pending.extend(n for n in _with_parents(imported) if n not in found)
    return found
