"""docs/KEY_POLICY.md and docs/key-policy.schema.json describe the KeyPolicy the broker enforces:
the schema file is the model's, every field has a row, and every example is a valid policy."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema_rs
import pytest

from enclava.protocol.broker import KeyPolicy

DOCS = Path(__file__).resolve().parents[2] / "docs"
PAGE = (DOCS / "KEY_POLICY.md").read_text()
EXAMPLES = re.findall(r"```json\n(.*?)```", PAGE, re.DOTALL)


def test_the_schema_file_is_the_models_schema():
    expected = json.dumps(KeyPolicy.model_json_schema(), indent=2, sort_keys=True) + "\n"
    assert (DOCS / "key-policy.schema.json").read_text() == expected, (
        "regenerate docs/key-policy.schema.json with the command in docs/KEY_POLICY.md"
    )


def test_every_field_of_the_model_has_a_row_and_no_row_names_another():
    rows = set(re.findall(r"^\| `([a-z_]+)` \|", PAGE, re.MULTILINE))
    assert rows == set(KeyPolicy.model_fields)


def test_the_page_has_examples_including_the_devnet_opt_in():
    policies = [KeyPolicy.model_validate_json(text) for text in EXAMPLES]
    assert len(policies) >= 4
    assert any(p.insecure_allow_simulated_tee for p in policies)
    assert any(not p.insecure_allow_simulated_tee for p in policies)


@pytest.mark.parametrize("text", EXAMPLES, ids=lambda t: t.split("\n")[1].strip()[:40])
def test_each_example_is_valid_for_the_model_and_the_schema(text):
    KeyPolicy.model_validate_json(text)
    schema = json.loads((DOCS / "key-policy.schema.json").read_text())
    jsonschema_rs.validate(schema, json.loads(text))


def test_the_schema_refuses_what_the_model_refuses():
    schema = json.loads((DOCS / "key-policy.schema.json").read_text())
    for wrong in (
        {"allowed_customers": "any"},  # engines must be stated
        {"allowed_engine_hashes": "any", "allowed_customers": "any", "allow_all": True},
        {"allowed_engine_hashes": [], "allowed_customers": "any"},
        {"allowed_engine_hashes": "any", "allowed_customers": "any", "allowed_tee_types": [0]},
        {"allowed_engine_hashes": "any", "allowed_customers": "any", "max_uses": 0},
    ):
        assert not jsonschema_rs.is_valid(schema, wrong), wrong
        with pytest.raises(ValueError):
            KeyPolicy.model_validate(wrong)
