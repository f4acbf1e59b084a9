"""A customer's side of an order: encrypt and upload inputs, place the order, deposit the inputs'
key for the order's enclave, wait, and fetch the result — checked against the signed report
before it is decrypted — or, for a failed order, the failure detail only the customer can open."""

from __future__ import annotations

import hashlib
import io
import tarfile
import time
from dataclasses import dataclass, field
from typing import Callable

from eth_account.signers.local import LocalAccount
from pyrage import x25519

from enclava.chain.market import MarketClient
from enclava.client.broker_http import BrokerHttpClient
from enclava.client.errors import OrderFailedError, OrderWaitTimeout
from enclava.crypto.envelope import new_resource_key, open_sealed, seal
from enclava.errors import IntegrityError
from enclava.protocol.failure_detail import MAX_DETAIL_BYTES, FailureDetail, parse_detail
from enclava.protocol.order import IntegrityReport, Order, OrderInput, OrderStatus
from enclava.storage.content_store import IpfsContentStore

__all__ = [
    "PlacedOrder",
    "place_order",
    "wait_for_order",
    "completed_report",
    "fetch_result",
    "failure_detail",
    "TERMINAL",
]

TERMINAL = tuple(status for status in OrderStatus if status.terminal)


@dataclass(frozen=True)
class PlacedOrder:
    order_id: str
    escrow: int
    input_cids: tuple[str, ...]
    tx_hash: str
    gas_used: int
    timings: dict[str, float] = field(default_factory=dict, compare=False)


def place_order(
    market: MarketClient,
    store: IpfsContentStore,
    broker: BrokerHttpClient,
    customer: LocalAccount,
    *,
    engine_id: int,
    resource_ids: list[int],
    tee_offer_id: int,
    inputs: list[bytes],
    recipient: str,
    max_duration: int,
    progress: Callable[[int, int], None] | None = None,
) -> PlacedOrder:
    """Encrypt ``inputs`` under one fresh key, upload, create the order, deposit the key for it.

    ``progress(done, total)`` (ciphertext bytes uploaded so far, of all inputs together) is called
    once with ``done == 0`` after encryption and then for every chunk the store sends.
    """
    timings: dict[str, float] = {}
    start = time.perf_counter()
    input_key = new_resource_key()
    sealed = [seal(data, input_key) for data in inputs]
    counter = (
        _UploadCounter(progress, sum(len(c) for c in sealed)) if progress is not None else None
    )
    uploaded = []
    for ciphertext in sealed:
        stored = store.add(ciphertext, progress=counter)
        uploaded.append(OrderInput(stored.cid, hashlib.sha256(ciphertext).digest()))
    timings["upload"] = time.perf_counter() - start
    start = time.perf_counter()
    escrow = market.quote(engine_id, resource_ids, tee_offer_id, max_duration)
    order_id, tx = market.create_order(
        customer,
        engine_id=engine_id,
        resource_ids=resource_ids,
        tee_offer_id=tee_offer_id,
        inputs=uploaded,
        recipient_key=recipient.encode(),
        max_duration=max_duration,
        value=escrow,
    )
    timings["order_tx"] = time.perf_counter() - start
    if uploaded:
        start = time.perf_counter()
        broker.deposit_order_inputs(customer, order_id, input_key)
        timings["input_key_deposit"] = time.perf_counter() - start
    return PlacedOrder(
        order_id=order_id,
        escrow=escrow,
        input_cids=tuple(u.cid for u in uploaded),
        tx_hash=tx.tx_hash,
        gas_used=tx.gas_used,
        timings=timings,
    )


class _UploadCounter:
    """Turns the store's per-chunk ``progress(nbytes)`` into ``progress(done, total)`` over all
    inputs."""

    def __init__(self, progress: Callable[[int, int], None], total: int) -> None:
        self._progress, self.total, self.done = progress, total, 0
        progress(0, total)

    def __call__(self, nbytes: int) -> None:
        self.done += nbytes
        self._progress(self.done, self.total)


def wait_for_order(
    market: MarketClient,
    order_id: str,
    *,
    timeout: float = 300.0,
    poll: float = 0.5,
    on_status: Callable[[OrderStatus], None] | None = None,
) -> Order:
    """Poll until the order reaches a terminal state; ``on_status(status)`` sees every change."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        status = market.status(order_id)
        if status != last and on_status is not None:
            on_status(status)
        last = status
        if status in TERMINAL:
            return market.order(order_id)
        if time.monotonic() >= deadline:
            raise OrderWaitTimeout(f"order {order_id} is still {status.name} after {timeout:.0f} s")
        time.sleep(poll)


def completed_report(market: MarketClient, order_id: str) -> tuple[IntegrityReport, bytes]:
    """The report and signature an order completed with (from its ``OrderCompleted`` event)."""
    completed = market.completion(order_id)
    if completed is None:
        raise OrderFailedError(
            f"order {order_id} has no completion report",
            hint="Check `enclava order status`; only completed orders have results.",
        )
    return completed


def fetch_result(
    market: MarketClient,
    store: IpfsContentStore,
    order_id: str,
    identity: bytes | str | x25519.Identity,
) -> dict[str, bytes]:
    """Download the result, check it is the one the report names, decrypt, and unpack it in
    memory."""
    report, _ = completed_report(market, order_id)
    ciphertext = store.get_bytes(report.output_cid, max_size=1 << 30)
    if hashlib.sha256(ciphertext).digest() != report.output_hash:
        raise IntegrityError(
            f"the result of {order_id} does not match the report's output hash",
            hint="Do not trust this file; the report names another result.",
        )
    archive = open_sealed(ciphertext, identity)
    files: dict[str, bytes] = {}
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:") as tar:
        for member in tar.getmembers():
            extracted = tar.extractfile(member) if member.isfile() else None
            if extracted is not None:
                files[member.name] = extracted.read()
    return files


#: The largest failure-detail envelope fetched: the JSON's cap plus age's overhead.
_MAX_DETAIL_ENVELOPE = MAX_DETAIL_BYTES + 4096


def failure_detail(
    market: MarketClient,
    store: IpfsContentStore,
    order_id: str,
    identity: bytes | str | x25519.Identity,
) -> FailureDetail | None:
    """The detail a failed order's enclave stored for its customer (reason, the loader's message
    and the engine's stderr tail), decrypted with ``identity`` (``wallet_identity(account)``).

    None when the order did not fail or its failure carries no detail (the enclave stores one only
    once it has checked the order's recipient key, and never lets a failed upload hold up the
    refund). A wrong wallet raises ``DecryptionFailed``; a detail that is not the documented JSON
    ``FailureDetailInvalid``.
    """
    found = market.failure(order_id)
    if found is None or not found[1]:
        return None
    envelope = store.get_bytes(found[1], max_size=_MAX_DETAIL_ENVELOPE)
    return parse_detail(open_sealed(envelope, identity))
