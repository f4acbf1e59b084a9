"""Customer-side pieces of an FHE-split order that need no devnet: the key session on disk, and the
loader's layout of the FHE head's optional ``secret_key`` input."""

from __future__ import annotations

from pathlib import Path

import pytest

from enclava.client.fhe_split_session import FheSessionStore
from enclava.errors import ConfigError
from enclava.fhe import DiagonalLayout, EvaluationKeys
from enclava.protocol.engine.manifest import parse_manifest
from trusted_loader.errors import InputsDoNotFitEngine
from trusted_loader.layout import lay_out_inputs

ENGINE_TOML = Path(__file__).resolve().parents[2] / "engines" / "fhe_head" / "engine.toml"


def test_session_reloads_with_the_same_context_and_reuses_its_evaluation_keys(tmp_path):
    made = FheSessionStore.create(tmp_path / "s")
    steps = DiagonalLayout(128).steps
    first = made.evaluation_keys(steps)
    loaded = FheSessionStore.load(tmp_path / "s")
    assert loaded.keys.context_sha256 == made.keys.context_sha256
    assert loaded.transport_key == made.transport_key
    assert (
        loaded.evaluation_keys(steps) == first
    )  # cached, not regenerated (would hash differently)
    assert EvaluationKeys(first).context_sha256 == made.keys.context_sha256
    assert (tmp_path / "s" / "secret.bin").stat().st_mode & 0o077 == 0


def test_session_refuses_to_overwrite_and_to_load_nothing(tmp_path):
    FheSessionStore.create(tmp_path / "s")
    with pytest.raises(ConfigError):
        FheSessionStore.create(tmp_path / "s")
    with pytest.raises(ConfigError) as caught:
        FheSessionStore.load(tmp_path / "missing")
    assert "fhe keys new" in caught.value.hint


def test_loader_lays_out_a_customer_decrypt_order_without_secret_key(tmp_path):
    manifest = parse_manifest(ENGINE_TOML.read_bytes())
    resources = [(2, b"weights"), (2, b"manifest")]
    dest = lay_out_inputs(manifest, resources, [b"req", b"ctx", b"keys"], tmp_path / "customer")
    assert (dest / "secret_key").is_dir() and not any((dest / "secret_key").iterdir())
    assert (dest / "request" / "000").read_bytes() == b"req"
    dest = lay_out_inputs(
        manifest, resources, [b"req", b"ctx", b"keys", b"sk"], tmp_path / "enclave"
    )
    assert (dest / "secret_key" / "000").read_bytes() == b"sk"
    with pytest.raises(InputsDoNotFitEngine):  # a "one" input left empty still does not fit
        lay_out_inputs(manifest, resources, [b"req", b"ctx"], tmp_path / "short")
