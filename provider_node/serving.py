"""A provider's confidential service (docs/SERVING.md): start it on chain, certify and bind the
enclave, serve, publish the endpoint; later settle the customers' latest vouchers.

The host does only what the enclave and the chain let it: it names the service's terms (the chain
checks them against the registries), binds its own certified enclave (the chain checks the
registry), and passes on vouchers the customers signed (the chain checks signature, amount and
balance). It never sees a prompt, a completion or the model's key.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from enclava.chain.services import ServiceClient
from enclava.logs import get_logger
from enclava.protocol.service_terms import ServiceTerms
from enclava.protocol.serving import SignedVoucher
from provider_node.runtime import Runtime

__all__ = [
    "StartedService",
    "Settlement",
    "service_client",
    "start_service",
    "settle_service",
    "serve_until",
]

log = get_logger("provider_node.serving")


@dataclass(frozen=True)
class StartedService:
    service_id: str
    terms: ServiceTerms
    endpoint: str
    statement: dict[str, Any]


@dataclass(frozen=True)
class Settlement:
    """One voucher settled on chain: whose, for how much in all, and the transaction."""

    customer: str
    amount: int
    tx_hash: str


def service_client(rt: Runtime) -> ServiceClient:
    market = rt.market
    return ServiceClient(market.chain, market.contracts, from_block=market.from_block)


def start_service(
    rt: Runtime,
    *,
    model_id: int,
    tee_offer_id: int,
    lifetime_s: int,
    host: str,
    port: int,
    model_name: str,
    credit_responses: int = 1,
) -> StartedService:
    """Start a service of ``model_id`` on ``tee_offer_id`` for ``lifetime_s`` seconds, served by
    this node's enclave at ``https://host:port``."""
    services = service_client(rt)
    ends_at = services.chain_time() + int(lifetime_s)
    terms = services.terms_for(
        rt.account.address, tee_offer_id=tee_offer_id, model_id=model_id, ends_at=ends_at
    )
    service_id = services.start_service(rt.account, terms)
    terms = services.terms(service_id)
    enclave = rt.loader.ensure_certified()["enclave"]
    services.bind_enclave(rt.account, terms, enclave)
    statement = rt.loader.start_service(
        service_id,
        {
            "hosts": [host],
            "port": int(port),
            "model_name": model_name,
            "credit_responses": int(credit_responses),
        },
    )
    endpoint = f"https://{host}:{port}"
    services.set_endpoint(rt.account, terms, endpoint)
    log.info(
        "service started",
        extra={"service_id": service_id, "enclave": enclave, "endpoint": endpoint},
    )
    return StartedService(service_id, terms, endpoint, statement)


def settle_service(rt: Runtime, service_id: str) -> list[Settlement]:
    """Settle every customer's latest voucher that is newer than what the chain has settled: one
    transaction per customer, whatever the number of requests behind it."""
    services = service_client(rt)
    terms = services.terms(service_id)
    done = []
    for entry in rt.loader.service_vouchers(service_id):
        signed = SignedVoucher.from_json(entry)
        voucher = signed.voucher
        if services.account(service_id, voucher.customer).settled_amount >= voucher.amount:
            continue
        tx = services.settle(rt.account, terms, voucher, signed.signature)
        done.append(Settlement(voucher.customer, voucher.amount, tx.tx_hash))
        log.info(
            "voucher settled",
            extra={
                "service_id": service_id,
                "customer": voucher.customer,
                "amount": voucher.amount,
            },
        )
    return done


def serve_until(
    rt: Runtime, started: StartedService, *, settle_every_s: float, until: float
) -> list[Settlement]:
    """Keep the service running until ``until`` (unix time), settling every ``settle_every_s``
    seconds and once more at the end; then stop it in the enclave."""
    settled: list[Settlement] = []
    try:
        while time.time() < until:
            time.sleep(max(0.1, min(settle_every_s, until - time.time())))
            settled += settle_service(rt, started.service_id)
    finally:
        settled += settle_service(rt, started.service_id)
        rt.loader.stop_service(started.service_id)
    return settled
