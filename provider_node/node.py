"""The provider node daemon: set up on chain, follow orders, keep every accepted order moving.

``ProviderNode.tick()`` is one round: follow new blocks, queue again any job whose task was lost
(a restarted Redis, a killed worker whose lease ran out), and fail cleanly — through a worker's
signed failure — any job that can no longer finish before its deadline. ``run()`` repeats it until
SIGTERM, with ``/healthz`` and Prometheus ``/metrics`` served alongside.
"""

from __future__ import annotations

import signal
import socket
import threading
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from celery import Celery
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from enclava.logs import get_logger
from enclava.protocol.tee import TeeType, encode_gpu_class, onchain_tee
from provider_node.follower import OrderFollower
from provider_node.runtime import Runtime
from provider_node.tasks import EXECUTE_TASK, TIMEOUT_TASK

if TYPE_CHECKING:
    import uvicorn

__all__ = ["ProviderNode"]

log = get_logger("provider_node.node")


class ProviderNode:
    def __init__(self, rt: Runtime, celery: Celery) -> None:
        self.rt = rt
        self.celery = celery
        self.tee_offers: dict[int, int] = {}
        self.follower: OrderFollower | None = None
        self._failing: set[str] = set()
        self.stop = threading.Event()
        #: where the HTTP face answers, once :meth:`run` serves it
        self.http_url = ""

    # ------------------------------------------------------------------ setup

    def setup(self) -> dict[int, int]:
        """Register with stake and publish the configured TEE offers, unless the chain has them."""
        market, account, settings = self.rt.market, self.rt.account, self.rt.settings
        if not market.is_provider(account.address):
            market.register_provider(account, settings.stake_wei)
            log.info(
                "provider registered",
                extra={"provider": account.address, "stake": settings.stake_wei},
            )
        existing = self._published_tee_offers()
        for config in settings.tee_offers:
            tee_type = TeeType.from_wire_name(config.tee_type)
            tee = int(onchain_tee(tee_type, simulated=tee_type is TeeType.SIMULATED))
            gpu = encode_gpu_class(config.gpu_class)
            match = next(
                (
                    oid
                    for oid, o in existing.items()
                    if o == (tee, gpu, config.price_per_second, config.slots)
                    and oid not in self.tee_offers
                ),
                None,
            )
            if match is None:
                match = market.publish_tee_offer(
                    account,
                    tee_type=tee,
                    gpu_class=config.gpu_class,
                    price_per_second=config.price_per_second,
                    slots=config.slots,
                )
                log.info(
                    "TEE offer published", extra={"tee_offer_id": match, "slots": config.slots}
                )
            self.tee_offers[match] = config.slots
        self.follower = OrderFollower(self.rt, self.tee_offers, self.enqueue)
        return self.tee_offers

    def _published_tee_offers(self) -> dict[int, tuple[Any, ...]]:
        registry = self.rt.market.contracts.provider_registry
        logs = registry.events.TeeOfferPublished.get_logs(
            from_block=self.rt.settings.deploy_block,
            argument_filters={"provider": self.rt.account.address},
        )
        found = {}
        for entry in logs:
            tee_offer_id = int(entry["args"]["teeOfferId"])
            o = registry.functions.getTeeOffer(tee_offer_id).call()
            if o[2] and not o[3]:  # active, not retired
                found[tee_offer_id] = (int(o[1]), bytes(o[7]), int(o[6]), int(o[4]))
        return found

    # ------------------------------------------------------------------ the loop

    def enqueue(self, order_id: str) -> None:
        self.celery.send_task(EXECUTE_TASK, args=[order_id])
        self.rt.jobs.mark_enqueued(order_id, self.rt.settings.lease_s * 2)

    def recover(self) -> None:
        """After a restart: finish interrupted acceptances; the next ticks re-queue lost jobs."""
        assert self.follower is not None
        self.follower.adopt_accepting()

    def tick(self) -> None:
        assert self.follower is not None
        self.follower.poll_once()
        now = time.time()
        for job in self.rt.jobs.open_jobs():
            if job.status == "accepting":
                continue
            if job.deadline and now >= job.deadline - self.rt.settings.deadline_margin_s:
                if job.order_id not in self._failing:
                    self._failing.add(job.order_id)
                    self.celery.send_task(TIMEOUT_TASK, args=[job.order_id])
                    log.warning("failing a job at its deadline", extra={"order_id": job.order_id})
            elif job.lease_until < now:
                log.info(
                    "re-queueing a job whose task was lost",
                    extra={"order_id": job.order_id, "status": job.status},
                )
                self.enqueue(job.order_id)

    def run(self) -> None:
        """Set up, recover, serve health and metrics, and tick until SIGTERM/SIGINT."""
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: self.stop.set())
        self.setup()
        self.recover()
        server = self._serve_http()
        log.info(
            "provider node running",
            extra={"provider": self.rt.account.address, "tee_offers": list(self.tee_offers)},
        )
        while not self.stop.is_set():
            try:
                self.tick()
            except Exception as exc:  # a tick must never kill the daemon; the next one retries
                log.error(
                    "tick failed", extra={"error_type": type(exc).__name__, "error": str(exc)[:200]}
                )
            self.stop.wait(self.rt.settings.poll_interval_s)
        server.should_exit = True
        self.rt.jobs.dispose()
        log.info("provider node stopped")

    # ------------------------------------------------------------------ health and metrics

    def _serve_http(self) -> uvicorn.Server:
        """Serve the HTTP face on ``http_host:http_port`` (port 0: a free port the OS picks) and
        log its URL once. The socket is bound here, so the logged URL is the one that answers."""
        import uvicorn

        from provider_node.http import build_app

        host, port = self.rt.settings.http_host, self.rt.settings.http_port
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
        config = uvicorn.Config(build_app(self), log_level="warning")
        server = uvicorn.Server(config)
        bound = sock.getsockname()[1]
        self.http_url = f"http://{f'[{host}]' if family == socket.AF_INET6 else host}:{bound}"
        threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name="provider-http", daemon=True
        ).start()
        log.info(
            f"provider node HTTP at {self.http_url} (/healthz, /metrics, /v1/status, "
            "/v1/jobs/ORDER_ID)",
            extra={"url": self.http_url},
        )
        return server

    def collect(self) -> Iterator[Metric]:
        """Prometheus collector: job counts and per-stage time, from the job table (shared by
        workers)."""
        jobs = self.rt.jobs.all_jobs()
        counts = CounterMetricFamily(
            "enclava_provider_orders", "Orders by outcome", labels=["outcome"]
        )
        accepted = [j for j in jobs if j.status != "accepting"]
        counts.add_metric(["accepted"], len(accepted))
        counts.add_metric(["completed"], sum(j.status == "completed" for j in jobs))
        counts.add_metric(["failed"], sum(j.status == "failed" for j in jobs))
        yield counts
        open_jobs = GaugeMetricFamily(
            "enclava_provider_open_jobs", "Jobs accepted and not finished"
        )
        open_jobs.add_metric([], sum(j.status in ("queued", "running") for j in jobs))
        yield open_jobs
        stages = CounterMetricFamily(
            "enclava_provider_stage_seconds", "Time spent per loader stage", labels=["stage"]
        )
        totals: dict[str, float] = {}
        for job in jobs:
            for stage, seconds in job.stages.items():
                totals[stage] = totals.get(stage, 0.0) + seconds
        for stage, seconds in sorted(totals.items()):
            stages.add_metric([stage], seconds)
        yield stages
