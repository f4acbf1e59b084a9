"""The loader <-> CA link under a hostile network (issue 13, breaks 2 and 7), against the real
devnet CA.

Before: the CA spoke plain HTTP, ``GET /v1/ca`` evidence bound only the CA certificate (and a
malformed nonce was a 500), the release answer was a bare unsigned list, and a captured release
request could be replayed inside its time window, each replay spending one of the owner's uses.
A man in the middle on the link added the provider's own engine key to the answer and the loader
took it.

Now, with real components (a TLS-terminating TCP relay and an HTTP-rewriting proxy in front of the
devnet's CA process):

- (a) a relay that presents its own TLS certificate is refused with ``CaIdentityMismatch``; so is a
  proxy that rewrites the identity to name its own key (the CA's evidence no longer binds it);
- (b) plain HTTP is refused by the client (``CaChannelInsecure``) and not answered by the CA;
- (c) an answer tampered with in transit (a key entry added, a byte flipped, an old answer replayed)
  is refused by ``verify_release_answer``;
- (d) a captured release request sent twice: the second is refused (409 ``release_replayed``),
  logged for the owners, and the owner's remaining uses go down by exactly one;
- (e) ``GET /v1/ca?nonce=zz`` is a 422 in the service's error shape, never a 500.
"""

from __future__ import annotations

import base64
import json
import ssl
from collections.abc import Iterator

import httpx
import pyrage
import pytest

from enclava.ca_link import AttestedCa, CaChannelInsecure, CaIdentityMismatch, connect_attested_ca
from enclava.ca_link.chain_ca import connect_chain_ca, connect_devnet_ca
from enclava.chain import ChainClient
from enclava.chain.contracts import ContractSet
from enclava.chain.types import ResourceKind
from enclava.protocol.errors import ReleaseAnswerForged, ReleaseAnswerInvalid, ReleaseAnswerMismatch
from enclava.protocol.key_release import (
    build_release_request,
    released_key_entry,
    verify_release_answer,
)
from tests.adversarial.mitm import Tamper, tampering_proxy, tls_relay
from tests.integration.broker_story import BrokerStory, Enclave, Resource, denials_in, policy_for

pytestmark = pytest.mark.devnet


# -- the devnet's parties --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ca_url(devnet_manifest) -> str:
    return devnet_manifest.services["ca"].url


@pytest.fixture(scope="module")
def contracts(devnet_manifest) -> ContractSet:
    return ContractSet(ChainClient(devnet_manifest.rpc_url).w3, devnet_manifest.contracts)


@pytest.fixture(scope="module")
def attested(devnet_manifest) -> Iterator[AttestedCa]:
    with connect_devnet_ca(devnet_manifest) as ca:
        yield ca


@pytest.fixture(scope="module")
def story(devnet_manifest) -> BrokerStory:
    return BrokerStory(devnet_manifest)


@pytest.fixture(scope="module")
def engine(story) -> Resource:
    engine = story.list_resource("model_owner", ResourceKind.ENGINE, b"def run(data): return data")
    assert story.deposit(engine, policy_for(engine)).status_code == 200
    return engine


@pytest.fixture(scope="module")
def enclave(story) -> Enclave:
    return story.certify("provider")


def _order(
    story: BrokerStory, engine: Resource, max_uses: int | None = None
) -> tuple[str, Resource]:
    dataset = story.list_resource("hospital_a", ResourceKind.DATASET, b"patient,age\n1,42\n")
    extra = {} if max_uses is None else {"max_uses": max_uses}
    assert story.deposit(dataset, policy_for(engine, **extra)).status_code == 200
    order_id = story.place_order(engine, [dataset])
    story.accept(order_id)
    return order_id, dataset


def _request(story: BrokerStory, enclave: Enclave, order_id: str) -> dict:
    return build_release_request(
        enclave.account,
        certificate_pem=enclave.certificate_pem,
        ca_id=story.ca_id,
        order_id=order_id,
    )


def _verify(attested: AttestedCa, enclave: Enclave, order_id: str, body: dict, answer: object):
    return verify_release_answer(
        answer,
        signer=attested.signer_address,
        ca_id=attested.ca_id,
        order_id=order_id,
        enclave=enclave.address,
        request_nonce=body["request_nonce"],
    )


# -- (a) a man in the middle on the TLS link -------------------------------------------------------


def test_a_relay_presenting_its_own_certificate_is_refused(ca_url, contracts, attested, tmp_path):
    with tls_relay(ca_url, tmp_path) as relay:
        assert (
            httpx.get(f"{relay}/healthz", verify=False).json()["status"] == "ok"
        )  # it does relay the CA
        with pytest.raises(CaIdentityMismatch) as refused:
            connect_chain_ca(relay, contracts, insecure_allow_simulated_tee=True)
    assert "TLS key" in refused.value.message and refused.value.code == "ca_identity_mismatch"
    assert attested.identity.tls_spki_sha256  # the CA itself, reached directly, attests fine


def test_a_proxy_that_renames_the_tls_key_to_its_own_breaks_the_evidence_binding(
    ca_url, contracts, tmp_path
):
    mitm_pem = {}

    def rename(path: str, body: bytes) -> bytes:
        if not path.startswith("/v1/ca"):
            return body
        return json.dumps({**json.loads(body), "tls_certificate_pem": mitm_pem["pem"]}).encode()

    with tampering_proxy(ca_url, tmp_path, rename) as proxy:
        probe = ssl.get_server_certificate(("127.0.0.1", int(proxy.rsplit(":", 1)[1])))
        mitm_pem["pem"] = probe
        with pytest.raises(CaIdentityMismatch) as refused:
            connect_chain_ca(proxy, contracts, insecure_allow_simulated_tee=True)
    assert "does not bind" in refused.value.message


# -- (b) plain HTTP --------------------------------------------------------------------------------


def test_plain_http_to_the_ca_is_refused_by_the_client_and_not_served(ca_url, attested):
    plain = ca_url.replace("https://", "http://")
    with pytest.raises(CaChannelInsecure):
        connect_attested_ca(plain, verify_evidence=lambda evidence, report_data: None)
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"{plain}/v1/ca", timeout=10)
    assert attested.url.startswith("https://")


# -- (c) an answer tampered with in transit --------------------------------------------------------


def _added_key(enclave: Enclave, engine: Resource) -> Tamper:
    """The attack of break 2: the provider's own 'engine key', wrapped to the enclave's age
    recipient."""

    def tamper(path: str, body: bytes) -> bytes:
        if path != "/v1/keys/release":
            return body
        answer = json.loads(body)
        ciphertext = pyrage.encrypt(
            b"the provider's engine key......!", [enclave.identity.to_public()]
        )
        answer["release"]["keys"].append(
            released_key_entry(
                kind="resource",
                resource_id=engine.resource_id + 1000,
                content_hash=engine.content_hash,
                policy_version=1,
                ciphertext=ciphertext,
            )
        )
        return json.dumps(answer).encode()

    return tamper


def _flipped_byte(path: str, body: bytes) -> bytes:
    if path != "/v1/keys/release":
        return body
    answer = json.loads(body)
    raw = bytearray(base64.b64decode(answer["release"]["keys"][0]["ciphertext"]))
    raw[len(raw) // 2] ^= 0x01
    answer["release"]["keys"][0]["ciphertext"] = base64.b64encode(bytes(raw)).decode()
    return json.dumps(answer).encode()


@pytest.mark.parametrize("attack", ["added_key", "flipped_byte"])
def test_an_answer_tampered_with_in_transit_is_refused(
    story, attested, engine, enclave, ca_url, tmp_path, attack
):
    order_id, _ = _order(story, engine)
    tamper = _added_key(enclave, engine) if attack == "added_key" else _flipped_byte
    body = _request(story, enclave, order_id)
    with tampering_proxy(ca_url, tmp_path, tamper) as proxy:
        reply = httpx.post(f"{proxy}/v1/keys/release", json=body, verify=False, timeout=60)
    assert reply.status_code == 200, reply.text
    with pytest.raises(ReleaseAnswerForged):
        _verify(attested, enclave, order_id, body, reply.json())


def test_an_untouched_answer_through_the_proxy_verifies(
    story, attested, engine, enclave, ca_url, tmp_path
):
    order_id, dataset = _order(story, engine)
    body = _request(story, enclave, order_id)
    with tampering_proxy(ca_url, tmp_path, lambda _path, content: content) as proxy:
        reply = httpx.post(f"{proxy}/v1/keys/release", json=body, verify=False, timeout=60)
    answer = _verify(attested, enclave, order_id, body, reply.json())
    keys = answer.require_resources(
        {engine.resource_id: engine.content_hash, dataset.resource_id: dataset.content_hash}
    )
    assert pyrage.decrypt(keys[dataset.resource_id].ciphertext, [enclave.identity]) == dataset.key


def test_an_earlier_genuine_answer_replayed_by_the_network_is_refused(
    story, attested, engine, enclave
):
    order_id, _ = _order(story, engine)
    first = _request(story, enclave, order_id)
    captured = story.http.post("/v1/keys/release", json=first).json()
    second = _request(
        story, enclave, order_id
    )  # the enclave's next request; the network answers the old one
    with pytest.raises(ReleaseAnswerMismatch):
        _verify(attested, enclave, order_id, second, captured)
    other_order, _ = _order(story, engine)
    with pytest.raises(ReleaseAnswerInvalid):
        _verify(attested, enclave, other_order, first, captured)


# -- (d) a captured release request replayed -------------------------------------------------------


def test_a_replayed_release_request_is_refused_and_spends_nothing(story, attested, engine, enclave):
    order_id, dataset = _order(story, engine, max_uses=2)
    captured = _request(story, enclave, order_id)
    first = story.http.post("/v1/keys/release", json=captured)
    assert first.status_code == 200, first.text
    assert _verify(attested, enclave, order_id, captured, first.json()).resource_keys.keys() == {
        engine.resource_id,
        dataset.resource_id,
    }

    replayed = story.http.post("/v1/keys/release", json=captured)
    assert replayed.status_code == 409 and replayed.json()["type"] == "release_replayed"
    assert set(replayed.json()) == {"type", "detail", "hint"}
    view = story.audit(dataset)
    assert ("release_replayed", "guard_request_unused") in denials_in(view, order_id)
    granted = [
        e
        for e in view["entries"]
        if e["order_id"] == order_id.lower() and e["decision"] == "granted"
    ]
    assert len(granted) == 1  # the replay released nothing

    # the owner allowed two uses: the replay spent none, so one fresh request still succeeds, the
    # next does not
    assert (
        story.http.post("/v1/keys/release", json=_request(story, enclave, order_id)).status_code
        == 200
    )
    exhausted = story.http.post("/v1/keys/release", json=_request(story, enclave, order_id))
    assert exhausted.status_code == 409 and exhausted.json()["type"] == "policy_uses_exhausted"


# -- (e) a malformed nonce -------------------------------------------------------------------------


@pytest.mark.parametrize("nonce", ["zz", "ab" * 31, "zz" * 32, "ab" * 33, "0x"])
def test_a_malformed_identity_nonce_is_a_422_not_a_500(attested, nonce):
    reply = attested.client.get("/v1/ca", params={"nonce": nonce})
    assert reply.status_code == 422 and reply.json()["type"] == "invalid_request"
    assert set(reply.json()) == {"type", "detail", "hint"}
