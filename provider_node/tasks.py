"""Celery tasks of the provider node. Each carries only an order id (its job row is saved first),
acknowledges late, and retries transient trouble with exponential back-off up to a cap."""

from __future__ import annotations

import os
import socket
from typing import TYPE_CHECKING

from celery import Celery, Task

from enclava.errors import TransientError
from provider_node.executor import JobResult, fail_job, run_job

if TYPE_CHECKING:
    from provider_node.runtime import Runtime

__all__ = ["register_tasks", "EXECUTE_TASK", "TIMEOUT_TASK", "runtime"]

EXECUTE_TASK = "enclava.provider.execute_order"
#: the only failure a provider may ask for: the loader signs a timeout once the order's time is up
TIMEOUT_TASK = "enclava.provider.timeout_order"

_runtime: Runtime | None = None


def runtime() -> Runtime:
    """This worker process's runtime, built from the node's config file
    (``ENCLAVA_PROVIDER_CONFIG``)."""
    global _runtime
    if _runtime is None:
        from provider_node.runtime import Runtime
        from provider_node.settings import load_settings

        _runtime = Runtime.build(load_settings())
    return _runtime


def _holder(task_id: str) -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{task_id}"


def register_tasks(celery: Celery, *, max_attempts: int = 3) -> None:
    @celery.task(  # type: ignore[untyped-decorator]  # Celery ships no type hints
        name=EXECUTE_TASK,
        bind=True,
        acks_late=True,
        reject_on_worker_lost=True,
        max_retries=max_attempts,
        ignore_result=False,
    )
    def execute_order(self: Task, order_id: str) -> JobResult:
        try:
            return run_job(runtime(), order_id, _holder(self.request.id))
        except TransientError as exc:
            raise self.retry(exc=exc, countdown=min(60, 2**self.request.retries))

    @celery.task(  # type: ignore[untyped-decorator]  # Celery ships no type hints
        name=TIMEOUT_TASK, bind=True, acks_late=True, max_retries=max_attempts
    )
    def timeout_order(self: Task, order_id: str) -> JobResult:
        try:
            return fail_job(runtime(), order_id)
        except TransientError as exc:
            raise self.retry(exc=exc, countdown=min(60, 2**self.request.retries))
