"""The OpenAI-compatible HTTP routes (Starlette), thin over :mod:`protocol` and the
:class:`~.scheduler.Scheduler`: parse, submit, relay the scheduler's events as one JSON body or as
server-sent events (``data: {chunk}\\n\\n`` ... ``data: [DONE]\\n\\n``). Errors answer in OpenAI's
shape; neither prompts nor completions are logged."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from . import protocol
from .errors import ChatServerError, EngineStopped
from .loading import LoadedModel
from .protocol import Job
from .scheduler import Delta, Event, Failed, Finished, Scheduler

__all__ = ["build_app"]

log = logging.getLogger("engines.chat_server")


def _dumps(data: Any) -> bytes:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()


def _error_response(error: ChatServerError) -> JSONResponse:
    return JSONResponse(error.to_openai(), status_code=error.http_status)


def _sse(data: Any) -> bytes:
    return b"data: " + _dumps(data) + b"\n\n"


class _Stream:
    """A request's events, carried from the scheduler's thread onto the event loop."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[Event] = asyncio.Queue()
        loop = asyncio.get_running_loop()
        self._loop = loop

    def on_event(self, event: Event) -> None:
        self._loop.call_soon_threadsafe(self.queue.put_nowait, event)


def build_app(loaded: LoadedModel, scheduler: Scheduler) -> Starlette:
    """The app over a started ``scheduler``; its lifespan stops the scheduler."""
    created = int(time.time())
    name = loaded.name
    model_card = {"id": name, "object": "model", "created": created, "owned_by": "enclava"}

    async def models(_: Request) -> Response:
        return JSONResponse({"object": "list", "data": [model_card]})

    async def model(request: Request) -> Response:
        if request.path_params["model"] != name:
            raise HTTPException(
                404, f"the model {request.path_params['model'][:100]!r} is not served here"
            )
        return JSONResponse(model_card)

    async def healthz(_: Request) -> Response:
        ok = scheduler.ready
        return JSONResponse(
            {
                "status": "ok" if ok else "starting" if scheduler.running else "stopped",
                "model": name,
            },
            status_code=200 if ok else 503,
        )

    async def stats(_: Request) -> Response:
        return JSONResponse(scheduler.stats())

    async def run(
        request: Request, parse: Callable[[dict[str, Any], LoadedModel], Job]
    ) -> Response:
        try:
            job = parse(protocol.parse_body(await request.body()), loaded)
            stream = _Stream()
            sequence = scheduler.submit(job.prompt_ids, job.params, stream.on_event)
        except ChatServerError as error:
            return _error_response(error)
        if job.stream:
            return StreamingResponse(
                _events(job, stream, lambda: scheduler.cancel(sequence)),
                media_type="text/event-stream",
                headers={"cache-control": "no-cache", "x-accel-buffering": "no"},
            )
        parts: list[str] = []
        try:
            while True:
                event = await stream.queue.get()
                if isinstance(event, Delta):
                    parts.append(event.text)
                elif isinstance(event, Finished):
                    parts.append(event.text)
                    counts = protocol.usage(event.prompt_tokens, event.completion_tokens)
                    body = protocol.full_response(
                        job, name, "".join(parts), event.finish_reason, counts
                    )
                    return Response(_dumps(body), media_type="application/json")
                else:
                    return _error_response(EngineStopped(event.message))
        finally:
            scheduler.cancel(sequence)  # a no-op once finished; frees the row if the client left

    async def _events(
        job: Job, stream: _Stream, cancel: Callable[[], None]
    ) -> AsyncIterator[bytes]:
        try:
            if job.kind == "chat":
                yield _sse(protocol.chunk(job, name, "", None, first=True))
            while True:
                event = await stream.queue.get()
                if isinstance(event, Delta):
                    yield _sse(protocol.chunk(job, name, event.text, None))
                elif isinstance(event, Finished):
                    if event.text:
                        yield _sse(protocol.chunk(job, name, event.text, None))
                    final_text = None if job.kind == "chat" else ""
                    yield _sse(protocol.chunk(job, name, final_text, event.finish_reason))
                    if job.include_usage:
                        counts = protocol.usage(event.prompt_tokens, event.completion_tokens)
                        yield _sse(protocol.usage_chunk(job, name, counts))
                    break
                elif isinstance(event, Failed):
                    yield _sse(EngineStopped(event.message).to_openai())
                    break
            yield b"data: [DONE]\n\n"
        finally:
            cancel()

    async def chat(request: Request) -> Response:
        return await run(request, protocol.parse_chat)

    async def completions(request: Request) -> Response:
        return await run(request, protocol.parse_completion)

    async def http_error(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        kind = "invalid_request_error" if exc.status_code < 500 else "server_error"
        error = {
            "message": str(exc.detail),
            "type": kind,
            "param": None,
            "code": str(exc.status_code),
        }
        return JSONResponse({"error": error}, status_code=exc.status_code)

    async def server_error(_: Request, exc: Exception) -> Response:
        log.error("request failed: %s", type(exc).__name__)
        error = {
            "message": "internal error",
            "type": "server_error",
            "param": None,
            "code": "internal_error",
        }
        return JSONResponse({"error": error}, status_code=500)

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        scheduler.start()
        try:
            yield
        finally:
            await asyncio.to_thread(scheduler.stop)

    return Starlette(
        routes=[
            Route("/v1/models", models, methods=["GET"]),
            Route("/v1/models/{model:path}", model, methods=["GET"]),
            Route("/v1/chat/completions", chat, methods=["POST"]),
            Route("/v1/completions", completions, methods=["POST"]),
            Route("/v1/engine/stats", stats, methods=["GET"]),
            Route("/healthz", healthz, methods=["GET"]),
        ],
        exception_handlers={HTTPException: http_error, Exception: server_error},
        lifespan=lifespan,
    )
