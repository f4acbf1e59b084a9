"""The CA on the devnet: real HTTPS over its attested, pinned channel, real evidence format, real
on-chain registration."""

from __future__ import annotations

import time

import httpx
import pytest
from broker_story import certify_body
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from certification_authority.admin import build_revocation_request
from enclava.attestation.verifiers import ca_evidence_verifier
from enclava.ca_link import CaIdentity, bind_ca_identity
from enclava.ca_link.chain_ca import connect_devnet_ca
from enclava.chain import ChainClient
from enclava.chain.allowlist import OnChainAllowList
from enclava.chain.contracts import ContractSet
from enclava.devnet import dev_account
from enclava.devnet.measurements import devnet_measurement


@pytest.fixture(scope="module")
def attested(devnet_manifest):
    with connect_devnet_ca(devnet_manifest) as attested:
        yield attested


@pytest.fixture(scope="module")
def ca(attested) -> httpx.Client:
    """An HTTP client that trusts only the CA's attested TLS certificate."""
    return attested.client


def _certify_body(ca, **kwargs):
    return certify_body(ca, **kwargs)


def test_ca_identity_carries_its_own_evidence(ca, attested, devnet_manifest):
    reply = ca.get("/v1/ca", params={"nonce": "ab" * 32}).json()
    assert reply["signer_address"] == dev_account("ca").address
    assert reply["age_recipient"].startswith("age1")
    assert reply["evidence"]["tee_type"] == "simulated"  # real-format TDX quote from the dev PKI
    identity = CaIdentity.from_json(reply)
    assert identity.tls_spki_sha256 == attested.identity.tls_spki_sha256
    contracts = ContractSet(ChainClient(devnet_manifest.rpc_url).w3, devnet_manifest.contracts)
    verify = ca_evidence_verifier(OnChainAllowList(contracts), insecure_allow_simulated_tee=True)
    claims = verify(identity.evidence, bind_ca_identity(bytes.fromhex("ab" * 32), identity))
    assert (
        claims.simulated
        and claims.measurement == attested.claims.measurement == devnet_measurement("ca")
    )


def test_ca_identity_without_a_nonce_carries_no_evidence(ca):
    reply = ca.get("/v1/ca").json()
    assert reply["evidence"] is None and set(reply) == {
        "ca_id",
        "ca_certificate_pem",
        "signer_address",
        "age_recipient",
        "tls_certificate_pem",
        "evidence",
    }


@pytest.mark.parametrize("nonce", ["zz", "ab" * 31, "ab" * 33, "zz" * 32, "0x", " " + "ab" * 32])
def test_a_malformed_nonce_is_a_422_in_the_one_error_shape(ca, nonce):
    reply = ca.get("/v1/ca", params={"nonce": nonce})
    assert reply.status_code == 422 and set(reply.json()) == {"type", "detail", "hint"}


def test_certify_issues_a_certificate_and_registers_the_enclave(ca, devnet_manifest):
    enclave, body = _certify_body(ca)
    reply = ca.post("/v1/certify", json=body, timeout=30)
    assert reply.status_code == 200, reply.text
    result = reply.json()
    assert (
        result["enclave_address"] == enclave
        and result["simulated"] is True
        and result["tee_type"] == 3
    )
    assert result["registration_tx"].startswith("0x")
    chain = ChainClient(devnet_manifest.rpc_url)
    contracts = ContractSet(chain.w3, devnet_manifest.contracts)
    valid, reason = contracts.attestation_registry.functions.checkEnclave(enclave).call()
    assert valid, reason
    record = contracts.attestation_registry.functions.getEnclave(enclave).call()
    assert record[0] == dev_account("provider").address


def test_a_reused_nonce_is_refused(ca):
    _, body = _certify_body(ca)
    assert ca.post("/v1/certify", json=body, timeout=30).status_code == 200
    _, again = _certify_body(ca, nonce=body["nonce"])
    reply = ca.post("/v1/certify", json=again, timeout=30)
    assert reply.status_code in (400, 401, 403) and reply.json()["type"].startswith("nonce")


def test_a_measurement_off_the_on_chain_allow_list_is_refused(ca):
    _, body = _certify_body(ca, measurement=b"\x42" * 48)
    reply = ca.post("/v1/certify", json=body, timeout=30)
    assert reply.status_code >= 400 and reply.json()["type"] == "measurement_not_allowed"


def test_consent_signed_by_someone_else_is_refused(ca):
    _, body = _certify_body(ca)
    body["provider"] = dev_account("provider_b").address
    reply = ca.post("/v1/certify", json=body, timeout=30)
    assert reply.status_code == 401 and reply.json()["type"] == "provider_consent_invalid"


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.dictionaries(
        st.sampled_from(["evidence", "csr_pem", "nonce", "provider", "provider_signature", "x"]),
        st.one_of(
            st.text(max_size=40),
            st.integers(),
            st.none(),
            st.dictionaries(st.text(max_size=8), st.text(max_size=20), max_size=3),
        ),
    )
)
def test_garbled_certify_requests_never_answer_500(ca, body):
    reply = ca.post("/v1/certify", json=body, timeout=30)
    assert 400 <= reply.status_code < 500, reply.text
    assert set(reply.json()) >= {"type", "detail"}


# -- revocations: only a configured admin (the devnet's deployer), fresh, once ---------------------


def _revoke(ca, request) -> httpx.Response:
    return ca.post(
        "/v1/revocations",
        content=request.model_dump_json(),
        headers={"content-type": "application/json"},
        timeout=30,
    )


def test_an_admin_revokes_a_certificate_once(ca):
    ca_id = ca.get("/v1/ca").json()["ca_id"]
    request = build_revocation_request(
        dev_account("deployer"), ca_id, "certificate", "0x5eed", "superseded"
    )
    reply = _revoke(ca, request)
    assert reply.status_code == 200, reply.text
    assert reply.json()["subject"] == "5eed" and reply.json()["onchain"] == "not_applicable"
    assert {"kind": "certificate", "subject": "5eed"}.items() <= next(
        r for r in ca.get("/v1/revocations").json() if r["subject"] == "5eed"
    ).items()
    replayed = _revoke(ca, request)
    assert replayed.status_code == 401 and replayed.json()["type"] == "admin_request_replayed"


@pytest.mark.parametrize(
    ("signer", "issued_at", "status", "code"),
    [
        ("provider", None, 403, "admin_not_authorized"),
        ("ca", None, 403, "admin_not_authorized"),  # the CA's own signer is no admin either
        ("deployer", -3600, 401, "signature_stale"),
    ],
)
def test_a_revocation_not_signed_by_a_fresh_admin_is_refused(ca, signer, issued_at, status, code):
    ca_id = ca.get("/v1/ca").json()["ca_id"]
    when = int(time.time()) + issued_at if issued_at is not None else None
    request = build_revocation_request(
        dev_account(signer), ca_id, "enclave", "0x" + "12" * 20, "x", issued_at=when
    )
    reply = _revoke(ca, request)
    assert (
        reply.status_code == status
        and reply.json()["type"] == code
        and set(reply.json()) == {"type", "detail", "hint"}
    )
    assert all(r["subject"] != "0x" + "12" * 20 for r in ca.get("/v1/revocations").json())


@pytest.mark.parametrize("body", [b"", b"{}", b"[1, 2]", b'{"kind": "enclave", "subject": "0x00"}'])
def test_an_unsigned_revocation_is_unauthenticated(ca, body):
    reply = ca.post("/v1/revocations", content=body, headers={"content-type": "application/json"})
    assert reply.status_code == 401 and reply.json()["type"] == "admin_request_invalid"
