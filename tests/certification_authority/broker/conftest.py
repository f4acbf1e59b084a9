"""Fixtures for the key-broker tests: a fresh ``World`` (broker, chain, enclave) per test."""

from __future__ import annotations

import pytest
from broker_support import (
    CA_ID,
    CUSTOMER,
    DATASET,
    DATASET_HASH,
    ENGINE,
    ENGINE_HASH,
    INPUTS_HASH,
    MEASUREMENT,
    MODEL,
    MODEL_HASH,
    NOW,
    ORDER_ID,
    OWNER_A,
    OWNER_B,
    PROVIDER,
    UNLISTED,
    Clock,
    World,
    account,
)
from pyrage import x25519

from certification_authority.broker import (
    InMemoryChainView,
    KeyBroker,
    OrderStatus,
    OrderView,
    VerifiedEnclave,
)
from enclava.attestation.verifiers import InMemoryMeasurementAllowList
from enclava.protocol.tee import TeeType


@pytest.fixture(scope="session")
def ca_identity() -> x25519.Identity:
    return x25519.Identity.generate()


@pytest.fixture
def world(tmp_path, ca_identity) -> World:
    chain = InMemoryChainView()
    for resource, owner in (
        (ENGINE, OWNER_A),
        (MODEL, OWNER_B),
        (DATASET, OWNER_A),
        (UNLISTED, OWNER_B),
    ):
        chain.set_resource_owner(resource, owner.address)
    order = OrderView(
        order_id=ORDER_ID,
        status=OrderStatus.ACCEPTED,
        customer=CUSTOMER.address,
        provider=PROVIDER.address,
        engine_id=ENGINE,
        engine_hash=ENGINE_HASH,
        deadline=NOW + 3600,
        resource_ids=(MODEL, DATASET),
        tee_type=TeeType.TDX,
        resource_hashes=(MODEL_HASH, DATASET_HASH),
        inputs_hash=INPUTS_HASH,
    )
    chain.set_order(order)
    allow_list = InMemoryMeasurementAllowList([(TeeType.TDX, bytes.fromhex(MEASUREMENT))])
    enclave_identity = x25519.Identity.generate()
    enclave = VerifiedEnclave(
        certificate_serial=0x1234ABCD,
        tee_type=TeeType.TDX,
        measurement=MEASUREMENT,
        enclave_address=account("enclave").address,
        provider_address=PROVIDER.address,
        age_recipient=str(enclave_identity.to_public()),
        not_after=NOW + 600,
        simulated=False,
    )
    clock = Clock()
    db_url = f"sqlite:///{tmp_path / 'ca.sqlite3'}"
    broker = KeyBroker(db_url, ca_identity, CA_ID, chain, allow_list, clock=clock)
    return World(
        broker, chain, allow_list, clock, ca_identity, enclave_identity, enclave, order, db_url
    )
