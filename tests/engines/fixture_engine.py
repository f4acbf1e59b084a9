"""A one-file engine around a test entrypoint: one customer input ``data``, one output ``out.json``,
and the limits a test asks for. Shared by the sandbox tests and the end-to-end failure tests."""

from __future__ import annotations

from pathlib import Path

FIXTURES = Path(__file__).resolve().parent / "fixtures"

MANIFEST = """[engine]
name = "fixture"
version = "1.0.0"
kind = "infer"
entrypoint = "main.py"

[[inputs]]
name = "data"
source = "customer"

[[outputs]]
name = "out"
file = "out.json"

[limits]
cpu_seconds = {cpu}
memory_mb = {memory}
wall_seconds = {wall}
output_bytes = {output}
"""


def write_engine(
    folder: Path,
    source: str,
    *,
    cpu: int = 20,
    memory: int = 1024,
    wall: int = 30,
    output: int = 10_000,
) -> Path:
    """``folder`` with ``main.py`` = ``source`` and its ``engine.toml``; returns ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "main.py").write_text(source)
    (folder / "engine.toml").write_text(
        MANIFEST.format(cpu=cpu, memory=memory, wall=wall, output=output)
    )
    return folder


def fixture_source(name: str, **fill) -> str:
    """The entrypoint ``fixtures/<name>.py`` with its ``{MARKER}`` placeholders filled."""
    source = (FIXTURES / f"{name}.py").read_text()
    for key, value in fill.items():
        source = source.replace("{" + key + "}", str(value))
    return source
