"""Property tests: random and mutated evidence into every verifier; only typed EnclavaErrors come
out.

A second property is stronger: a mutated quote or report is never accepted unless its bytes are
the original's (TDX quotes may differ only in trailing zero padding, which configfs adds).
"""

from __future__ import annotations

import dataclasses
import json
import os

import pytest
from ca_support import SNP_VALID_TIME, TDX_PINNED_TIME, byte_edits, enclave_key_der
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from enclava.attestation import Evidence, SimulatedTdxAttester
from enclava.attestation.verifiers import (
    EvidenceVerifier,
    InMemoryMeasurementAllowList,
    InMemoryNonceStore,
    SevSnpVerifier,
    SimulatedTdxVerifier,
    TdxVerifier,
)
from enclava.errors import EnclavaError
from enclava.protocol.tee import KNOWN_TEES

SIM_NOW = 1795000000
# ENCLAVA_FUZZ_EXAMPLES raises the example count for a deeper run (e.g. 5000 nightly).
FUZZ = settings(
    max_examples=int(os.environ.get("ENCLAVA_FUZZ_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
VERIFIERS = {
    "tdx": TdxVerifier(),
    "simulated-allowed": SimulatedTdxVerifier(insecure_allow_simulated_tee=True),
    "simulated-refused": SimulatedTdxVerifier(),
    "sev-snp": SevSnpVerifier(),
}


def mutations(data: bytes) -> st.SearchStrategy[bytes]:
    """``data`` after 1-4 random edits: bit flips, byte sets, deletions, insertions, truncation."""
    return byte_edits(data)


@pytest.fixture(scope="module")
def seeds(request) -> dict[str, tuple[Evidence, int]]:
    simulated = SimulatedTdxAttester(bytes(48), clock=lambda: SIM_NOW - 60).attest(bytes(64))
    return {
        "tdx": (request.getfixturevalue("tdx_vector"), TDX_PINNED_TIME),
        "sev-snp": (request.getfixturevalue("snp_vector"), SNP_VALID_TIME),
        "simulated": (simulated, SIM_NOW),
    }


def _outcome(verifier, evidence: Evidence, now: int) -> str:
    try:
        verifier.verify_evidence(evidence, now=now)
    except EnclavaError:
        return "refused"
    return "accepted"


@FUZZ
@given(
    tee=st.sampled_from(KNOWN_TEES),
    quote=st.binary(min_size=1, max_size=6000),
    collateral=st.binary(max_size=3000),
    now=st.integers(-(2**65), 2**65),
    name=st.sampled_from(sorted(VERIFIERS)),
)
def test_random_evidence_only_raises_typed_errors(tee, quote, collateral, now, name):
    assert _outcome(VERIFIERS[name], Evidence(tee, quote, collateral), now) == "refused"


@FUZZ
@given(
    data=st.data(),
    seed=st.sampled_from(["tdx", "sev-snp", "simulated"]),
    name=st.sampled_from(sorted(VERIFIERS)),
)
def test_mutated_evidence_only_raises_typed_errors(seeds, data, seed, name):
    evidence, now = seeds[seed]
    field = data.draw(st.sampled_from(["quote", "collateral"]))
    mutated = data.draw(mutations(getattr(evidence, field)))
    if field == "quote" and not mutated:
        return  # Evidence refuses an empty quote at construction (tested elsewhere)
    _outcome(VERIFIERS[name], dataclasses.replace(evidence, **{field: mutated}), now)


@FUZZ
@given(data=st.data(), seed=st.sampled_from(["tdx", "sev-snp", "simulated"]))
def test_mutated_quote_is_never_accepted(seeds, data, seed):
    evidence, now = seeds[seed]
    verifier = {
        "tdx": VERIFIERS["tdx"],
        "sev-snp": VERIFIERS["sev-snp"],
        "simulated": VERIFIERS["simulated-allowed"],
    }[seed]
    mutated = data.draw(mutations(evidence.quote))
    same = (
        mutated.rstrip(b"\x00") == evidence.quote.rstrip(b"\x00")
        if seed != "sev-snp"
        else mutated == evidence.quote
    )
    if not mutated or same:
        return
    assert _outcome(verifier, dataclasses.replace(evidence, quote=mutated), now) == "refused"


@FUZZ
@given(
    data=st.data(),
    seed=st.sampled_from(["tdx", "sev-snp", "simulated"]),
    nonce=st.binary(max_size=40),
    key=st.one_of(st.binary(max_size=100), st.just(enclave_key_der())),
)
def test_pipeline_only_raises_typed_errors(seeds, data, seed, nonce, key):
    evidence, now = seeds[seed]
    text = data.draw(st.one_of(st.just(evidence.to_json()), mutations(evidence.to_json().encode())))
    pipeline = EvidenceVerifier(
        allow_list=InMemoryMeasurementAllowList(),
        nonce_store=InMemoryNonceStore(),
        insecure_allow_simulated_tee=data.draw(st.booleans()),
    )
    with pytest.raises(EnclavaError):
        pipeline.verify(Evidence.from_json(text), nonce=nonce, enclave_public_key_der=key, now=now)


_JSON_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.sampled_from(["tdx", "sev-snp", "AA==", "A"]),
    st.text(max_size=20),
    st.lists(st.integers(), max_size=3),
)


@FUZZ
@given(
    text=st.one_of(
        st.text(max_size=300),
        st.binary(max_size=300),
        st.dictionaries(
            st.sampled_from(["version", "tee_type", "quote", "collateral", "x"]), _JSON_VALUES
        ).map(json.dumps),
    )
)
def test_evidence_json_parser_only_raises_typed_errors(text):
    try:
        evidence = Evidence.from_json(text)
    except EnclavaError:
        return
    assert json.loads(evidence.to_json()) == json.loads(
        text
    )  # accepted only if it was canonical evidence


def _gpu_document() -> dict:
    from enclava.attestation.gpu.simulated import SimulatedGpuAttester

    (gpu,) = SimulatedGpuAttester().collect(bytes(32))
    cpu = SimulatedTdxAttester(bytes(48)).attest(bytes(64))
    return json.loads(dataclasses.replace(cpu, gpus=(gpu,)).to_json())


GPU_DOCUMENT = _gpu_document()
_GPU_KEYS = ["report", "certificates", "driver_rim", "vbios_rim", "ocsp", "x"]


@FUZZ
@given(
    gpus=st.one_of(
        _JSON_VALUES,
        st.lists(
            st.one_of(_JSON_VALUES, st.dictionaries(st.sampled_from(_GPU_KEYS), _JSON_VALUES)),
            max_size=10,
        ),
    ),
    field=st.sampled_from(_GPU_KEYS),
    value=_JSON_VALUES,
)
def test_evidence_gpus_parser_only_raises_typed_errors(gpus, field, value):
    """Random ``gpus`` lists, and the real simulated GPU entry with one field replaced."""
    for changed in ({**GPU_DOCUMENT, "gpus": gpus}, _one_field(field, value)):
        text = json.dumps(changed)
        try:
            evidence = Evidence.from_json(text)
        except EnclavaError:
            continue
        assert json.loads(evidence.to_json()) == changed  # accepted only if canonical


def _one_field(field: str, value) -> dict:
    document = json.loads(json.dumps(GPU_DOCUMENT))
    document["gpus"][0][field] = value
    return document
