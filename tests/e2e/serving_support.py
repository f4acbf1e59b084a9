"""A confidential service of the shipped model on the session's devnet, for the serving tests: the
model owner publishes it and prices its tokens, a provider node runs, and `provider-node serve`
starts the service (on chain, certified, bound, serving, endpoint published)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx2
import openai
import pytest

from demo.parties import parties
from enclava.ca_link.chain_ca import connect_devnet_ca
from enclava.chain.services import ServiceClient
from enclava.client import publish_model_folder
from enclava.client.serving import OnChainServiceView, ServiceTransport, verify_service
from enclava.devnet import dev_account
from engines.chat_model import SHIPPED_MODEL
from tests.e2e.provider_process import BIN, free_port, running_provider

__all__ = ["INPUT_PRICE", "OUTPUT_PRICE", "MODEL_NAME", "running_service", "verified", "client_for"]

INPUT_PRICE, OUTPUT_PRICE = 2 * 10**9, 5 * 10**9
MODEL_NAME = "pydoc-tiny"
SERVING_POLICY = {
    "allowed_engine_hashes": "any",
    "allowed_customers": "any",
    "allow_serving": True,
    "insecure_allow_simulated_tee": True,
}


@contextmanager
def running_service(
    devnet_manifest, folder: Path, name: str = "serving"
) -> Iterator[dict[str, Any]]:
    """The service for the block's duration: a dict with ``service_id``, ``endpoint``,
    ``services`` (ServiceClient), ``model``, ``provider``, ``serve`` (the process), ``folder``."""
    p = parties(devnet_manifest)
    owner = dev_account("model_owner")
    model = publish_model_folder(
        p.market, p.store, p.broker, owner, SHIPPED_MODEL, price=1, policy=SERVING_POLICY
    )
    services = ServiceClient.from_manifest(devnet_manifest)
    services.set_token_prices(
        owner, model.resource_id, input_price=INPUT_PRICE, output_price=OUTPUT_PRICE
    )
    with running_provider(devnet_manifest, name, folder) as provider:
        port = free_port()
        log = open(folder / "serve.log", "wb")
        serve = subprocess.Popen(
            [
                str(BIN / "provider-node"),
                "serve",
                "--model",
                str(model.resource_id),
                "--offer",
                str(provider.tee_offer_id()),
                "--lifetime",
                "900",
                "--port",
                str(port),
                "--name",
                MODEL_NAME,
                "--settle-every",
                "3600",
                "--config",
                str(provider.config),
            ],
            env={**os.environ, "ENCLAVA_PROVIDER_CONFIG": str(provider.config)},
            stdout=subprocess.PIPE,
            stderr=log,
            start_new_session=True,
        )
        assert serve.stdout is not None
        line = serve.stdout.readline()
        if not line:
            serve.wait(timeout=30)
            pytest.fail(f"provider-node serve exited: {(folder / 'serve.log').read_text()[-3000:]}")
        try:
            yield {
                "manifest": devnet_manifest,
                "services": services,
                "model": model,
                "owner": owner,
                "provider": provider,
                "serve": serve,
                "folder": folder,
                **json.loads(line),
            }
        finally:
            if serve.poll() is None:
                os.killpg(serve.pid, signal.SIGKILL)
                serve.wait(timeout=30)


def verified(service: dict[str, Any]):
    """The attested CA and the service as ``verify_service`` verified it (devnet: simulated TEE)."""
    ca = connect_devnet_ca(service["manifest"])
    view = OnChainServiceView(parties(service["manifest"]).market)
    return ca, verify_service(
        service["endpoint"],
        service["service_id"],
        view,
        ca_certificate_pem=ca.identity.ca_certificate_pem,
        ca_signer=ca.identity.signer_address,
        insecure_allow_simulated_tee=True,
    )


def client_for(verified_service, customer):
    """The official openai client over Enclava's verifying transport, for ``customer``."""
    transport = ServiceTransport(verified_service, customer)
    client = openai.OpenAI(
        base_url=verified_service.endpoint + "/v1",
        api_key=transport.api_key,
        http_client=httpx2.Client(transport=transport, timeout=120),
        max_retries=0,
    )
    return client, transport
