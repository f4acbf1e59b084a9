"""engine.toml parsing and validation."""

from __future__ import annotations

from pathlib import Path

import pytest

from enclava.protocol.engine import EngineManifestInvalid, Reason, load_manifest, parse_manifest

ENGINES = Path(__file__).resolve().parents[3] / "engines"
GOOD = """
[engine]
name = "demo-engine"
version = "1.0.0"
kind = "train"
entrypoint = "main.py"

[[inputs]]
name = "datasets"
source = "dataset"
count = "many"

[[outputs]]
name = "weights"
file = "weights.npz"
"""


def test_parse_valid_manifest_fills_default_limits():
    manifest = parse_manifest(GOOD)
    assert manifest.name == "demo-engine" and manifest.kind == "train"
    assert manifest.inputs[0].count == "many"
    assert manifest.limits.wall_seconds == 300


def test_reference_engines_have_valid_manifests():
    assert load_manifest(ENGINES / "digits_classifier").kind == "infer"
    assert [i.name for i in load_manifest(ENGINES / "tabular_trainer").inputs] == ["datasets"]


@pytest.mark.parametrize(
    "change",
    [
        ('name = "demo-engine"', 'name = "Demo Engine"'),
        ('kind = "train"', 'kind = "serve"'),
        ('entrypoint = "main.py"', 'entrypoint = "../main.py"'),
        ('entrypoint = "main.py"', 'entrypoint = "/bin/sh"'),
        ('file = "weights.npz"', 'file = "../../etc/passwd"'),
        ('source = "dataset"', 'source = "internet"'),
        ('count = "many"', 'count = "all"'),
        ('version = "1.0.0"', 'version = "1.0.0"\nextra = 1'),
        ("[[outputs]]", "[limits]\ncpu_seconds = 0\n[[outputs]]"),
        (
            'name = "weights"\nfile = "weights.npz"',
            'name = "weights"\nfile = "w"\n[[outputs]]\nname = "weights"\nfile = "v"',
        ),
    ],
)
def test_invalid_manifest_is_refused(change):
    with pytest.raises(EngineManifestInvalid) as caught:
        parse_manifest(GOOD.replace(*change))
    assert caught.value.reason_code == Reason.ENGINE_INVALID


def test_manifest_without_outputs_or_bad_toml_is_refused():
    with pytest.raises(EngineManifestInvalid, match="outputs"):
        parse_manifest(GOOD.split("[[outputs]]")[0])
    with pytest.raises(EngineManifestInvalid, match="TOML"):
        parse_manifest("[engine\n")
    with pytest.raises(EngineManifestInvalid, match="UTF-8"):
        parse_manifest(b"\xff\xfe")


def test_load_manifest_requires_file_and_entrypoint(tmp_path):
    with pytest.raises(EngineManifestInvalid, match="missing"):
        load_manifest(tmp_path)
    (tmp_path / "engine.toml").write_text(GOOD)
    with pytest.raises(EngineManifestInvalid, match="entrypoint"):
        load_manifest(tmp_path)
    (tmp_path / "main.py").write_text("")
    assert load_manifest(tmp_path).name == "demo-engine"
