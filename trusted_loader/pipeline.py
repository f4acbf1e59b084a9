"""One order, inside the enclave: check it, fetch and verify, obtain keys, decrypt into scratch, run
the engine in the sandbox, encrypt and upload the result, sign the integrity report, wipe.

:func:`execute_order` never raises for an order-level failure: it returns an :class:`OrderOutcome`
whose ``failure`` is signed by the enclave, so the node can publish ``failOrder`` with the reason
and the customer is refunded. Only plaintext-free facts (ids, sizes, timings, reason codes) are
logged.
"""

from __future__ import annotations

import hashlib
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from enclava.chain.market import MarketClient
from enclava.chain.orders import IntegrityReport, Order, OrderFailure, inputs_hash
from enclava.chain.types import OrderStatus, ResourceKind
from enclava.crypto.envelope import EnvelopeError, encrypt_to, open_sealed
from enclava.engine import pack_outputs, unpack_engine
from enclava.engine.errors import EngineError
from enclava.errors import ChainError, EnclavaError, StorageError
from enclava.logs import get_logger
from enclava.storage.content_store import IpfsContentStore
from trusted_loader.ca_client import CaClient
from trusted_loader.enclave import CertifiedEnclave
from trusted_loader.errors import (CaUnavailable, EngineInvalid, InputDecryptionFailed, InputHashMismatch, InputUnavailable,
                                   KeyReleaseDenied, LoaderError, OrderNotExecutable, reason_code_of)
from trusted_loader.layout import lay_out_inputs
from trusted_loader.scratch import Scratch
from trusted_loader.sandbox import run_engine

__all__ = ["LoaderContext", "OrderOutcome", "execute_order", "STAGES", "TRANSIENT_ERRORS", "order_seed"]

log = get_logger("trusted_loader.pipeline")

STAGES = ("certification", "check", "fetch_verify", "key_release", "decrypt", "workload", "encrypt_upload", "sign")
MAX_CIPHERTEXT = 1 << 30


@dataclass
class LoaderContext:
    """What the loader needs from its machine; ``enclave()`` returns a fresh certified identity."""

    market: MarketClient
    store: IpfsContentStore
    ca: CaClient
    enclave: Callable[[], CertifiedEnclave]
    provider: str
    scratch_root: Path | None = None
    clock: Callable[[], float] = time.time


@dataclass
class OrderOutcome:
    order_id: str
    report: IntegrityReport | None = None
    failure: OrderFailure | None = None
    signature: bytes = b""
    reason: str = ""
    output_cid: str = ""
    stages: dict[str, float] = field(default_factory=dict)

    @property
    def completed(self) -> bool:
        return self.report is not None


@contextmanager
def _stage(stages: dict[str, float], name: str) -> Iterator[None]:
    start = time.perf_counter()
    try:
        yield
    finally:
        stages[name] = stages.get(name, 0.0) + time.perf_counter() - start


#: Trouble with the machine's services rather than the order: retried, never published as a failure.
TRANSIENT_ERRORS = (CaUnavailable, ChainError)


def execute_order(ctx: LoaderContext, order_id: str) -> OrderOutcome:
    """Run ``order_id`` end to end; a completed outcome carries the signed report.

    Order-level failures come back signed in ``outcome.failure``; :data:`TRANSIENT_ERRORS` propagate.
    """
    outcome = OrderOutcome(order_id=order_id)
    with _stage(outcome.stages, "certification"):  # near zero while the worker's certificate is fresh
        enclave = ctx.enclave()
    started = ctx.market.chain_time()  # report times are judged against block time, not this machine's
    try:
        with Scratch(ctx.scratch_root) as scratch:
            with _stage(outcome.stages, "check"):
                order = guard_order_executable(ctx, order_id)
            _run(ctx, enclave, order, scratch, outcome, started)
    except TRANSIENT_ERRORS:
        raise  # the caller retries with back-off; nothing was published
    except (LoaderError, EngineError) as error:
        _fail(ctx, enclave, outcome, error)
    except EnclavaError as error:  # anything else typed: report it as internal, keep the order refundable
        log.error("order failed on an unexpected error", extra={"order_id": order_id, "type": error.code})
        _fail(ctx, enclave, outcome, error)
    return outcome


def guard_order_executable(ctx: LoaderContext, order_id: str) -> Order:
    order = ctx.market.order(order_id)
    if order.status != OrderStatus.ACCEPTED:
        raise OrderNotExecutable(f"order {order_id} is {order.status.name}, not ACCEPTED")
    if order.terms.provider.lower() != ctx.provider.lower():
        raise OrderNotExecutable(f"order {order_id} belongs to provider {order.terms.provider}")
    if order.deadline and ctx.clock() >= order.deadline:
        raise OrderNotExecutable(f"order {order_id} is past its deadline")
    return order


def _fetch(ctx: LoaderContext, cid: str, expected: bytes, what: str) -> bytes:
    try:
        data = ctx.store.get_bytes(cid, max_size=MAX_CIPHERTEXT)
    except StorageError as exc:
        raise InputUnavailable(f"{what}: cannot fetch {cid} from IPFS ({exc.code})") from exc
    if hashlib.sha256(data).digest() != bytes(expected):
        raise InputHashMismatch(f"{what}: the SHA-256 of {cid} differs from the value on chain")
    return data


def _fetch_all(ctx: LoaderContext, order: Order) -> tuple[bytes, list[tuple[int, ResourceKind, bytes]], list[bytes]]:
    """Engine, resources and customer inputs, each checked against the hash the order fixed."""
    if inputs_hash(list(order.resource_hashes), [i.content_hash for i in order.inputs]) != order.terms.inputs_hash:
        raise InputHashMismatch("the order's inputs hash does not match its resources and inputs")
    engine_id = order.terms.engine_resource_id
    engine = _fetch(ctx, ctx.market.resource(engine_id)["cid"], order.terms.engine_hash, "engine")
    resources = []
    for resource_id, expected in zip(order.terms.resource_ids, order.resource_hashes):
        record = ctx.market.resource(resource_id)
        resources.append((resource_id, record["kind"], _fetch(ctx, record["cid"], expected, f"resource {resource_id}")))
    inputs = [_fetch(ctx, item.cid, item.content_hash, f"input {n}") for n, item in enumerate(order.inputs)]
    return engine, resources, inputs


def _keys(ctx: LoaderContext, enclave: CertifiedEnclave, order: Order) -> tuple[dict[int, bytes], bytes | None]:
    wrapped = ctx.ca.release_keys(certificate_pem=enclave.certificate_pem, enclave_account=enclave.account,
                                  order_id=order.order_id)
    resource_keys: dict[int, bytes] = {}
    input_key: bytes | None = None
    for item in wrapped:
        try:
            key = open_sealed(_b64(item["ciphertext"]), enclave.age_identity)
        except EnvelopeError as exc:
            raise KeyReleaseDenied("a released key is not wrapped to this enclave") from exc
        if item.get("kind", "resource") == "order_inputs":
            input_key = key
        else:
            resource_keys[int(item["offer_id"])] = key
    needed = [order.terms.engine_resource_id, *order.terms.resource_ids]
    missing = [rid for rid in needed if rid not in resource_keys]
    if missing:
        raise KeyReleaseDenied(f"the broker released no key for resources {missing}")
    if order.inputs and input_key is None:
        raise KeyReleaseDenied("the broker released no key for the customer's inputs")
    return resource_keys, input_key


def _open(ciphertext: bytes, key: bytes, what: str) -> bytes:
    try:
        return open_sealed(ciphertext, key)
    except EnvelopeError as exc:
        raise InputDecryptionFailed(f"{what}: the released key does not open the ciphertext") from exc


def _run(ctx: LoaderContext, enclave: CertifiedEnclave, order: Order, scratch: Scratch, outcome: OrderOutcome,
         started: int) -> None:
    stages = outcome.stages
    with _stage(stages, "fetch_verify"):
        engine_ct, resources, inputs = _fetch_all(ctx, order)
    with _stage(stages, "key_release"):
        resource_keys, input_key = _keys(ctx, enclave, order)
    with _stage(stages, "decrypt"):
        engine_dir = scratch.sub("engine", mode=0o755)
        try:
            manifest = unpack_engine(_open(engine_ct, resource_keys[order.terms.engine_resource_id], "engine"),
                                     engine_dir)
        except EngineError as exc:
            raise EngineInvalid(f"the engine archive is unusable: {exc.code}") from exc
        plain_resources = [(kind, _open(ct, resource_keys[rid], f"resource {rid}")) for rid, kind, ct in resources]
        plain_inputs = [_open(ct, input_key, f"input {n}") for n, ct in enumerate(inputs)] if inputs else []
        input_dir = lay_out_inputs(manifest, plain_resources, plain_inputs, scratch.sub("inputs"))
        del plain_resources, plain_inputs
    with _stage(stages, "workload"):
        output_dir = scratch.sub("outputs")
        run_engine(engine_dir, manifest, input_dir, output_dir, seed=order_seed(order.order_id), order_id=order.order_id)
    with _stage(stages, "encrypt_upload"):
        sealed = encrypt_to(pack_outputs(output_dir), order.recipient_key)
        try:
            stored = ctx.store.add(sealed)
        except StorageError as exc:
            raise InputUnavailable(f"cannot upload the result ({exc.code})") from exc
    with _stage(stages, "sign"):
        report = IntegrityReport(
            order_id=bytes.fromhex(order.order_id[2:]), engine_hash=order.terms.engine_hash,
            inputs_hash=order.terms.inputs_hash, output_hash=hashlib.sha256(sealed).digest(), output_cid=stored.cid,
            tee_type=enclave.tee_type, measurement=enclave.measurement, enclave=enclave.address,
            started_at=started, finished_at=max(started, ctx.market.chain_time()))
        outcome.report, outcome.output_cid = report, stored.cid
        outcome.signature = ctx.market.sign_report(enclave.account, report)
    log.info("order executed", extra={"order_id": order.order_id, "output_cid": stored.cid,
                                      "output_bytes": len(sealed), "stages": {k: round(v, 4) for k, v in stages.items()}})


def _fail(ctx: LoaderContext, enclave: CertifiedEnclave, outcome: OrderOutcome, error: BaseException) -> None:
    code = reason_code_of(error)
    outcome.reason = getattr(error, "reason", None) or getattr(error, "code", "internal_error")
    outcome.failure = OrderFailure(order_id=bytes.fromhex(outcome.order_id.removeprefix("0x")),
                                   enclave=enclave.address, reason_code=code)
    outcome.signature = ctx.market.sign_failure(enclave.account, outcome.failure)
    log.warning("order failed", extra={"order_id": outcome.order_id, "reason": outcome.reason, "reason_code": code})


def order_seed(order_id: str) -> int:
    """The engine's ``ENCLAVA_SEED``: the first 4 bytes of SHA-256(order id), so anyone can rerun it."""
    return int.from_bytes(hashlib.sha256(bytes.fromhex(order_id.removeprefix("0x"))).digest()[:4], "big")


def _b64(value: Any) -> bytes:
    import base64

    return base64.b64decode(value) if isinstance(value, str) else bytes(value)
