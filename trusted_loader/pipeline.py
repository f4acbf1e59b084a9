"""One order, inside the enclave: check it, fetch and verify, obtain keys, decrypt into scratch, run
the engine in the sandbox, encrypt and upload the result, sign the integrity report, wipe.

:func:`execute_order` never raises for an order-level failure: it returns a :class:`SignedOutcome`
whose ``failure`` is signed by the enclave, so the node can publish ``failOrder`` with the reason
and the customer is refunded. Only plaintext-free facts (ids, sizes, timings, reason codes) are
logged.
"""

from __future__ import annotations

import hashlib
import math
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from enclava.chain.market import MarketClient
from enclava.chain.types import ResourceKind
from enclava.crypto.envelope import encrypt_to, open_sealed
from enclava.crypto.errors import EnvelopeError
from enclava.errors import ChainError, EnclavaError, StorageError, TransientError
from enclava.logs import get_logger
from enclava.protocol.engine import order_seed, pack_outputs, unpack_engine
from enclava.protocol.engine.errors import EngineError, EngineTimeout
from enclava.protocol.engine.reasons import describe_reason
from enclava.protocol.failure_detail import FailureDetail, detail_json
from enclava.protocol.loader_api import LOADER_STAGES, SignedOutcome
from enclava.protocol.order import IntegrityReport, Order, OrderFailure
from enclava.protocol.tee import offer_requires_gpu
from enclava.storage.content_store import IpfsContentStore
from trusted_loader.ca_session import CaSession, ReleasedKey
from trusted_loader.checks import (
    check_order,
    guard_enclave_has_offer_gpu,
    guard_release_matches_order,
    guard_terms_commit_to_id,
)
from trusted_loader.enclave import EnclaveCredential
from trusted_loader.errors import (
    EngineInvalid,
    InputDecryptionFailed,
    InputHashMismatch,
    InputUnavailable,
    KeyReleaseInvalid,
    LoaderError,
    reason_code_of,
)
from trusted_loader.layout import lay_out_inputs
from trusted_loader.sandbox import (
    DeviceNode,
    discover_gpu_devices,
    gpu_devices_for,
    run_engine,
)
from trusted_loader.scratch import Scratch

__all__ = [
    "LoaderContext",
    "execute_order",
    "sign_timeout",
    "fetch_checked",
    "open_released",
    "open_resource",
]

log = get_logger("trusted_loader.pipeline")

MAX_CIPHERTEXT = 1 << 30
#: Seconds of an order's run window kept back for encrypting, uploading and signing after the
#: engine.
RESULT_RESERVE_S = 2.0


@dataclass
class LoaderContext:
    """What the loader needs from its machine; ``enclave()`` returns the current certified
    identity."""

    market: MarketClient
    store: IpfsContentStore
    ca: CaSession
    enclave: Callable[[], EnclaveCredential]
    provider: str
    scratch_root: Path | None = None
    clock: Callable[[], float] = time.time
    monotonic: Callable[[], float] = time.monotonic


@contextmanager
def _stage(stages: dict[str, float], name: str) -> Iterator[None]:
    """Add the time the body takes to ``stages[name]``, one of the wire's :data:`LOADER_STAGES`."""
    if name not in LOADER_STAGES:
        raise ValueError(f"{name!r} is not one of the loader's stages")
    start = time.perf_counter()
    try:
        yield
    finally:
        stages[name] = stages.get(name, 0.0) + time.perf_counter() - start


@dataclass
class _Clock:
    """When the order started, on the chain's clock and on this process's monotonic clock.

    The report's ``startedAt`` is the chain time the loader saw at the start (never before the
    order's acceptance); ``finishedAt`` adds the seconds the loader measured itself, rounded up
    (per-second billing: a 7.4 s run bills 8 s, a 0.3 s run 1 s, never 0), so the billed time is the
    enclave's own run time. The node waits for a block at or after ``finishedAt`` before it
    publishes, and the contract caps the billed time at the order's max duration.
    """

    chain_start: int
    mono_start: float
    monotonic: Callable[[], float]

    def started_at(self, order: Order) -> int:
        return max(self.chain_start, int(order.accepted_at))

    def elapsed(self) -> float:
        return self.monotonic() - self.mono_start

    def finished_at(self, order: Order) -> int:
        return self.started_at(order) + math.ceil(self.elapsed())


def execute_order(ctx: LoaderContext, order_id: str) -> SignedOutcome:
    """Run ``order_id`` end to end; a completed outcome carries the signed report.

    Order-level failures come back signed in ``outcome.failure``; a :class:`TransientError` (chain,
    CA or certification trouble) propagates.
    """
    outcome = SignedOutcome(order_id=order_id)
    with _stage(outcome.stages, "certification"):
        enclave = ctx.enclave()
    clock = _Clock(
        chain_start=ctx.market.chain_time(), mono_start=ctx.monotonic(), monotonic=ctx.monotonic
    )
    order: Order | None = None  # set once check_order has verified it (and its recipient key)
    try:
        with Scratch(ctx.scratch_root) as scratch:
            with _stage(outcome.stages, "check"):
                order = check_order(
                    order_id, ctx.market.order(order_id), provider=ctx.provider, now=ctx.clock()
                )
            _run(ctx, enclave, order, scratch, outcome, clock)
    except TransientError:
        raise  # the caller retries with back-off; nothing was published
    except (LoaderError, EngineError) as error:
        _fail(ctx, enclave, outcome, error, order)
    except (
        EnclavaError
    ) as error:  # anything else typed: report it as internal, keep the order refundable
        log.error(
            "order failed on an unexpected error", extra={"order_id": order_id, "type": error.code}
        )
        _fail(ctx, enclave, outcome, error, order)
    return outcome


def sign_timeout(ctx: LoaderContext, order_id: str) -> SignedOutcome:
    """A signed TIMEOUT failure, only once the loader itself sees the order's run window
    (acceptance + max duration) closed: the host cannot have it sign a timeout for an order with
    time left."""
    enclave = ctx.enclave()
    outcome = SignedOutcome(order_id=order_id)
    order = ctx.market.order(order_id)
    guard_terms_commit_to_id(
        order_id, order
    )  # the duration it judges by is the one the id commits to
    if ctx.clock() < order.accepted_at + order.terms.max_duration:
        raise EngineTimeout(
            f"order {order_id} has time left; the loader signs no timeout for it",
            hint="Run the order instead; a timeout is signed only when its window closes.",
        )
    _fail(ctx, enclave, outcome, EngineTimeout(f"order {order_id} ran out of its window"))
    return outcome


def _require_offer_gpu(ctx: LoaderContext, enclave: EnclaveCredential, order: Order) -> str:
    """Refuse before fetching anything when the order's offer promises a GPU this enclave's
    certificate lacks; return the offer's GPU label."""
    try:
        label = ctx.market.tee_offer_gpu_class(order.terms.tee_offer_id)
    except EnclavaError:
        raise
    except Exception as exc:  # noqa: BLE001 - any web3/RPC failure: retried like other chain reads
        raise ChainError(
            f"reading TEE offer {order.terms.tee_offer_id}'s GPU class failed "
            f"({type(exc).__name__})"
        ) from exc
    guard_enclave_has_offer_gpu(
        order, offer_gpu_class=label, gpu_class=enclave.gpu_class, gpu_count=enclave.gpu_count
    )
    return label


def _gpu_devices(enclave: EnclaveCredential, offer_gpu: str) -> tuple[DeviceNode, ...]:
    """The GPU nodes the engine may open: none unless the order's offer has a GPU; then every
    NVIDIA node of the CVM (which must be there). A simulated enclave (development) has simulated
    GPUs: it passes whatever nodes the host has, possibly none, and the engine runs on the CPU."""
    if not offer_requires_gpu(offer_gpu):
        return ()
    if enclave.simulated:
        return discover_gpu_devices()
    return gpu_devices_for(True)


def fetch_checked(ctx: LoaderContext, cid: str, expected: bytes, what: str) -> bytes:
    try:
        data = ctx.store.get_bytes(cid, max_size=MAX_CIPHERTEXT)
    except StorageError as exc:
        raise InputUnavailable(f"{what}: cannot fetch {cid} from IPFS ({exc.code})") from exc
    if hashlib.sha256(data).digest() != bytes(expected):
        raise InputHashMismatch(
            f"{what}: the SHA-256 of {cid} differs from the value the order commits to"
        )
    return data


def _fetch_all(
    ctx: LoaderContext, order: Order
) -> tuple[bytes, list[tuple[int, ResourceKind, bytes]], list[bytes]]:
    """Engine, resources and customer inputs, each checked against the hash the order id commits to.

    The CIDs and kinds come from the host's RPC answers and are not trusted: a wrong CID fails the
    hash check, and a wrong kind only misplaces bytes the owner's own key must still open.
    """
    engine_id = order.terms.engine_resource_id
    engine = fetch_checked(
        ctx, ctx.market.resource(engine_id)["cid"], order.terms.engine_hash, "engine"
    )
    resources: list[tuple[int, ResourceKind, bytes]] = []
    for resource_id, expected in zip(order.terms.resource_ids, order.resource_hashes):
        record = ctx.market.resource(resource_id)
        resources.append(
            (
                resource_id,
                ResourceKind(record["kind"]),
                fetch_checked(ctx, record["cid"], expected, f"resource {resource_id}"),
            )
        )
    inputs = [
        fetch_checked(ctx, item.cid, item.content_hash, f"input {n}")
        for n, item in enumerate(order.inputs)
    ]
    return engine, resources, inputs


def _keys(
    ctx: LoaderContext, enclave: EnclaveCredential, order: Order
) -> tuple[dict[int, bytes], bytes | None]:
    """The order's keys from the broker's signed answer, accepted only if they are exactly the
    order's."""
    released: list[ReleasedKey] = ctx.ca.release_keys(enclave=enclave, order_id=order.order_id)
    guard_release_matches_order(released, order)
    resource_keys: dict[int, bytes] = {}
    input_key: bytes | None = None
    for item in released:
        key = open_released(item.ciphertext, enclave)
        if item.kind == "order_inputs":
            input_key = key
        else:
            resource_keys[item.resource_id] = key
    return resource_keys, input_key


def open_released(wrapped: bytes, enclave: EnclaveCredential) -> bytes:
    """A key the broker released, opened with the enclave's age identity."""
    try:
        return open_sealed(wrapped, enclave.age_identity)
    except EnvelopeError as exc:
        raise KeyReleaseInvalid("a released key is not wrapped to this enclave") from exc


def open_resource(ciphertext: bytes, key: bytes, what: str) -> bytes:
    try:
        return open_sealed(ciphertext, key)
    except EnvelopeError as exc:
        raise InputDecryptionFailed(
            f"{what}: the released key does not open the ciphertext"
        ) from exc


def _wall_limit(order: Order, clock: _Clock, now: float) -> float:
    """What is left of the order's run window for the engine: never more than its max duration."""
    left = min(
        order.terms.max_duration - clock.elapsed(),
        order.accepted_at + order.terms.max_duration - now,
    )
    left -= RESULT_RESERVE_S
    if left <= 0:
        raise EngineTimeout(f"order {order.order_id} has no time left to run its engine")
    return left


def _run(
    ctx: LoaderContext,
    enclave: EnclaveCredential,
    order: Order,
    scratch: Scratch,
    outcome: SignedOutcome,
    clock: _Clock,
) -> None:
    stages = outcome.stages
    with _stage(stages, "check"):
        offer_gpu = _require_offer_gpu(ctx, enclave, order)
    with _stage(stages, "fetch_verify"):
        engine_ct, resources, inputs = _fetch_all(ctx, order)
    with _stage(stages, "key_release"):
        resource_keys, input_key = _keys(ctx, enclave, order)
    with _stage(stages, "decrypt"):
        engine_dir = scratch.sub("engine", mode=0o755)
        try:
            manifest = unpack_engine(
                open_resource(engine_ct, resource_keys[order.terms.engine_resource_id], "engine"),
                engine_dir,
            )
        except EngineError as exc:
            raise EngineInvalid(f"the engine archive is unusable: {exc.code}") from exc
        plain_resources = [
            (kind, open_resource(ct, resource_keys[rid], f"resource {rid}"))
            for rid, kind, ct in resources
        ]
        plain_inputs = (
            [open_resource(ct, input_key, f"input {n}") for n, ct in enumerate(inputs)]
            if input_key
            else []
        )
        input_dir = lay_out_inputs(manifest, plain_resources, plain_inputs, scratch.sub("inputs"))
        del plain_resources, plain_inputs
    with _stage(stages, "workload"):
        output_dir = scratch.sub("outputs")
        run_engine(
            engine_dir,
            manifest,
            input_dir,
            output_dir,
            seed=order_seed(order.order_id),
            order_id=order.order_id,
            scratch=scratch,
            wall_limit_s=_wall_limit(order, clock, ctx.clock()),
            gpu_devices=_gpu_devices(enclave, offer_gpu),
        )
    with _stage(stages, "encrypt_upload"):
        sealed = encrypt_to(pack_outputs(output_dir), order.recipient_key)
        try:
            stored = ctx.store.add(sealed)
        except StorageError as exc:
            raise InputUnavailable(f"cannot upload the result ({exc.code})") from exc
    with _stage(stages, "sign"):
        report = IntegrityReport(
            order_id=bytes.fromhex(order.order_id[2:]),
            engine_hash=order.terms.engine_hash,
            inputs_hash=order.terms.inputs_hash,
            output_hash=hashlib.sha256(sealed).digest(),
            output_cid=stored.cid,
            tee_type=enclave.tee_type,
            measurement=enclave.measurement,
            enclave=enclave.address,
            started_at=clock.started_at(order),
            finished_at=clock.finished_at(order),
        )
        outcome.report, outcome.output_cid = report, stored.cid
        outcome.signature = ctx.market.sign_report(enclave.account, report)
    log.info(
        "order executed",
        extra={
            "order_id": order.order_id,
            "output_cid": stored.cid,
            "output_bytes": len(sealed),
            "billed_s": report.finished_at - report.started_at,
            "stages": {k: round(v, 4) for k, v in stages.items()},
        },
    )


def _fail(
    ctx: LoaderContext,
    enclave: EnclaveCredential,
    outcome: SignedOutcome,
    error: BaseException,
    order: Order | None = None,
) -> None:
    """Sign the failure of ``outcome``'s order, with the customer's detail where it can go.

    ``order`` is the checked order (None when the failure came before or in the check): only then
    is its recipient key known to be the customer's, so only then is a detail encrypted and
    uploaded. The engine's raw stderr goes into that envelope and nowhere else.
    """
    code = reason_code_of(error)
    outcome.reason = str(getattr(error, "reason", None) or getattr(error, "code", "internal_error"))
    detail = str(getattr(error, "message", "") or type(error).__name__)[
        :300
    ]  # our own words, never data
    detail_cid = ""
    if order is not None:
        with _stage(outcome.stages, "encrypt_upload"):
            detail_cid = _upload_detail(ctx, order, code, detail, error)
    outcome.failure = OrderFailure(
        order_id=bytes.fromhex(outcome.order_id.removeprefix("0x")),
        enclave=enclave.address,
        reason_code=code,
        detail_cid=detail_cid,
    )
    outcome.signature = ctx.market.sign_failure(enclave.account, outcome.failure)
    log.warning(
        "order failed",
        extra={
            "order_id": outcome.order_id,
            "reason": outcome.reason,
            "reason_code": code,
            "detail": detail,
            "detail_cid": detail_cid,
        },
    )


def _upload_detail(
    ctx: LoaderContext, order: Order, code: int, message: str, error: BaseException
) -> str:
    """The CID of the failure detail encrypted to ``order``'s (checked) recipient key, or "" if it
    cannot be encrypted or stored: the refund never waits on it."""
    detail = FailureDetail(
        reason=describe_reason(code).name,
        message=message,
        stderr_tail=str(getattr(error, "raw_stderr_tail", "") or ""),
    )
    try:
        sealed = encrypt_to(detail_json(detail), order.recipient_key)
        return str(ctx.store.add(sealed).cid)
    except (StorageError, EnvelopeError) as exc:
        log.warning(
            "failure detail not stored", extra={"order_id": order.order_id, "type": exc.code}
        )
        return ""
