"""A whole order on the real devnet, built from the dev accounts: provider + TEE offer, an engine
listing, an order created and accepted, an enclave certified by the devnet's CA over HTTP
(simulated TEE, real-format evidence), a signed integrity report and ``completeOrder``.

Fresh accounts are funded per story, so stories never collide with other tests on the shared devnet.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass

import pyrage
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_account.signers.local import LocalAccount
from web3 import Web3

from enclava.attestation import bind_report_data
from enclava.attestation.simulated import SimulatedTdxAttester
from enclava.ca_link.chain_ca import connect_devnet_ca
from enclava.chain import ChainClient
from enclava.chain.contracts import ContractSet
from enclava.chain.types import ResourceKind
from enclava.devnet import dev_account
from enclava.devnet.measurements import devnet_measurement
from enclava.protocol.consent import sign_enclave_consent
from enclava.protocol.csr import build_csr, enclave_address_of
from enclava.protocol.order import OrderTerms
from enclava.protocol.tee import TeeType
from enclava.report import report_tuple, report_typed_data
from enclava.storage import IpfsContentStore

FUNDER_INDEX = 12  # a devnet account no role uses
MIN_STAKE = 10**18
PRICE_PER_SECOND = 10**9
ENGINE_PRICE = 10**15
MAX_DURATION = 600


@dataclass
class Story:
    manifest: object
    chain: ChainClient
    contracts: ContractSet

    @classmethod
    def of(cls, manifest) -> "Story":
        chain = ChainClient(manifest.rpc_url)
        return cls(manifest, chain, ContractSet(chain.w3, manifest.contracts))

    def send(self, account: LocalAccount, fn, value: int = 0):
        tx = fn.build_transaction({"from": account.address, "value": value})
        tx.pop("nonce", None)
        result = self.chain.send(account, tx)
        return self.chain.w3.eth.get_transaction_receipt(result.tx_hash)


@dataclass
class CompletedOrder:
    order_id: str
    output_ciphertext: bytes
    output_cid: str
    engine_id: int
    tee_offer_id: int
    customer: LocalAccount
    provider: LocalAccount
    enclave: LocalAccount
    report: dict


def fresh_account(story: Story, eth: int = 20) -> LocalAccount:
    account = Account.create()
    story.chain.transfer(dev_account(FUNDER_INDEX), account.address, eth * 10**18)
    return account


def register_provider(story: Story, provider: LocalAccount, *, tee: int = TeeType.SIMULATED) -> int:
    registry = story.contracts.provider_registry
    story.send(provider, registry.functions.register(), value=MIN_STAKE)
    receipt = story.send(
        provider,
        registry.functions.publishTeeOffer(int(tee), b"cpu".ljust(32, b"\0"), PRICE_PER_SECOND, 4),
    )
    published = registry.events.TeeOfferPublished().process_receipt(receipt)
    return int(published[0]["args"]["teeOfferId"])


def list_resource(
    story: Story,
    owner: LocalAccount,
    content: bytes,
    *,
    kind: int = ResourceKind.ENGINE,
    price: int = ENGINE_PRICE,
) -> int:
    stored = IpfsContentStore(story.manifest.ipfs_api).add(content)
    registry = story.contracts.resource_registry
    listing = (int(kind), stored.cid, bytes.fromhex(stored.sha256), price, "")
    receipt = story.send(owner, registry.functions.listResource(listing))
    return int(registry.events.ResourceListed().process_receipt(receipt)[0]["args"]["resourceId"])


def create_order(
    story: Story, customer: LocalAccount, engine_id: int, tee_offer_id: int, inputs: list[bytes]
) -> tuple[str, dict]:
    store = IpfsContentStore(story.manifest.ipfs_api)
    uploaded = [store.add(data) for data in inputs]
    on_chain_inputs = [(s.cid, bytes.fromhex(s.sha256)) for s in uploaded]
    market = story.contracts.marketplace
    price = story.contracts.resource_registry.functions.resourceTerms(engine_id).call()[3]
    escrow = price + PRICE_PER_SECOND * MAX_DURATION
    receipt = story.send(
        customer,
        market.functions.createOrder(
            engine_id, [], tee_offer_id, on_chain_inputs, b"recipient-public-key", MAX_DURATION
        ),
        value=escrow,
    )
    args = market.events.OrderCreated().process_receipt(receipt)[0]["args"]
    return "0x" + bytes(args["orderId"]).hex(), args["terms"]


def certify_enclave(story: Story, provider: LocalAccount) -> LocalAccount:
    """A fresh enclave key, certified by the devnet CA (which registers it on chain)."""
    ca = connect_devnet_ca(story.manifest)  # the CA over its attested, pinned TLS channel
    nonce = ca.client.post("/v1/challenge", timeout=30).json()["nonce"]
    key = ec.generate_private_key(ec.SECP256K1())
    spki = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    evidence = SimulatedTdxAttester(devnet_measurement("loader")).attest(
        bind_report_data(bytes.fromhex(nonce), spki)
    )
    enclave_address = enclave_address_of(key.public_key())
    consent = sign_enclave_consent(
        provider,
        enclave=enclave_address,
        provider=provider.address,
        nonce=nonce,
        chain_id=story.chain.chain_id(),
        registry=story.contracts.attestation_registry.address,
    )
    body = {
        "evidence": json.loads(evidence.to_json()),
        "csr_pem": build_csr(key, str(pyrage.x25519.Identity.generate().to_public())).decode(),
        "nonce": nonce,
        "provider": provider.address,
        "provider_signature": consent,
    }
    reply = ca.client.post("/v1/certify", json=body, timeout=60)
    ca.close()
    assert reply.status_code == 200, reply.text
    enclave = Account.from_key(key.private_numbers().private_value.to_bytes(32, "big"))
    assert enclave.address == enclave_address
    return enclave


def complete_order(
    story: Story, order_id: str, terms, enclave: LocalAccount, output: bytes
) -> dict:
    stored = IpfsContentStore(story.manifest.ipfs_api).add(output)
    record = story.contracts.attestation_registry.functions.getEnclave(enclave.address).call()
    finished = int(story.chain.w3.eth.get_block("latest")["timestamp"])
    accepted = int(
        story.contracts.marketplace.functions.orderState(Web3.to_bytes(hexstr=order_id)).call()[1]
    )
    report = {
        "orderId": Web3.to_bytes(hexstr=order_id),
        "engineHash": bytes(terms["engineHash"]),
        "inputsHash": bytes(terms["inputsHash"]),
        "outputHash": hashlib.sha256(output).digest(),
        "outputCid": stored.cid,
        "teeType": int(terms["teeType"]),
        "measurement": bytes(record[5]),
        "enclave": enclave.address,
        "startedAt": max(accepted, finished - 3),
        "finishedAt": finished,
    }
    typed = report_typed_data(
        report, chain_id=story.chain.chain_id(), marketplace=story.contracts.marketplace.address
    )
    signature = bytes(enclave.sign_message(encode_typed_data(full_message=typed)).signature)
    story.send(
        dev_account(FUNDER_INDEX),
        story.contracts.marketplace.functions.completeOrder(
            OrderTerms.from_event(terms).as_tuple(), report_tuple(report), signature
        ),
    )
    return report


def completed_order(manifest, *, inputs: list[bytes] | None = None) -> CompletedOrder:
    """The whole story: returns an order completed on chain with a valid, enclave-signed report."""
    story = Story.of(manifest)
    provider, owner, customer = fresh_account(story), fresh_account(story), fresh_account(story)
    tee_offer_id = register_provider(story, provider)
    engine_id = list_resource(story, owner, b"engine ciphertext " + os.urandom(16))
    order_id, terms = create_order(
        story, customer, engine_id, tee_offer_id, inputs or [b"digits " + os.urandom(8)]
    )
    story.send(
        provider, story.contracts.marketplace.functions.acceptOrder(Web3.to_bytes(hexstr=order_id))
    )
    enclave = certify_enclave(story, provider)
    output = b"encrypted result " + os.urandom(32)
    report = complete_order(story, order_id, terms, enclave, output)
    return CompletedOrder(
        order_id,
        output,
        report["outputCid"],
        engine_id,
        tee_offer_id,
        customer,
        provider,
        enclave,
        report,
    )
