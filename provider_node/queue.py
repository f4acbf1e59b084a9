"""The provider's Celery application on Redis.

Tasks acknowledge late and are re-queued if a worker dies, so an order survives a killed worker;
one task at a time per worker process, since each runs a whole enclave job. Redis redelivers a
task whose worker vanished after ``visibility_timeout``; the job row's lease (provider_node.jobs)
keeps such a redelivery from running an order twice.
"""

from __future__ import annotations

import logging
import os
import socket
import time

from celery import Celery
from celery.signals import setup_logging

__all__ = ["make_celery", "app", "VISIBILITY_TIMEOUT_S"]

VISIBILITY_TIMEOUT_S = 120


def make_celery(redis_url: str, *, max_attempts: int = 3, queue: str = "celery") -> Celery:
    """The app; ``queue`` names this node's own task queue, so nodes sharing a Redis never take
    each other's jobs."""
    celery = Celery("enclava-provider", broker=redis_url, backend=redis_url)
    celery.conf.update(
        task_default_queue=queue,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        broker_connection_retry_on_startup=True,
        broker_connection_max_retries=None,
        broker_transport_options={"visibility_timeout": VISIBILITY_TIMEOUT_S},
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        result_expires=3600,
        worker_hijack_root_logger=False,
    )
    celery.task(name="enclava.health.ping")(_ping)
    from provider_node.tasks import register_tasks

    register_tasks(celery, max_attempts=max_attempts)
    return celery


def _ping(token: str) -> dict[str, object]:
    """Round-trip check: proves a worker took the task from Redis and answered through it."""
    return {"token": token, "worker": socket.gethostname(), "pid": os.getpid(), "time": time.time()}


@setup_logging.connect  # type: ignore[untyped-decorator]  # Celery ships no type hints
def _json_logs(loglevel: str | int | None = None, **_: object) -> None:
    """Workers log like every other service: one redacted JSON object per line (a receiver on
    this signal also stops Celery from installing its own plain-text handlers)."""
    from enclava.logs import configure_logging

    level = (
        loglevel if isinstance(loglevel, str) else logging.getLevelName(loglevel or logging.INFO)
    )
    configure_logging(level)


def _default_app() -> Celery:
    from provider_node.settings import load_settings

    settings = load_settings()
    return make_celery(
        settings.resolved_redis_url(), max_attempts=settings.max_attempts, queue=settings.queue_name
    )


#: The app a `celery -A provider_node.queue worker` process loads (broker from settings/devnet).
app = _default_app() if os.environ.get("ENCLAVA_CELERY_WORKER") == "1" else None
