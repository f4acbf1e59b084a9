"""The key-broker story on the real devnet, step by step, for the integration tests.

A provider (``dev_account("provider")``) registers with stake and publishes a SIMULATED TEE offer;
owners list an engine (``model_owner``) and datasets (``hospital_a``...) whose ciphertexts are on
the devnet's IPFS; a customer orders and the provider accepts, all through
:class:`enclava.chain.MarketClient`. Enclaves are certified by the devnet's CA over HTTP with
real-format simulated evidence, owners deposit keys and read their audit log over HTTP, enclaves
ask for keys over HTTP, and admins revoke over HTTP. Nothing here talks to the CA in-process: the
CA is reached over its attested, pinned TLS channel (``connect_devnet_ca``), and every key-release
answer is checked with ``verify_release_answer`` against the attested signer.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from dataclasses import dataclass

import httpx
import pyrage
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from eth_account import Account
from eth_account.signers.local import LocalAccount

from certification_authority.admin import build_revocation_request
from enclava.attestation import bind_report_data
from enclava.attestation.gpu.evidence import gpu_evidence_digest
from enclava.attestation.gpu.simulated import SimulatedGpuAttester
from enclava.attestation.simulated import SimulatedTdxAttester
from enclava.ca_link.chain_ca import connect_devnet_ca
from enclava.chain import MarketClient
from enclava.chain.config import load_manifest
from enclava.chain.errors import TransactionReverted
from enclava.chain.types import ResourceKind
from enclava.devnet import dev_account
from enclava.devnet.measurements import devnet_measurement
from enclava.protocol.broker import build_audit_request, build_deposit_request
from enclava.protocol.consent import sign_enclave_consent
from enclava.protocol.csr import build_csr, enclave_address_of
from enclava.protocol.key_release import ReleaseAnswer, build_release_request, verify_release_answer
from enclava.protocol.order import IntegrityReport
from enclava.protocol.tee import TeeType
from enclava.storage import IpfsContentStore

PRICE_PER_SECOND = 10**9
RESOURCE_PRICE = 10**15
TEE_SLOTS = 64


def certify_body(
    ca: httpx.Client,
    *,
    measurement: bytes | None = None,
    provider_role: str = "provider",
    nonce: str | None = None,
    key: ec.EllipticCurvePrivateKey | None = None,
    age_recipient: str | None = None,
    gpus: SimulatedGpuAttester | None = None,
) -> tuple[str, dict]:
    """A ``/v1/certify`` body for a fresh simulated enclave key (or ``key``): (enclave address,
    body). With ``gpus``, the evidence carries that attester's GPUs for the nonce and the CPU
    report binds them.

    ``ca`` is the CA's URL or an HTTP client bound to it (an in-process ``TestClient`` too).
    """
    if nonce is None:
        nonce = ca.post("/v1/challenge").json()["nonce"]
    key = key or ec.generate_private_key(ec.SECP256K1())
    spki = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    measurement = devnet_measurement("loader") if measurement is None else measurement
    collected = gpus.collect(bytes.fromhex(nonce)) if gpus is not None else ()
    digest = gpu_evidence_digest(collected) if collected else None
    evidence = dataclasses.replace(
        SimulatedTdxAttester(measurement).attest(
            bind_report_data(bytes.fromhex(nonce), spki, digest)
        ),
        gpus=collected,
    )
    enclave = enclave_address_of(key.public_key())
    provider = dev_account(provider_role)
    manifest = (
        load_manifest()
    )  # the session's devnet (ENCLAVA_MANIFEST): the registry the consent is for
    consent = sign_enclave_consent(
        provider,
        enclave=enclave,
        provider=provider.address,
        nonce=nonce,
        chain_id=manifest.chain_id,
        registry=manifest.contracts["AttestationRegistry"],
    )
    age_recipient = age_recipient or str(pyrage.x25519.Identity.generate().to_public())
    return enclave, {
        "evidence": json.loads(evidence.to_json()),
        "csr_pem": build_csr(key, age_recipient).decode(),
        "nonce": nonce,
        "provider": provider.address,
        "provider_signature": consent,
    }


@dataclass(frozen=True)
class Enclave:
    """A certified simulated enclave: its signing account, its age identity and its certificate."""

    account: LocalAccount
    identity: pyrage.x25519.Identity
    certificate_pem: str
    provider: str
    measurement_digest: bytes

    @property
    def address(self) -> str:
        return self.account.address


@dataclass(frozen=True)
class Resource:
    """A listed engine/model/dataset: its resource id, owner role, resource key, IPFS ciphertext."""

    resource_id: int
    owner_role: str
    key: bytes
    cid: str
    content_hash: bytes
    plaintext: bytes

    @property
    def content_hash_hex(self) -> str:
        return "0x" + self.content_hash.hex()


class BrokerStory:
    def __init__(self, manifest, http: httpx.Client | None = None) -> None:
        """``http``: a client bound to the CA (default: the devnet's CA, attested and pinned)."""
        self.manifest = manifest
        if http is None:
            attested = connect_devnet_ca(manifest, timeout=60)
            http, identity = attested.client, attested.identity.to_json()
        else:
            identity = http.get("/v1/ca").json()
        self.http = http
        self.market = MarketClient.from_manifest(manifest)
        self.ipfs = IpfsContentStore.from_manifest(manifest)
        self.ca_id, self.ca_recipient = identity["ca_id"], identity["age_recipient"]
        self.ca_signer = identity["signer_address"]
        self._tee_offers: dict[str, int] = {}

    # -- chain: providers, listings, orders --------------------------------------------------------

    def tee_offer(self, provider_role: str = "provider") -> int:
        """The provider's SIMULATED TEE offer (registered with the minimum stake first if
        needed)."""
        if provider_role not in self._tee_offers:
            provider = dev_account(provider_role)
            if not self.market.is_provider(provider.address):
                self.market.register_provider(provider, self.market.min_stake())
            self._tee_offers[provider_role] = self.market.publish_tee_offer(
                provider,
                tee_type=TeeType.SIMULATED,
                gpu_class="cpu",
                price_per_second=PRICE_PER_SECOND,
                slots=TEE_SLOTS,
            )
        return self._tee_offers[provider_role]

    def list_resource(
        self, owner_role: str, kind: ResourceKind, plaintext: bytes | None = None
    ) -> Resource:
        """Encrypt ``plaintext`` under a fresh resource key (AES-GCM), store it on IPFS, list it."""
        key, nonce = AESGCM.generate_key(bit_length=256), os.urandom(12)
        plaintext = (
            plaintext or f"{kind.name.lower()} of {owner_role} {os.urandom(4).hex()}".encode()
        )
        stored = self.ipfs.add(nonce + AESGCM(key).encrypt(nonce, plaintext, None))
        content_hash = bytes.fromhex(stored.sha256)
        resource_id = self.market.list_resource(
            dev_account(owner_role),
            kind=kind,
            cid=stored.cid,
            content_hash=content_hash,
            price=RESOURCE_PRICE,
        )
        return Resource(resource_id, owner_role, key, stored.cid, content_hash, plaintext)

    def open_resource(self, resource: Resource, key: bytes) -> bytes:
        """Fetch the resource's ciphertext from IPFS (hash-checked) and decrypt it with ``key``."""
        blob = self.ipfs.get_bytes(resource.cid, expected_sha256=resource.content_hash.hex())
        return AESGCM(key).decrypt(blob[:12], blob[12:], None)

    def place_order(
        self,
        engine: Resource,
        resources: list[Resource],
        *,
        customer_role: str = "customer",
        provider_role: str = "provider",
        max_duration: int = 3600,
    ) -> str:
        order_id, _ = self.market.create_order(
            dev_account(customer_role),
            engine_id=engine.resource_id,
            resource_ids=[r.resource_id for r in resources],
            tee_offer_id=self.tee_offer(provider_role),
            inputs=[],
            recipient_key=str(pyrage.x25519.Identity.generate().to_public()).encode(),
            max_duration=max_duration,
        )
        return order_id

    def accept(self, order_id: str, provider_role: str = "provider") -> None:
        self.market.accept_order(dev_account(provider_role), order_id)

    def warp(self, seconds: int) -> None:
        """Move anvil's clock forward and mine a block at the new time."""
        self.market.w3.provider.make_request("evm_increaseTime", [int(seconds)])
        self.market.w3.provider.make_request("evm_mine", [])

    # -- the CA over HTTP --------------------------------------------------------------------------

    def certify(self, provider_role: str = "provider") -> Enclave:
        key = ec.generate_private_key(ec.SECP256K1())
        identity = pyrage.x25519.Identity.generate()
        _, body = certify_body(
            self.http, provider_role=provider_role, key=key, age_recipient=str(identity.to_public())
        )
        reply = self.http.post("/v1/certify", json=body)
        reply.raise_for_status()
        result = reply.json()
        account = Account.from_key(key.private_numbers().private_value.to_bytes(32, "big"))
        assert account.address == result["enclave_address"]
        return Enclave(
            account,
            identity,
            result["certificate_pem"],
            dev_account(provider_role).address,
            bytes.fromhex(result["measurement_digest"].removeprefix("0x")),
        )

    def deposit(
        self, resource: Resource, policy: dict, *, issued_at: int | None = None
    ) -> httpx.Response:
        request = build_deposit_request(
            dev_account(resource.owner_role),
            self.ca_recipient,
            self.ca_id,
            resource.resource_id,
            resource.key,
            policy,
            issued_at=issued_at,
        )
        return self.http.post(
            "/v1/keys/deposit",
            content=request.model_dump_json(),
            headers={"content-type": "application/json"},
        )

    def release(
        self, enclave: Enclave, order_id: str, resource_ids: list[int] | None = None
    ) -> httpx.Response:
        """The CA's reply to a fresh signed request (its body:
        ``json.loads(reply.request.content)``)."""
        body = build_release_request(
            enclave.account,
            certificate_pem=enclave.certificate_pem,
            ca_id=self.ca_id,
            order_id=order_id,
            resource_ids=resource_ids,
        )
        return self.http.post("/v1/keys/release", json=body)

    def answer(self, enclave: Enclave, reply: httpx.Response) -> ReleaseAnswer:
        """The reply's signed answer, verified for exactly the request that was sent."""
        sent = json.loads(reply.request.content)
        return verify_release_answer(
            reply.json(),
            signer=self.ca_signer,
            ca_id=self.ca_id,
            order_id=sent["order_id"],
            enclave=enclave.address,
            request_nonce=sent["request_nonce"],
        )

    def wrapped(self, enclave: Enclave, reply: httpx.Response) -> dict[int, bytes]:
        """resource id -> age ciphertext of every resource key in the verified answer."""
        return {
            key.resource_id: key.ciphertext
            for key in self.answer(enclave, reply).keys
            if key.kind == "resource"
        }

    def audit(self, resource: Resource) -> dict:
        request = build_audit_request(
            dev_account(resource.owner_role), self.ca_id, resource.resource_id
        )
        reply = self.http.post(
            "/v1/audit",
            content=request.model_dump_json(),
            headers={"content-type": "application/json"},
        )
        reply.raise_for_status()
        return reply.json()

    def revoke(
        self,
        kind: str,
        subject: str,
        reason: str = "compromised",
        *,
        admin_role: str = "deployer",
        issued_at: int | None = None,
    ) -> httpx.Response:
        request = build_revocation_request(
            dev_account(admin_role), self.ca_id, kind, subject, reason, issued_at=issued_at
        )
        return self.http.post(
            "/v1/revocations",
            content=request.model_dump_json(),
            headers={"content-type": "application/json"},
        )

    def complete_refused(self, enclave: Enclave, order_id: str, provider_role: str) -> str:
        """``enclave`` signs a report completing ``order_id`` now and ``provider_role`` submits it;
        the marketplace must refuse it: return the name of the custom error it reverted with."""
        order = self.market.order(order_id)
        report = IntegrityReport(
            order_id=bytes.fromhex(order_id[2:]),
            engine_hash=order.terms.engine_hash,
            inputs_hash=order.terms.inputs_hash,
            output_hash=b"\x01" * 32,
            output_cid="bafy-output",
            tee_type=int(TeeType.SIMULATED),
            measurement=enclave.measurement_digest,
            enclave=enclave.address,
            started_at=order.accepted_at,
            finished_at=int(self.market.w3.eth.get_block("latest")["timestamp"]),
        )
        signature = self.market.sign_report(enclave.account, report)
        try:
            self.market.complete_order(dev_account(provider_role), order.terms, report, signature)
        except TransactionReverted as refused:
            return refused.error_name or ""
        raise AssertionError(f"the marketplace accepted {enclave.address}'s report")


def policy_for(engine: Resource, customer_role: str = "customer", **overrides) -> dict:
    """A policy admitting this engine and this customer, on the (simulated) devnet TEE."""
    return {
        "allowed_engine_hashes": [engine.content_hash_hex],
        "allowed_customers": [dev_account(customer_role).address],
        "insecure_allow_simulated_tee": True,
        **overrides,
    }


def denials_in(view: dict, order_id: str) -> list[tuple[str, str | None]]:
    """(reason, guard) of every ``denied`` key-release entry about ``order_id`` in an audit view."""
    return [
        (e["reason"], e["guard"])
        for e in view["entries"]
        if e["event"] == "key_release"
        and e["decision"] == "denied"
        and e["order_id"] == order_id.lower()
    ]


def random_hash() -> str:
    return "0x" + hashlib.sha256(os.urandom(16)).hexdigest()
