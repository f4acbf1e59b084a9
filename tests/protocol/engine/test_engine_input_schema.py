"""engine.toml's ``schema = "FILE.json"`` on a customer input: parsed, checked, loaded."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from enclava.protocol.engine import EngineManifestInvalid, load_manifest, parse_manifest
from enclava.protocol.engine.manifest import load_input_schema

ENGINES = Path(__file__).resolve().parents[3] / "engines"
MANIFEST = """
[engine]
name = "schema-engine"
version = "1.0.0"
kind = "infer"

[[inputs]]
name = "rows"
source = "{source}"
schema = "{schema}"

[[outputs]]
name = "out"
file = "out.json"
"""


def _engine(tmp_path: Path, schema: object, *, name: str = "rows.schema.json") -> Path:
    (tmp_path / "engine.toml").write_text(MANIFEST.format(source="customer", schema=name))
    (tmp_path / "main.py").write_text("print('hi')\n")
    if schema is not None:
        (tmp_path / name).write_text(json.dumps(schema) if not isinstance(schema, str) else schema)
    return tmp_path


def test_the_digits_engine_declares_its_images_schema():
    manifest = load_manifest(ENGINES / "digits_classifier")
    schema = load_input_schema(ENGINES / "digits_classifier", manifest)
    assert schema is not None and schema["type"] == "array"
    assert schema["items"]["items"]["maxItems"] == 8


def test_an_engine_without_a_schema_declares_none():
    folder = ENGINES / "tabular_trainer"
    assert load_input_schema(folder, load_manifest(folder)) is None


def test_only_a_customer_input_may_declare_a_schema():
    with pytest.raises(EngineManifestInvalid, match="only a customer input"):
        parse_manifest(MANIFEST.format(source="model", schema="s.json"))


def test_a_schema_must_be_a_relative_json_file():
    for bad in ("../s.json", "/abs.json", "s.txt"):
        with pytest.raises(EngineManifestInvalid):
            parse_manifest(MANIFEST.format(source="customer", schema=bad))


def test_a_missing_schema_file_is_refused(tmp_path):
    with pytest.raises(EngineManifestInvalid, match="not a file in the engine"):
        load_manifest(_engine(tmp_path, None))


@pytest.mark.parametrize(
    ("schema", "words"),
    [
        ("{not json", "is not JSON"),
        ([1, 2], "must be a JSON object"),
        ({"type": "no-such-type"}, "not a valid JSON Schema"),
        ({"type": "object", "description": "x" * 20_000}, "at most 16384"),
    ],
)
def test_a_broken_schema_is_refused(tmp_path, schema, words):
    with pytest.raises(EngineManifestInvalid, match=words):
        load_manifest(_engine(tmp_path, schema))
