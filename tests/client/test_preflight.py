"""The pre-flight's offline parts: an input file against a declared schema, and which TEE offers
a key policy can admit. (The chain, API and CA parts run on the devnet:
tests/cli/test_cli_preflight.py.)"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from demo.story import npy_bytes
from enclava.client.errors import InputSchemaMismatch, MarketApiUnavailable
from enclava.client.preflight import (
    TeeOfferState,
    _check_listings,
    check_input_against_schema,
    offers_admitting,
)
from enclava.protocol.tee import TeeType

ENGINE = Path(__file__).resolve().parents[2] / "engines" / "digits_classifier"
DIGITS = json.loads((ENGINE / "images.schema.json").read_text())


def test_a_matching_npy_passes_and_a_wrong_shape_names_the_path(tmp_path):
    good = tmp_path / "good.npy"
    good.write_bytes(npy_bytes(np.zeros((2, 8, 8), dtype=np.float32)))
    check_input_against_schema(good, DIGITS)
    bad = tmp_path / "bad.npy"
    images = np.zeros((2, 8, 8), dtype=np.float32)
    images[1, 2, 3] = 17
    bad.write_bytes(npy_bytes(images))
    with pytest.raises(InputSchemaMismatch, match=r"at /1/2/3: 17\.0 is greater than"):
        check_input_against_schema(bad, DIGITS)


def test_a_json_input_is_checked_as_it_is(tmp_path):
    path = tmp_path / "rows.json"
    path.write_text(json.dumps({"rows": [1, "two"]}))
    schema = {"type": "object", "properties": {"rows": {"items": {"type": "number"}}}}
    with pytest.raises(InputSchemaMismatch, match="at /rows/1:"):
        check_input_against_schema(path, schema)


def test_an_input_that_is_neither_json_nor_npy_is_refused(tmp_path):
    path = tmp_path / "blob.bin"
    path.write_bytes(b"\x00\x01binary")
    with pytest.raises(InputSchemaMismatch, match="neither JSON nor a .npy"):
        check_input_against_schema(path, DIGITS)


def _offer(tee: TeeType) -> TeeOfferState:
    return TeeOfferState(1, "0x" + "11" * 20, int(tee), True, False, 2, 0, True)


def test_a_policy_without_the_opt_in_admits_no_simulated_offer():
    simulated, tdx = _offer(TeeType.SIMULATED), _offer(TeeType.TDX)
    assert offers_admitting({"allowed_customers": "any"}, [simulated]) == []
    assert offers_admitting({"insecure_allow_simulated_tee": True}, [simulated]) == [simulated]
    assert offers_admitting({"allowed_tee_types": [int(TeeType.SEV_SNP)]}, [tdx]) == []
    assert offers_admitting({}, [simulated, tdx]) == [tdx]


class _UnreachableApi:
    def listing(self, resource_id: int) -> dict:
        raise MarketApiUnavailable("connection refused")


def test_an_unreachable_marketplace_skips_only_the_listing_checks_with_a_note():
    notes: list[str] = []
    found = _check_listings(_UnreachableApi(), 1, [2], {2: {"kind": 2}}, notes)
    assert found is None
    assert notes == [
        "the marketplace API cannot be reached: the engine's weights and input format were not "
        "checked"
    ]
