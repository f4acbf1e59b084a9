"""Hypothesis through the CA's ``POST /v1/certify`` with random and mutated ``gpus`` entries, and
with mutated real TDX v5 quotes and SEV-SNP Genoa/Turin/VLEK reports: the CA
answers every one without a server error, in the one error shape ``{"type", "detail", "hint"}``
with a typed code, and never certifies a mutated GPU.

The CA is the real app (``create_ca_app`` over the session's devnet, insecure flag on, as the
devnet runs it); each example gets a fresh CA nonce, simulated CPU evidence that binds the
(unmutated) simulated GPU evidence of that nonce, and the provider's real consent; only the
``gpus`` part of the evidence JSON is then replaced or mutated.
"""

from __future__ import annotations

import base64
import copy
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from certification_authority import compose
from certification_authority.compose import create_ca_app
from certification_authority.settings import CaSettings
from enclava.attestation import load_amd_certificates
from enclava.attestation.gpu.simulated import SimulatedGpuAttester
from enclava.chain.config import Manifest
from enclava.devnet import dev_account
from enclava.devnet.measurements import devnet_measurement
from tests.integration.broker_story import certify_body

pytestmark = pytest.mark.devnet

GPU_ATTESTER = SimulatedGpuAttester(gpu_class="H100")


@pytest.fixture(scope="module")
def ca(devnet_manifest: Manifest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    settings_ = CaSettings(
        state_dir=tmp_path_factory.mktemp("gpu-fuzz-ca") / "ca",
        ca_id="enclava-ca-gpu-fuzz",
        manifest=Path(devnet_manifest.state_dir) / "manifest.json",
        insecure_allow_simulated_tee=True,
        signer_key=dev_account("ca").key.hex(),
        admin_addresses=dev_account("deployer").address,
    )
    with pytest.MonkeyPatch.context() as patch:
        # in process the CA cannot measure itself (the test loaded more): it reports the
        # checkout's CA measurement, as tests/integration and test_api_fuzz do
        patch.setattr(compose, "running_measurement", devnet_measurement)
        app: FastAPI = create_ca_app(settings_)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def _body(ca: TestClient, devnet_manifest: Manifest) -> dict:
    """A /v1/certify body for a fresh key whose simulated CPU evidence binds simulated GPUs
    (``devnet_manifest`` is the session's devnet, whose registry the consent is for)."""
    return certify_body(ca, gpus=GPU_ATTESTER)[1]


def _assert_typed_refusal(reply) -> None:
    assert reply.status_code < 500, reply.text
    assert 400 <= reply.status_code < 500, reply.text  # every case below is a mutation
    body = reply.json()
    assert isinstance(body, dict) and set(body) == {"type", "detail", "hint"}, body
    assert all(isinstance(value, str) and value for value in body.values()), body


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=10,
)
B64 = st.binary(max_size=64).map(lambda raw: base64.b64encode(raw).decode())
FIELDS = ("report", "certificates", "driver_rim", "vbios_rim", "ocsp")


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(gpus=JSON | st.lists(JSON, min_size=1, max_size=3))
def test_random_gpus_are_refused_with_a_typed_error(ca, devnet_manifest, gpus):
    body = _body(ca, devnet_manifest)
    body["evidence"]["gpus"] = gpus
    _assert_typed_refusal(ca.post("/v1/certify", json=body))


@st.composite
def mutated(draw, entry: dict) -> dict:
    """One GPU entry with one change: a flipped byte in a field, a field replaced, dropped or
    added, or an OCSP list changed."""
    entry = copy.deepcopy(entry)
    kind = draw(st.sampled_from(("flip", "replace", "drop", "add", "ocsp")))
    name = draw(st.sampled_from(FIELDS))
    if kind == "flip" and name != "ocsp":
        raw = bytearray(base64.b64decode(entry[name]))
        at = draw(st.integers(0, len(raw) - 1))
        raw[at] ^= draw(st.integers(1, 255))
        entry[name] = base64.b64encode(bytes(raw)).decode()
    elif kind == "replace":
        entry[name] = draw(JSON | B64)
    elif kind == "drop":
        del entry[name]
    elif kind == "add":
        entry[draw(st.text(min_size=1, max_size=8).filter(lambda k: k not in FIELDS))] = draw(JSON)
    else:
        entry["ocsp"] = draw(st.lists(B64, max_size=3)) + ["not base64!"] * draw(st.integers(0, 1))
        if entry["ocsp"] == entry.get("_original_ocsp"):
            entry["ocsp"].append("AA==")
    return entry


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_mutated_gpu_evidence_is_never_certified(ca, devnet_manifest, data):
    body = _body(ca, devnet_manifest)
    (entry,) = body["evidence"]["gpus"]
    changed = data.draw(mutated(entry))
    if changed == entry:  # e.g. an OCSP list redrawn to itself: make it a real change
        changed["ocsp"] = [*changed["ocsp"], "AA=="]
    body["evidence"]["gpus"] = [changed]
    _assert_typed_refusal(ca.post("/v1/certify", json=body))


def test_the_unmutated_body_is_certified_with_the_gpu(ca, devnet_manifest):
    """The fuzz's base case is a real success: refusals above are the mutations' doing."""
    reply = ca.post("/v1/certify", json=_body(ca, devnet_manifest))
    assert reply.status_code == 200, reply.text
    answer = reply.json()
    assert (answer["gpu_class"], answer["gpu_count"]) == ("H100", 1)


# -- the new CPU parsers through the CA: real TDX v5 quotes and SEV-SNP reports, mutated ----------

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "attestation"


def _snp_chain(leaf: str, chain: str) -> bytes:
    raw = (FIXTURES / "sev-snp" / leaf).read_bytes()
    pem = (
        raw
        if leaf.endswith(".pem")
        else load_amd_certificates(raw, der=True)[0].public_bytes(serialization.Encoding.PEM)
    )
    return pem + (FIXTURES / "sev-snp" / chain).read_bytes()


#: (TEE wire name, quote or report, collateral): each real vector of a parser issue 16 added
VENDOR_EVIDENCE = {
    "tdx-v5": (
        "tdx",
        (FIXTURES / "tdx" / "tdx_quote_v5").read_bytes(),
        (FIXTURES / "tdx" / "tdx_quote_v5_collateral.json").read_bytes(),
    ),
    "tdx-v5-servicetd": (
        "tdx",
        (FIXTURES / "tdx" / "tdx_quote_v5_servicetd").read_bytes(),
        (FIXTURES / "tdx" / "tdx_quote_v5_collateral.json").read_bytes(),
    ),
    "snp-genoa-v3": (
        "sev-snp",
        (FIXTURES / "sev-snp" / "genoa-v3-report.bin").read_bytes(),
        _snp_chain("genoa-v3-vcek.pem", "ask_ark_genoa.pem"),
    ),
    "snp-turin-v5": (
        "sev-snp",
        (FIXTURES / "sev-snp" / "turin-v5-report.bin").read_bytes(),
        _snp_chain("turin-v5-vcek.pem", "ask_ark_turin.pem"),
    ),
    "snp-milan-v3-vlek": (
        "sev-snp",
        (FIXTURES / "sev-snp" / "milan-v3-vlek-report.bin").read_bytes(),
        _snp_chain("milan-v3-vlek.der", "ask_ark_milan_vlek.pem"),
    ),
}


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    name=st.sampled_from(sorted(VENDOR_EVIDENCE)),
    part=st.sampled_from(("quote", "collateral")),
    data=st.data(),
)
def test_mutated_vendor_evidence_through_the_ca_is_a_typed_refusal(
    ca, devnet_manifest, name, part, data
):
    """Real v5 quotes and Genoa/Turin/VLEK reports with a flipped byte, cut short or grown: the CA's
    answer is always a typed 4xx (unmutated, they bind no CA nonce of ours, so 4xx too)."""
    body = _body(ca, devnet_manifest)
    tee, quote, collateral = VENDOR_EVIDENCE[name]
    raw = bytearray(quote if part == "quote" else collateral)
    kind = data.draw(st.sampled_from(("flip", "truncate", "extend")))
    at = data.draw(st.integers(0, len(raw) - 1))
    if kind == "flip":
        raw[at] ^= data.draw(st.integers(1, 255))
    elif kind == "truncate":
        del raw[at:]
    else:
        raw[at:at] = data.draw(st.binary(min_size=1, max_size=16))
    quote, collateral = (bytes(raw), collateral) if part == "quote" else (quote, bytes(raw))
    body["evidence"] = {
        "collateral": base64.b64encode(collateral).decode(),
        "quote": base64.b64encode(quote).decode(),
        "tee_type": tee,
        "version": 1,
    }
    _assert_typed_refusal(ca.post("/v1/certify", json=body))
