"""The service enclave's HTTPS front: authenticate, meter, forward to the engine, sign.

Routes (``build_proxy_app``):

- ``GET /v1/enclava/attestation`` (public): the signed service statement, as stored bytes.
- ``GET /v1/enclava/vouchers`` (public): every customer's latest verified voucher, for the
  provider to settle (vouchers go on chain anyway).
- ``GET /v1/models[/{id}]``, ``POST /v1/chat/completions``, ``POST /v1/completions``: need a session
  token (``Authorization: Bearer``) signed by the customer for this service and not expired, else
  401. An ``enclava-voucher`` header is verified and kept (400 if it does not verify). Then the
  credit rule (``Ledger.admit``, else 402), then the exact request body goes to the engine over its
  Unix socket. Every successful answer carries a receipt signed by the enclave key: the
  ``enclava-receipt`` header over the body bytes, or, for a stream, an ``enclava-receipt`` event
  over every byte sent before it, followed by ``data: [DONE]``.
- ``/healthz``: the proxy's and the engine's liveness.

Usage of a stream: the enclave needs the engine's ``usage``, so when the client did not ask for it
(``stream_options.include_usage`` not true) the body sent to the engine is the client's JSON with
``stream_options.include_usage`` set, and the engine's extra usage-only chunk (``"choices": []``) is
dropped from what the client receives; the receipt's ``request_sha256`` is still over the client's
exact bytes, ``response_sha256`` over exactly the bytes the client received. Chunks are passed on
as whole SSE blocks as soon as the engine sends them.

A request that yields no answer (an engine error, a stream cut short, a client that went away)
gets no receipt and counts no usage. Engine errors keep the OpenAI error shape: a 4xx keeps the
engine's message (it is about the customer's own request and goes only to them), a 5xx becomes a
generic message with the engine's code. Nothing of a body, a completion or a token is logged:
only paths, statuses and counts.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from eth_account.signers.local import LocalAccount
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from enclava.logs import get_logger
from enclava.protocol.errors import ProtocolError
from enclava.protocol.serving import (
    ATTESTATION_PATH,
    DONE_EVENT,
    RECEIPT_HEADER,
    VOUCHER_HEADER,
    VOUCHERS_PATH,
    Receipt,
    SseSplitter,
    bearer_token,
    decode_voucher_header,
    encode_receipt_header,
    receipt_event,
    sha256_hex,
    sign_receipt,
    verify_session_token,
)
from enclava.service import create_service_app
from trusted_loader.serving._answers import (
    data_json,
    elapsed_ms,
    engine_error,
    error_response,
    is_done,
    usage_of,
)
from trusted_loader.serving.errors import (
    EngineRequestFailed,
    EngineUnavailable,
    RequestRefused,
    ServingError,
    SessionRefused,
    VoucherRefused,
)
from trusted_loader.serving.ledger import Completed, Ledger, Ticket

__all__ = ["ProxyConfig", "build_proxy_app"]

log = get_logger("trusted_loader.serving.proxy")

_GENERATION_PATHS = ("/v1/chat/completions", "/v1/completions")
_MAX_BODY = 4 * 1024 * 1024


@dataclass
class ProxyConfig:
    """What the proxy serves with: the enclave's key, the signed statement, the ledger, the
    engine's socket."""

    account: LocalAccount
    service_id: str
    model_hash: str
    statement: bytes
    ledger: Ledger
    engine_socket: str
    clock: Callable[[], float] = time.time
    engine_alive: Callable[[], bool] = lambda: True


class _GuardedStream(StreamingResponse):
    """A stream that runs ``cleanup`` however it ends, even if its body never started."""

    def __init__(
        self,
        content: AsyncIterator[bytes],
        cleanup: Callable[[], Awaitable[None]],
        **kwargs: Any,
    ) -> None:
        super().__init__(content, **kwargs)
        self._cleanup = cleanup

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            await self._cleanup()


#: session tokens remembered once verified (a customer sends the same token with every request)
_SESSION_CACHE = 4096


class _Proxy:
    def __init__(self, config: ProxyConfig) -> None:
        self.config = config
        self.client: httpx.AsyncClient | None = None
        # the exact Authorization value -> (customer, expires_at): its signature is checked once
        self._sessions: OrderedDict[str, tuple[str, int]] = OrderedDict()

    # -- checks ----------------------------------------------------------------------------------

    def authenticate(self, request: Request) -> str:
        """The session's customer, or :class:`SessionRefused`.

        A token is verified in full (signature, service, expiry) the first time; the same
        Authorization value is then recognised by its bytes until it expires, so a session costs
        one signature recovery, not one per request.
        """
        header = request.headers.get("authorization")
        now = int(self.config.clock())
        known = self._sessions.get(header) if header else None
        if known is not None and now < known[1]:
            self._sessions.move_to_end(header)  # type: ignore[arg-type]
            return known[0]
        try:
            token = bearer_token(header)
            customer = verify_session_token(token, service_id=self.config.service_id, now=now)
        except ProtocolError as exc:
            raise SessionRefused(exc.message) from exc
        assert header is not None  # bearer_token refused a missing header
        self._sessions[header] = (customer, token.expires_at)
        while len(self._sessions) > _SESSION_CACHE:
            self._sessions.popitem(last=False)
        return customer

    def take_voucher(self, request: Request, customer: str) -> None:
        header = request.headers.get(VOUCHER_HEADER)
        if header is None:
            return
        try:
            signed = decode_voucher_header(header)
        except ProtocolError as exc:
            raise VoucherRefused(exc.message) from exc
        self.config.ledger.accept_voucher(customer, signed)

    # -- receipts --------------------------------------------------------------------------------

    def receipt(
        self,
        customer: str,
        request: Request,
        body: bytes,
        response_sha256: str,
        done: Completed,
        prompt_tokens: int,
        completion_tokens: int,
        compute_ms: int,
    ) -> Receipt:
        unsigned = Receipt(
            service_id=self.config.service_id,
            enclave=self.config.account.address,
            customer=customer,
            sequence=done.sequence,
            method=request.method,
            path=request.url.path,
            request_sha256=sha256_hex(body),
            response_sha256=response_sha256,
            model_hash=self.config.model_hash,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            compute_ms=compute_ms,
            cumulative=done.cumulative,
            created_at=int(self.config.clock()),
        )
        return sign_receipt(self.config.account, unsigned)

    # -- forwarding ------------------------------------------------------------------------------

    def engine(self) -> httpx.AsyncClient:
        if self.client is None:
            raise EngineUnavailable("the proxy is not started")
        return self.client

    async def serve(self, request: Request) -> Response:
        customer = self.authenticate(request)
        self.take_voucher(request, customer)
        path = request.url.path
        if request.method == "GET":
            return await self.plain(request, customer, b"", free=True)
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > _MAX_BODY:
            raise RequestRefused(f"the request body is over {_MAX_BODY} bytes")
        body = await request.body()
        if len(body) > _MAX_BODY:
            raise RequestRefused(f"the request body is over {_MAX_BODY} bytes")
        try:
            obj = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise RequestRefused("the request body is not JSON") from exc
        if not isinstance(obj, dict):
            raise RequestRefused("the request body is not a JSON object")
        if path in _GENERATION_PATHS and obj.get("stream") is True:
            return await self.stream(request, customer, body, obj)
        return await self.plain(request, customer, body, free=False)

    async def plain(self, request: Request, customer: str, body: bytes, *, free: bool) -> Response:
        ledger = self.config.ledger
        ticket = ledger.admit(customer, free=free)
        started = time.perf_counter()
        try:
            answer = await self.engine().request(
                request.method,
                request.url.path,
                content=body if body else None,
                headers={"content-type": "application/json"} if body else None,
            )
        except httpx.HTTPError as exc:
            ledger.abort(ticket)
            raise EngineRequestFailed(f"the engine did not answer ({type(exc).__name__})") from exc
        compute_ms = 0 if free else elapsed_ms(started)
        if answer.status_code >= 400:
            ledger.abort(ticket)
            log.info(
                "engine refused", extra={"path": request.url.path, "status": answer.status_code}
            )
            return engine_error(answer.status_code, answer.content)
        content = answer.content
        prompt_tokens = completion_tokens = 0
        if not free:
            try:
                counted = usage_of(json.loads(content))
            except ValueError:
                counted = None
            if counted is None:
                ledger.abort(ticket)
                raise EngineRequestFailed("the engine's answer has no usage counts")
            prompt_tokens, completion_tokens = counted
        done = ledger.complete(
            ticket,
            input_tokens=prompt_tokens,
            output_tokens=completion_tokens,
            compute_ms=compute_ms,
        )
        receipt = self.receipt(
            customer,
            request,
            body,
            sha256_hex(content),
            done,
            prompt_tokens,
            completion_tokens,
            compute_ms,
        )
        self.served(request, answer.status_code, done, stream=False)
        return Response(
            content,
            status_code=answer.status_code,
            media_type=answer.headers.get("content-type", "application/json"),
            headers={RECEIPT_HEADER: encode_receipt_header(receipt)},
        )

    async def stream(
        self, request: Request, customer: str, body: bytes, obj: dict[str, Any]
    ) -> Response:
        options = obj.get("stream_options")
        if options is not None and not isinstance(options, dict):
            raise RequestRefused("stream_options must be an object")
        asked = bool(options and options.get("include_usage") is True)
        engine_body = (
            body
            if asked
            else json.dumps(
                {**obj, "stream_options": {**(options or {}), "include_usage": True}}
            ).encode()
        )
        ledger = self.config.ledger
        ticket = ledger.admit(customer)
        started = time.perf_counter()
        client = self.engine()
        try:
            answer = await client.send(
                client.build_request(
                    "POST",
                    request.url.path,
                    content=engine_body,
                    headers={"content-type": "application/json"},
                ),
                stream=True,
            )
        except httpx.HTTPError as exc:
            ledger.abort(ticket)
            raise EngineRequestFailed(f"the engine did not answer ({type(exc).__name__})") from exc
        if answer.status_code != 200:
            content = await answer.aread()
            await answer.aclose()
            ledger.abort(ticket)
            log.info(
                "engine refused", extra={"path": request.url.path, "status": answer.status_code}
            )
            return engine_error(answer.status_code, content)

        async def cleanup() -> None:  # also when the body was never iterated (client gone)
            await answer.aclose()
            ledger.abort(ticket)  # nothing once the ticket is complete

        return _GuardedStream(
            self.relay(request, customer, body, answer, ticket, started, drop_usage=not asked),
            cleanup,
            status_code=200,
            media_type="text/event-stream",
            headers={"cache-control": "no-cache", "x-accel-buffering": "no"},
        )

    async def relay(
        self,
        request: Request,
        customer: str,
        body: bytes,
        answer: httpx.Response,
        ticket: Ticket,
        started: float,
        *,
        drop_usage: bool,
    ) -> AsyncIterator[bytes]:
        """Pass the engine's SSE blocks on as they come, hashing them; end with the receipt."""
        ledger = self.config.ledger
        digest = hashlib.sha256()
        splitter = SseSplitter()
        counted: tuple[int, int] | None = None
        finished = completed = False
        try:
            async for chunk in answer.aiter_raw():
                for block in splitter.feed(chunk):
                    if is_done(block):
                        finished = True
                        continue
                    if b'"usage"' in block:
                        obj = data_json(block)
                        usage = usage_of(obj)
                        if usage is not None:
                            counted = usage
                            if drop_usage and obj.get("choices") == []:
                                continue
                    digest.update(block)
                    yield block
            if splitter.rest.strip() or not finished or counted is None:
                failure = EngineRequestFailed("the engine's stream ended early")
                log.info("engine stream broke off", extra={"path": request.url.path})
                yield b"data: " + json.dumps(failure.openai_error()).encode() + b"\n\n"
                return
            compute_ms = elapsed_ms(started)
            done = ledger.complete(
                ticket, input_tokens=counted[0], output_tokens=counted[1], compute_ms=compute_ms
            )
            completed = True
            receipt = self.receipt(
                customer,
                request,
                body,
                "0x" + digest.hexdigest(),
                done,
                counted[0],
                counted[1],
                compute_ms,
            )
            self.served(request, 200, done, stream=True)
            yield receipt_event(receipt)
            yield DONE_EVENT
        except httpx.HTTPError as exc:
            log.info(
                "engine stream failed",
                extra={"path": request.url.path, "error": type(exc).__name__},
            )
            failure = EngineRequestFailed("the engine's stream failed")
            yield b"data: " + json.dumps(failure.openai_error()).encode() + b"\n\n"
        finally:
            await answer.aclose()
            if not completed:
                ledger.abort(ticket)

    def served(self, request: Request, status: int, done: Completed, *, stream: bool) -> None:
        log.info(
            "served",
            extra={
                "path": request.url.path,
                "status": status,
                "stream": stream,
                "sequence": done.sequence,
            },
        )


def build_proxy_app(config: ProxyConfig) -> FastAPI:
    """The service's ASGI app (served over TLS by :mod:`trusted_loader.serving.serve`)."""
    proxy = _Proxy(config)
    app = create_service_app(
        "service-enclave",
        description="Confidential serving: OpenAI routes with signed receipts (inside the CVM).",
    )

    @asynccontextmanager
    async def lifespan(_: Any) -> AsyncIterator[None]:
        transport = httpx.AsyncHTTPTransport(uds=config.engine_socket)
        proxy.client = httpx.AsyncClient(
            transport=transport,
            base_url="http://engine",
            timeout=httpx.Timeout(None, connect=10.0),
            limits=httpx.Limits(max_connections=512, max_keepalive_connections=64),
        )
        try:
            yield
        finally:
            await proxy.client.aclose()
            proxy.client = None

    app.router.lifespan_context = lifespan

    @app.exception_handler(ServingError)
    async def _refused(request: Request, exc: ServingError) -> JSONResponse:
        log.info("request refused", extra={"path": request.url.path, "type": exc.code})
        return error_response(exc)

    @app.get(ATTESTATION_PATH, tags=["enclava"])
    def attestation() -> Response:
        """The service statement, signed by the enclave: verify it before sending anything."""
        return Response(config.statement, media_type="application/json")

    @app.get(VOUCHERS_PATH, tags=["enclava"])
    def vouchers() -> dict[str, Any]:
        """The latest verified voucher of every customer (the provider settles them)."""
        return {
            "service_id": config.service_id,
            "vouchers": [signed.to_json() for signed in config.ledger.latest_vouchers()],
        }

    app.router.routes = [r for r in app.router.routes if getattr(r, "path", "") != "/healthz"]

    @app.get("/healthz", tags=["ops"], response_model=None)
    def healthz() -> JSONResponse | dict[str, str]:
        if not config.engine_alive():
            return JSONResponse({"status": "engine_down"}, status_code=503)
        return {"status": "ok", "service_id": config.service_id}

    @app.get("/v1/models", tags=["openai"])
    async def models(request: Request) -> Response:
        return await proxy.serve(request)

    @app.get("/v1/models/{model:path}", tags=["openai"])
    async def model(request: Request) -> Response:
        return await proxy.serve(request)

    @app.post("/v1/chat/completions", tags=["openai"])
    async def chat_completions(request: Request) -> Response:
        return await proxy.serve(request)

    @app.post("/v1/completions", tags=["openai"])
    async def completions(request: Request) -> Response:
        return await proxy.serve(request)

    return app
