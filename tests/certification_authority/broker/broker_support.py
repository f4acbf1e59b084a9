"""Helpers for the key-broker tests: the parties, one accepted order, and a broker on a real SQLite
file.

The order: engine resource 1 (owner A), model resource 2 (owner B), dataset resource 3 (owner
A); customer C; accepted by provider P for a TDX enclave whose measurement is on the allow-list.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass, replace

import pyrage
from eth_account import Account
from pyrage import x25519

from certification_authority.broker import InMemoryChainView, KeyBroker, OrderView, VerifiedEnclave
from enclava.attestation.verifiers import InMemoryMeasurementAllowList
from enclava.protocol.broker import build_deposit_request, order_inputs_message, sign_text

NOW = 1_800_000_000
CA_ID = "enclava-ca-test"
ENGINE, MODEL, DATASET, UNLISTED = 1, 2, 3, 99
ENGINE_HASH = "0x" + hashlib.sha256(b"engine ciphertext").hexdigest()
MODEL_HASH = "0x" + hashlib.sha256(b"model ciphertext").hexdigest()
DATASET_HASH = "0x" + hashlib.sha256(b"dataset ciphertext").hexdigest()
INPUTS_HASH = "0x" + hashlib.sha256(b"the order's inputs hash").hexdigest()
MEASUREMENT = "ab" * 48
ORDER_ID = "0x" + hashlib.sha256(b"order one").hexdigest()
KEYS = {
    ENGINE: b"engine-key-32-bytes-............!",
    MODEL: b"model-key-32-bytes-.............!",
    DATASET: b"dataset-key-32-bytes-...........!",
}


def fresh_nonce() -> str:
    """A release request's nonce: 32 random bytes, hex (each request has its own)."""
    return secrets.token_hex(32)


def account(seed: str):
    return Account.from_key(hashlib.sha256(seed.encode()).digest())


OWNER_A, OWNER_B, CUSTOMER, PROVIDER, OTHER = (
    account(s) for s in ("owner-a", "owner-b", "customer", "provider", "other")
)
OPEN_POLICY = {"allowed_engine_hashes": [ENGINE_HASH], "allowed_customers": "any"}


class Clock:
    def __init__(self, now: int = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return float(self.now)


@dataclass
class World:
    broker: KeyBroker
    chain: InMemoryChainView
    allow_list: InMemoryMeasurementAllowList
    clock: Clock
    ca_identity: x25519.Identity
    enclave_identity: x25519.Identity
    enclave: VerifiedEnclave
    order: OrderView
    db_url: str

    def deposit(
        self,
        resource_id: int,
        policy: dict | None = None,
        *,
        owner=None,
        key: bytes | None = None,
        issued_at: int | None = None,
    ):
        owner = owner or (OWNER_B if resource_id == MODEL else OWNER_A)
        request = build_deposit_request(
            owner,
            self.broker.ca_recipient,
            CA_ID,
            resource_id,
            key or KEYS[resource_id],
            policy or OPEN_POLICY,
            issued_at=self.clock.now if issued_at is None else issued_at,
        )
        return self.broker.deposit(request)

    def deposit_all(self, policy: dict | None = None) -> None:
        for resource in (ENGINE, MODEL, DATASET):
            self.deposit(resource, policy)

    def inputs_deposit(self, key: bytes = b"inputs-key-32-bytes-............!") -> dict:
        """The customer's signed deposit of the order's own inputs key."""
        ciphertext = pyrage.encrypt(key, [x25519.Recipient.from_str(self.broker.ca_recipient)])
        message = order_inputs_message(
            ca_id=CA_ID,
            order_id=ORDER_ID,
            issued_at=self.clock.now,
            ciphertext_sha256=hashlib.sha256(ciphertext).hexdigest(),
        )
        return {
            "ca_id": CA_ID,
            "order_id": ORDER_ID,
            "customer": CUSTOMER.address,
            "ciphertext": base64.b64encode(ciphertext).decode(),
            "issued_at": self.clock.now,
            "signature": sign_text(CUSTOMER, message),
        }

    def set_order(self, **changes) -> None:
        self.order = replace(self.order, **changes)
        self.chain.set_order(self.order)

    def reopen(self) -> KeyBroker:
        """A new broker object on the same database file (a restart)."""
        return KeyBroker(
            self.db_url, self.ca_identity, CA_ID, self.chain, self.allow_list, clock=self.clock
        )
