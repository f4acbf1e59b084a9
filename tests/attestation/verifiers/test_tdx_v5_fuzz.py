"""Property tests of v5 quotes: random and mutated bytes into ``TdxQuote.parse`` and into
``TdxVerifier.verify_quote``; only typed ``EnclavaError``s come out, and nothing but the original
bytes (up to trailing zero padding) is ever accepted.

Seeds: the real v5 TD 1.5 quote (Intel root, its collateral at a pinned second) and simulated v5
quotes with TD 1.5 and TD 1.0 bodies (development root).
"""

from __future__ import annotations

import dataclasses
import struct
from pathlib import Path

from ca_support import BYTE_EDITS, FUZZ, edit_bytes
from hypothesis import given
from hypothesis import strategies as st

from enclava.attestation import SimulatedTdxAttester, development_root_der
from enclava.attestation.devpki import development_pki, ecdsa_raw_sign
from enclava.attestation.tdx_quote import TdReport, TdxQuote
from enclava.attestation.verifiers import TdxVerifier
from enclava.errors import EnclavaError

TDX = Path(__file__).resolve().parents[2] / "fixtures" / "attestation" / "tdx"
QUOTE_V5 = (TDX / "tdx_quote_v5").read_bytes()
COLLATERAL_V5 = (TDX / "tdx_quote_v5_collateral.json").read_bytes()
V5_NOW = 1774003274
SIM_ISSUED = 1_790_000_000
SIM_NOW = SIM_ISSUED + 60

_SIM = SimulatedTdxAttester(bytes(range(48)), quote_version=5)
SIM_V5 = _SIM.quote(bytes(64))
SIM_COLLATERAL = _SIM.collateral(issued_at=SIM_ISSUED)


def _sim_v5_td10() -> bytes:
    """A development-signed v5 quote with a TD 1.0 body (descriptor type 2)."""
    v4 = TdxQuote.parse(SimulatedTdxAttester(bytes(range(48))).quote(bytes(64)))
    v5 = dataclasses.replace(v4, header=dataclasses.replace(v4.header, version=5))
    signature = ecdsa_raw_sign(development_pki().attestation_key, v5.signed_bytes)
    return dataclasses.replace(v5, signature=signature).encode()


SIM_V5_TD10 = _sim_v5_td10()
REAL = TdxVerifier()
DEV = TdxVerifier(root_ca_der=development_root_der())
# (quote, verify) pairs: each verify accepts its quote unmutated
SEEDS = [
    (QUOTE_V5, lambda q: REAL.verify_quote(q, COLLATERAL_V5, now=V5_NOW)),
    (SIM_V5, lambda q: DEV.verify_quote(q, SIM_COLLATERAL, now=SIM_NOW)),
    (SIM_V5_TD10, lambda q: DEV.verify_quote(q, SIM_COLLATERAL, now=SIM_NOW)),
]


@st.composite
def mutations(draw, data: bytes) -> bytes:
    """``data`` after 1-4 edits: bit flips, byte sets, deletions, insertions, truncation, and
    rewrites of the v5 descriptor (type and size) that the layout hinges on."""
    out = bytearray(data)
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(
            st.sampled_from(
                ["flip", "set", "delete", "insert", "truncate", "descriptor", "version"]
            )
        )
        if kind in BYTE_EDITS:
            edit_bytes(draw, out, kind)
        elif kind == "descriptor" and len(out) >= 54:
            body_type = draw(st.sampled_from([0, 1, 2, 3, 4, 0xFFFF]))
            size = draw(st.sampled_from([0, 384, 584, 648, 649, 2**32 - 1]))
            out[48:54] = struct.pack("<HI", body_type, size)
        elif kind == "version" and len(out) >= 2:
            out[0:2] = struct.pack("<H", draw(st.sampled_from([3, 4, 5, 6])))
    return bytes(out)


def _unchanged(original: bytes, candidate: bytes) -> bool:
    return candidate[: len(original)] == original and not any(candidate[len(original) :])


@FUZZ
@given(st.binary(max_size=6000))
def test_parser_on_random_bytes_raises_only_typed_errors(data):
    try:
        TdxQuote.parse(data)
    except EnclavaError:
        pass


@FUZZ
@given(st.data())
def test_parser_on_mutated_v5_quotes_raises_only_typed_errors(data):
    seed = data.draw(st.sampled_from([QUOTE_V5, SIM_V5, SIM_V5_TD10]))
    mutated = data.draw(mutations(seed))
    try:
        parsed = TdxQuote.parse(mutated)
    except EnclavaError:
        return
    # whatever parses re-encodes to exactly the bytes it came from (up to zero padding)
    assert _unchanged(parsed.encode(), mutated)
    assert isinstance(parsed.body, TdReport)


@FUZZ
@given(st.data())
def test_verifier_on_mutated_v5_quotes_refuses_with_typed_errors(data):
    index = data.draw(st.integers(0, len(SEEDS) - 1))
    seed, verify = SEEDS[index]
    mutated = data.draw(mutations(seed))
    try:
        verify(mutated)
    except EnclavaError:
        return
    assert _unchanged(seed, mutated), "a mutated v5 quote was accepted"


def test_every_seed_verifies_unmutated():
    for quote, verify in SEEDS:
        assert verify(quote).tcb_status == "UpToDate"
    assert TdxQuote.parse(SIM_V5_TD10).version == 5
    assert type(TdxQuote.parse(SIM_V5_TD10).body) is TdReport
