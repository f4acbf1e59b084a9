"""Fixtures for the contract tests: the deployed set, the parties, and a market with one bonded
provider, one TEE offer, listed resources and a certified enclave.

Each module deploys once (module scope) and every test runs in its own snapshot (``fn_isolation``),
so tests stay independent and the suite stays fast on anvil.
"""

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))

from support import (  # noqa: E402
    CERT_LIFETIME,
    DATASET,
    DATASET_PRICE,
    ENGINE,
    ENGINE_PRICE,
    GPU,
    GRACE,
    MEASUREMENT,
    MIN_STAKE,
    MODEL,
    MODEL_PRICE,
    PRICE_PER_SECOND,
    SIMULATED,
    SLASH_BPS,
    UNBONDING_DELAY,
    Order,
    as_tuple,
    gpu_label,
    new_key,
    sha256,
    sign,
    terms_from_event,
    wallet,
)


@pytest.fixture(scope="module", autouse=True)
def _module_isolation(module_isolation):
    pass


@pytest.fixture(autouse=True)
def _isolation(fn_isolation):
    pass


@pytest.fixture(scope="module")
def gov(accounts):
    return accounts[0]


@pytest.fixture(scope="module")
def provider(accounts):
    return accounts[1]


@pytest.fixture(scope="module")
def model_owner(accounts):
    return accounts[2]


@pytest.fixture(scope="module")
def data_owner(accounts):
    return accounts[3]


@pytest.fixture(scope="module")
def customer(accounts):
    return accounts[4]


@pytest.fixture(scope="module")
def relayer(accounts):
    return accounts[5]


@pytest.fixture(scope="module")
def stranger(accounts):
    return accounts[6]


@pytest.fixture(scope="module")
def other_provider(accounts):
    return accounts[7]


@pytest.fixture(scope="module")
def ca_key():
    return new_key("ca")


@pytest.fixture(scope="module")
def enclave_key():
    return new_key("enclave")


@pytest.fixture(scope="module")
def deployed(gov):
    """The four contracts, deployed as scripts/deploy.py deploys them (registry bound to the
    marketplace)."""
    from scripts.deploy import deploy_contracts

    return deploy_contracts(
        gov,
        min_stake=MIN_STAKE,
        unbonding_delay=UNBONDING_DELAY,
        slash_bps=SLASH_BPS,
        allow_simulated=True,
        report_grace=GRACE,
    )


@pytest.fixture(scope="module")
def providers(deployed):
    return deployed[0]


@pytest.fixture(scope="module")
def resources(deployed):
    return deployed[1]


@pytest.fixture(scope="module")
def attestation(deployed):
    return deployed[2]


@pytest.fixture(scope="module")
def marketplace(deployed):
    return deployed[3]


class Market:
    """The deployed set plus the calls most tests make, each in one line."""

    def __init__(self, chain, providers, resources, attestation, marketplace, gov, ca_key):
        self.chain = chain
        self.providers = providers
        self.resources = resources
        self.attestation = attestation
        self.marketplace = marketplace
        self.gov = gov
        self.ca_key = ca_key

    # --- parties
    def register(self, provider, stake=MIN_STAKE):
        return self.providers.register({"from": provider, "value": stake})

    def publish(self, provider, tee=SIMULATED, price=PRICE_PER_SECOND, slots=2, gpu=GPU):
        tx = self.providers.publishTeeOffer(tee, gpu_label(gpu), price, slots, {"from": provider})
        return tx.return_value

    def list(self, owner, kind, content=b"weights", price=ENGINE_PRICE):
        listing = (kind, f"bafy-{content.hex()}", sha256(content), price, "bafy-meta")
        return self.resources.listResource(listing, {"from": owner}).return_value

    def certificate(
        self,
        enclave_key,
        provider,
        tee=SIMULATED,
        measurement=MEASUREMENT,
        expires_at=None,
        nonce=None,
        gpu=GPU,
        gpu_count=1,
    ):
        """A certificate message for `enclave_key` on `provider`'s machine, for a fresh CA nonce;
        by default certified with one GPU of the standard TEE offer's class (`gpu=b""`,
        `gpu_count=0`: without a GPU)."""
        return {
            "enclave": enclave_key.address,
            "teeType": tee,
            "measurement": measurement,
            "provider": provider.address,
            "expiresAt": expires_at or self.chain.time() + CERT_LIFETIME,
            "nonce": nonce or os.urandom(32),
            "gpuClass": gpu_label(gpu),
            "gpuCount": gpu_count,
        }

    def consent(self, cert, signer):
        """`signer`'s EIP-712 consent to the certificate's enclave, provider and nonce."""
        message = {"enclave": cert["enclave"], "provider": cert["provider"], "nonce": cert["nonce"]}
        return sign(wallet(signer), "EnclaveConsent", self.attestation, message)

    def certify(
        self,
        enclave_key,
        provider,
        tee=SIMULATED,
        measurement=MEASUREMENT,
        expires_at=None,
        ca=None,
        consent=None,
        sender=None,
        gpu=GPU,
        gpu_count=1,
    ):
        """Registers `enclave_key` for `provider`: signed by the CA, consented by the provider (or
        with the `consent` signature given); with one GPU of the standard class by default."""
        cert = self.certificate(
            enclave_key, provider, tee, measurement, expires_at, gpu=gpu, gpu_count=gpu_count
        )
        consent = self.consent(cert, provider) if consent is None else consent
        return self.submit_certificate(cert, consent, ca=ca, sender=sender)

    def submit_certificate(self, cert, consent, ca=None, sender=None):
        """`registerEnclave` of `cert`, signed by the CA (or `ca`), with the `consent` signature."""
        signature = sign(ca or self.ca_key, "EnclaveCertificate", self.attestation, cert)
        return self.attestation.registerEnclave(
            as_tuple(cert, "EnclaveCertificate"), signature, consent, {"from": sender or self.gov}
        )

    # --- orders
    def create(
        self,
        customer,
        engine,
        resources,
        tee_offer,
        inputs=None,
        duration=600,
        value=None,
        key=b"\x02" * 33,
    ):
        inputs = [(f"bafy-in-{i}", sha256(data)) for i, data in enumerate(inputs or [b"question"])]
        if value is None:
            value = self.quote(engine, resources, tee_offer, duration)
        tx = self.marketplace.createOrder(
            engine, resources, tee_offer, inputs, key, duration, {"from": customer, "value": value}
        )
        event = tx.events["OrderCreated"]
        return Order(id=bytes(event["orderId"]), terms=terms_from_event(event), tx=tx)

    def quote(self, engine, resources, tee_offer, duration):
        price = self.providers.getTeeOffer(tee_offer)["pricePerSecond"] * duration
        return price + sum(self.resources.resourceTerms(r)[3] for r in [engine, *resources])

    def accept(self, order, provider):
        return self.marketplace.acceptOrder(order.id, {"from": provider})

    def accepted_at(self, order):
        return self.marketplace.orderState(order.id)["acceptedAt"]

    def block_time(self):
        """The latest block's timestamp: a report may finish no later than the block settling it."""
        return self.chain[-1].timestamp

    def elapse(self, seconds):
        """Lets `seconds` pass on chain (a block is mined at the new time)."""
        self.chain.sleep(seconds)
        self.chain.mine()

    def report(self, order, enclave_key, signer=None, **overrides):
        """A report of `order` by `enclave_key` (overridable field by field) and its signature. By
        default the enclave started when the order was accepted and finished at the latest block."""
        started = self.accepted_at(order)
        finished = self.block_time()
        report = {
            "orderId": order.id,
            "engineHash": order.engine_hash,
            "inputsHash": order.inputs_hash,
            "outputHash": sha256(b"result"),
            "outputCid": "bafy-result",
            "teeType": order.terms[4],
            "measurement": MEASUREMENT,
            "enclave": enclave_key.address,
            "startedAt": started or finished,
            "finishedAt": finished,
        }
        report.update(overrides)
        signature = sign(signer or enclave_key, "IntegrityReport", self.marketplace, report)
        return tuple(report.values()), signature

    def complete(self, order, enclave_key, sender, **overrides):
        report, signature = self.report(order, enclave_key, **overrides)
        return self.marketplace.completeOrder(order.terms, report, signature, {"from": sender})

    def failure(self, order, enclave_key, reason=7, signer=None, detail="", **overrides):
        failure = {
            "orderId": order.id,
            "enclave": enclave_key.address,
            "reasonCode": reason,
            "detailCid": detail,
        }
        failure.update(overrides)
        signature = sign(signer or enclave_key, "OrderFailure", self.marketplace, failure)
        return tuple(failure.values()), signature


@pytest.fixture(scope="module")
def market(chain, providers, resources, attestation, marketplace, gov, ca_key):
    return Market(chain, providers, resources, attestation, marketplace, gov, ca_key)


@pytest.fixture(scope="module")
def trusted(market, gov, ca_key):
    """Governance trusts the test CA and the test measurement (SIMULATED)."""
    market.attestation.addCaSigner(ca_key.address, {"from": gov})
    market.attestation.allowMeasurement(SIMULATED, MEASUREMENT, {"from": gov})
    return market


@pytest.fixture(scope="module")
def listed(trusted, provider, model_owner, data_owner, enclave_key):
    """A bonded provider with one SIMULATED TEE offer of the GPU class `GPU` (2 slots), an engine,
    a model and a dataset, and an enclave of the provider certified with one such GPU."""
    m = trusted
    m.register(provider)
    m.tee_offer = m.publish(provider)
    m.engine = m.list(model_owner, ENGINE, b"engine", ENGINE_PRICE)
    m.model = m.list(model_owner, MODEL, b"model", MODEL_PRICE)
    m.dataset = m.list(data_owner, DATASET, b"dataset", DATASET_PRICE)
    m.certify(enclave_key, provider)
    return m


@pytest.fixture
def order(listed, customer):
    """An open order: engine + model + dataset, two customer inputs, 600 s."""
    return listed.create(
        customer, listed.engine, [listed.model, listed.dataset], listed.tee_offer, [b"a", b"b"]
    )


@pytest.fixture
def accepted(listed, order, provider):
    listed.accept(order, provider)
    return order
