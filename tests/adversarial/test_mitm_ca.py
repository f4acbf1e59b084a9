"""A provider that puts a man in the middle of its own loader's link to the CA gets no key.

Before: the loader spoke plain HTTP to the CA and took every key in the unsigned answer, so a MITM
could add the provider's own engine key (wrapped to the enclave's public age recipient) and have
the customer's decrypted input run through the provider's engine. Now the loader attests the CA
over TLS and pins the key the CA's evidence binds: a relay that terminates TLS with its own
certificate is refused before the enclave is even certified, and no key ever leaves the broker.
(A proxy rewriting the signed answer itself is refused by ``verify_release_answer``:
tests/adversarial/test_ca_channel.py.)
"""

from __future__ import annotations

import time

import pytest

from demo.parties import order_as_customer, parties, publish_engine_folder
from enclava.devnet import dev_account
from enclava.protocol.order import OrderStatus
from tests.adversarial.mitm import tls_relay
from tests.e2e.provider_process import running_provider

pytestmark = pytest.mark.devnet


@pytest.fixture(scope="module")
def p(devnet_manifest):
    return parties(devnet_manifest)


def test_loader_refuses_a_ca_link_through_a_tls_relay_and_no_key_is_released(
    devnet_manifest, p, tmp_path_factory
):
    folder = tmp_path_factory.mktemp("provider-mitm")
    with tls_relay(devnet_manifest.services["ca"].url, folder) as relay:
        # an account of its own: the order it cannot run keeps one of its TEE offer's slots until
        # its deadline
        wallet = dev_account(12).key.hex()
        config = f'ca_url = "{relay}"\nprivate_key = "0x{wallet.removeprefix("0x")}"\n'
        with running_provider(devnet_manifest, "mitm", folder, extra_config=config) as proc:
            engine = publish_engine_folder(p, "model_owner", "digits_classifier")
            placed = order_as_customer(p, proc.tee_offer_id(), engine.resource_id)
            logs = folder / "state" / "loader"
            deadline = time.monotonic() + 120
            refused = False
            while time.monotonic() < deadline and not refused:
                time.sleep(1)
                refused = any(
                    "ca_identity_mismatch" in log.read_text() for log in logs.glob("loader-*.log")
                )
            assert refused, (
                "the loader never saw the relay's TLS key differ from the CA's attested one"
            )
            assert (
                p.market.status(placed.order_id) == OrderStatus.ACCEPTED
            )  # not completed, not run
    audit = p.broker.audit(dev_account("model_owner"), engine.resource_id)
    assert [e for e in audit["entries"] if e["order_id"] == placed.order_id] == [], (
        "a key was asked for"
    )
    assert p.market.status(placed.order_id) == OrderStatus.ACCEPTED
    assert proc.scratch_entries() == []
