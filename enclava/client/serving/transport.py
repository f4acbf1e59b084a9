"""``ServiceTransport``: the ``httpx2`` transport that lets the official ``openai`` client talk to a
verified service enclave, and refuses every response the enclave did not sign for this exchange.

::

    service = verify_service(url, service_id, chain, ca_certificate_pem=ca_pem)
    transport = ServiceTransport(service, customer_account)
    client = openai.OpenAI(base_url=service.endpoint + "/v1", api_key=transport.api_key,
                           http_client=httpx2.Client(transport=transport))

For each request it checks the URL is the verified endpoint's (else nothing is sent), sets the
customer's session token and latest voucher, and sends over TLS pinned to the statement's
certificate. Each 2xx response must carry a receipt that
:func:`~enclava.protocol.serving.check_receipt` accepts (signer, service, customer, sequence,
request and response hashes, model, cumulative counts), whose counts equal the response's own
``usage`` and stay within the request's ``max_tokens`` and the time the client waited. A stream's
SSE blocks are passed on as they arrive and hashed; the receipt event is removed, and
``data: [DONE]`` is passed on only after the receipt verified: a missing or refused receipt raises
its typed error instead (the blocks already passed on must then be discarded by the caller: the
error says the stream cannot be trusted).

After each verified receipt the transport signs the next cumulative voucher: the counts it was
started with (``last_voucher``) plus every count a verified receipt showed, nothing else. One
exchange runs at a time (receipts are sequential); after any refusal the transport sends nothing
more (:class:`~enclava.client.serving.errors.ServiceDistrusted`).
"""

from __future__ import annotations

import hashlib
import logging
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx2
from eth_account.signers.local import LocalAccount

from enclava.client.serving._receipts import (
    at_least,
    block_usage,
    check_usage,
    max_tokens,
    prior_counts,
    usage_of,
)
from enclava.client.serving.errors import (
    RequestNotForService,
    ResponseEncodingRefused,
    ServiceDistrusted,
    StreamMalformed,
    TlsPinFailed,
)
from enclava.client.serving.verify import VerifiedService
from enclava.errors import EnclavaError
from enclava.protocol.errors import ReceiptCountsInvalid, ReceiptMissing
from enclava.protocol.serving import (
    ATTESTATION_PATH,
    DONE_EVENT,
    RECEIPT_HEADER,
    VOUCHER_HEADER,
    Cumulative,
    Receipt,
    ServiceStatement,
    SessionToken,
    SignedVoucher,
    SseSplitter,
    check_receipt,
    decode_receipt_header,
    encode_session_token,
    encode_voucher_header,
    is_receipt_event,
    issue_session_token,
    parse_receipt_event,
    sign_voucher_envelope,
)

__all__ = ["Exchange", "ServiceTransport"]

log = logging.getLogger(__name__)

_RENEW_BEFORE_S = 60


@dataclass(frozen=True)
class Exchange:
    """One verified exchange: the exact bytes sent and received, and the enclave's receipt."""

    method: str
    path: str
    request_body: bytes = field(repr=False)
    response_body: bytes = field(repr=False)  # for a stream: every byte before the receipt event
    receipt: Receipt
    statement: ServiceStatement = field(repr=False)
    streamed: bool = False


class _Once:
    """Calls ``action`` the first time it is called, and never again."""

    def __init__(self, action: Callable[[], None]) -> None:
        self._action: Callable[[], None] | None = action
        self._lock = threading.Lock()

    def __call__(self) -> None:
        with self._lock:
            action, self._action = self._action, None
        if action is not None:
            action()


@dataclass
class _Pending:
    """An exchange in flight: what its receipt will be checked against."""

    method: str
    path: str
    body: bytes
    started: float
    max_completion_tokens: int | None


class ServiceTransport(httpx2.BaseTransport):
    """An ``httpx2`` transport to one :class:`VerifiedService`, for ``customer``'s wallet."""

    def __init__(
        self,
        service: VerifiedService,
        customer: LocalAccount,
        *,
        last_voucher: SignedVoucher | None = None,
        session_ttl_s: int = 3600,
        compute_slack_ms: int = 1000,
        limits: httpx2.Limits | None = None,
    ) -> None:
        self.service = service
        self._customer = customer
        self._ttl = session_ttl_s
        self._slack_ms = compute_slack_ms
        self._inner = httpx2.HTTPTransport(
            verify=service.ssl_context(),
            trust_env=False,
            limits=limits or httpx2.Limits(max_connections=100, max_keepalive_connections=20),
        )
        if last_voucher is not None and last_voucher.voucher.service_id != service.service_id:
            raise ValueError("last_voucher is for another service")
        self._voucher = last_voucher
        self._vouched = (
            Cumulative() if last_voucher is None else Cumulative.of_voucher(last_voucher.voucher)
        )
        self._sequence = 0
        self._cumulative: Cumulative | None = None  # the enclave's counts after the last receipt
        self._token: SessionToken | None = None
        self._refused: EnclavaError | None = None
        self._exchange_lock = threading.Lock()
        self.journal: list[Exchange] = []

    # ---------------------------------------------------------------- public state

    @property
    def customer(self) -> str:
        return str(self._customer.address)

    @property
    def api_key(self) -> str:
        """The current session token: what the ``openai`` client's ``api_key`` should be."""
        return encode_session_token(self._session_token())

    @property
    def latest_voucher(self) -> SignedVoucher | None:
        """The voucher for every count the verified receipts showed (None before any)."""
        return self._voucher

    @property
    def vouched(self) -> Cumulative:
        return self._vouched

    # ---------------------------------------------------------------- transport

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        if self._refused is not None:
            raise ServiceDistrusted(
                f"an earlier response was refused ({self._refused.code})"
            ) from self._refused
        self._require_origin(request)
        body = request.read()
        request.headers["accept-encoding"] = "identity"
        if request.url.path == ATTESTATION_PATH:
            request.headers.pop("authorization", None)  # public and unsigned: no credential
            return self._send(request)

        self._exchange_lock.acquire()  # receipts are sequential: one exchange at a time
        release = _Once(self._exchange_lock.release)
        streaming = False
        try:
            if self._refused is not None:  # the exchange before this one was refused
                raise ServiceDistrusted(
                    f"an earlier response was refused ({self._refused.code})"
                ) from self._refused
            token = encode_session_token(self._session_token())
            request.headers["authorization"] = "Bearer " + token
            if self._voucher is not None:  # the latest: it covers every receipt verified so far
                request.headers[VOUCHER_HEADER] = encode_voucher_header(self._voucher)
            pending = _Pending(
                request.method, request.url.path, body, time.monotonic(), max_tokens(body)
            )
            response = self._send(request)
            if response.headers.get("content-encoding", "identity").lower() != "identity":
                response.close()
                raise self._refuse(ResponseEncodingRefused("the response is compressed"))
            if not 200 <= response.status_code < 300:
                content = response.read()  # an error answer: no usage, no receipt
                response.close()
                return httpx2.Response(
                    response.status_code, headers=response.headers, content=content, request=request
                )
            if response.headers.get("content-type", "").startswith("text/event-stream"):
                stream = _VerifyingStream(self, response, pending, release)
                streaming = True
                return httpx2.Response(
                    response.status_code,
                    headers=response.headers,
                    stream=stream,
                    request=request,
                    extensions=response.extensions,
                )
            try:
                content = response.read()
            finally:
                response.close()
            self._accept(pending, response.headers.get(RECEIPT_HEADER), content, streamed=False)
            return httpx2.Response(
                response.status_code, headers=response.headers, content=content, request=request
            )
        finally:
            if not streaming:
                release()

    def _send(self, request: httpx2.Request) -> httpx2.Response:
        """Send over the pinned TLS; a certificate other than the pin is a typed refusal."""
        try:
            return self._inner.handle_request(request)
        except httpx2.ConnectError as exc:
            cause: BaseException | None = exc
            while cause is not None and not isinstance(cause, ssl.SSLCertVerificationError):
                cause = cause.__cause__ or cause.__context__
            if cause is None:
                raise
            raise self._refuse(
                TlsPinFailed("the service presented another TLS certificate than the verified one")
            ) from exc

    def close(self) -> None:
        self._inner.close()

    # ---------------------------------------------------------------- internals

    def _require_origin(self, request: httpx2.Request) -> None:
        url = request.url
        port = url.port or (443 if url.scheme == "https" else 80)
        if url.scheme != "https" or (url.host, port) != tuple(self.service.origin):
            raise RequestNotForService(
                f"the request goes to {url.scheme}://{url.host}:{port}, not the verified service"
            )

    def _session_token(self) -> SessionToken:
        now = int(time.time())
        if self._token is None or self._token.expires_at - _RENEW_BEFORE_S <= now:
            self._token = issue_session_token(
                self._customer, service_id=self.service.service_id, expires_at=now + self._ttl
            )
        return self._token

    def _abandoned(self) -> None:
        """A stream closed before its receipt: the enclave may have counted usage that no receipt
        showed us, so the next receipt may start above our counts (never below what we vouched);
        that gap is not vouched for."""
        self._cumulative = None
        log.info("service %s: a stream was closed before its receipt", self.service.service_id)

    def _refuse(self, error: EnclavaError) -> EnclavaError:
        self._refused = error
        log.warning("service %s: exchange refused (%s)", self.service.service_id, error.code)
        return error

    def _accept(
        self,
        pending: _Pending,
        receipt_value: str | Receipt | None,
        response_body: bytes,
        *,
        streamed: bool,
        usage: dict[str, Any] | None = None,
    ) -> None:
        """Verify the exchange's receipt, journal it and sign the next voucher; refuse otherwise."""
        try:
            if receipt_value is None:
                raise ReceiptMissing("the response carries no enclava-receipt")
            receipt = (
                receipt_value
                if isinstance(receipt_value, Receipt)
                else decode_receipt_header(receipt_value)
            )
            if usage is None and not streamed:
                usage = usage_of(response_body)
            self._check(pending, receipt, response_body, usage)
        except EnclavaError as exc:
            raise self._refuse(exc) from None
        self._sequence = receipt.sequence
        self._cumulative = receipt.cumulative
        self._vouched = self._vouched.plus(
            receipt.prompt_tokens, receipt.completion_tokens, receipt.compute_ms
        )
        self._voucher = sign_voucher_envelope(
            self._customer,
            self.service.terms,
            self._vouched,
            chain_id=self.service.chain_id,
            contract=self.service.service_market,
        )
        self.journal.append(
            Exchange(
                method=pending.method,
                path=pending.path,
                request_body=pending.body,
                response_body=response_body,
                receipt=receipt,
                statement=self.service.statement,
                streamed=streamed,
            )
        )
        log.info("service %s: receipt %d verified", self.service.service_id, receipt.sequence)

    def _check(
        self, pending: _Pending, receipt: Receipt, body: bytes, usage: dict[str, Any] | None
    ) -> None:
        previous = self._cumulative
        if previous is None:  # the first receipt: the enclave may have counted earlier sessions
            previous = prior_counts(receipt)
            if not at_least(previous, self._vouched):
                raise ReceiptCountsInvalid(
                    "the receipt's cumulative counts are below the vouched ones"
                )
        check_receipt(
            receipt,
            enclave=self.service.enclave,
            service_id=self.service.service_id,
            customer=self.customer,
            model_hash=self.service.statement.model_hash,
            method=pending.method,
            path=pending.path,
            request_body=pending.body,
            response_sha256="0x" + hashlib.sha256(body).hexdigest(),
            after_sequence=self._sequence,
            previous=previous,
        )
        check_usage(receipt, usage)
        if pending.max_completion_tokens is not None and (
            receipt.completion_tokens > pending.max_completion_tokens
        ):
            raise ReceiptCountsInvalid("the receipt counts more completion tokens than requested")
        waited_ms = int((time.monotonic() - pending.started) * 1000)
        if receipt.compute_ms > waited_ms + self._slack_ms:
            raise ReceiptCountsInvalid(
                "the receipt counts more compute time than the client waited"
            )


class _VerifyingStream(httpx2.SyncByteStream):
    """Passes SSE blocks on as they arrive, hashes them, and holds ``[DONE]`` until the receipt
    verified."""

    def __init__(
        self,
        transport: ServiceTransport,
        response: httpx2.Response,
        pending: _Pending,
        release: _Once,
    ) -> None:
        self._transport = transport
        self._response = response
        self._pending = pending
        self._release = release
        self._settled = False  # its receipt was accepted, or the exchange refused

    def __iter__(self) -> Iterator[bytes]:
        splitter = SseSplitter()
        received: list[bytes] = []
        receipt: Receipt | None = None
        usage: dict[str, Any] | None = None
        try:
            raw = self._response.iter_raw()
            for chunk in raw:
                for block in splitter.feed(chunk):
                    if receipt is None and is_receipt_event(block):
                        receipt = parse_receipt_event(block)
                        self._transport._accept(
                            self._pending, receipt, b"".join(received), streamed=True, usage=usage
                        )
                        self._settled = True
                    elif receipt is None:
                        if block == DONE_EVENT:
                            raise ReceiptMissing(
                                "the stream reached [DONE] without an enclava-receipt"
                            )
                        received.append(block)
                        usage = block_usage(block) or usage
                        yield block
                    elif block == DONE_EVENT:
                        # read the body to its end before [DONE] goes on (the openai client stops
                        # reading there): the pinned TLS connection then returns to the pool
                        # instead of a new handshake per request; nothing may follow
                        if b"".join(raw).strip() or splitter.rest.strip():
                            raise StreamMalformed("the stream carries data after its [DONE]")
                        yield block
                    else:
                        raise StreamMalformed("the stream carries data after its receipt")
            if receipt is None:
                raise ReceiptMissing("the stream ended without an enclava-receipt event")
            if splitter.rest:
                raise StreamMalformed("the stream ended inside an event")
        except EnclavaError as exc:
            self._settled = True
            if self._transport._refused is not exc:
                self._transport._refuse(exc)
            raise
        finally:
            self.close()

    def close(self) -> None:
        try:
            self._response.close()
            if not self._settled:  # closed by the caller before its receipt came
                self._settled = True
                self._transport._abandoned()
        finally:
            self._release()
