"""The wire of confidential serving: the service statement, session tokens, receipts, vouchers.

Every signed object is the canonical JSON (:func:`~enclava.protocol.canonical.canonical_json`) of
its fields without ``"signature"``, prefixed by its domain string and a newline, signed EIP-191
(:func:`~enclava.protocol.eip191.sign_bytes`)::

    b"enclava-service-receipt-v1\\n" + canonical_json({..., "version": 1})

- :class:`ServiceStatement` (``enclava-service-statement-v1``), signed by the enclave key: what
  ``GET /v1/enclava/attestation`` answers; binds the enclave's TLS certificate, its CA-issued
  certificate, the model ciphertext hash and the decrypted weights' hash to the service id.
- :class:`SessionToken` (``enclava-service-session-v1``), signed by the customer's wallet, sent as
  ``Authorization: Bearer <base64url(canonical json with "signature")>``.
- :class:`Receipt` (``enclava-service-receipt-v1``), signed by the enclave key, one per response:
  header ``enclava-receipt: base64url(...)`` or, for a stream, the SSE block :func:`receipt_event`
  right before :data:`DONE_EVENT`.
- :class:`SignedVoucher`: the customer's EIP-712 ``Voucher``
  (:mod:`enclava.protocol.service_terms`) and its signature, header ``enclava-voucher``.

Hashes are ``0x`` + 64 lowercase hex digits, addresses checksummed, times unix seconds. Parsing is
strict: a missing or unknown field, a wrong type or bad hex is a typed
:class:`~enclava.protocol.errors.ServingMessageMalformed`. The checks one exchange must pass
(:func:`check_receipt`) live here too, so the live client and an offline verifier run the same code.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import secrets
from dataclasses import asdict, dataclass, fields, replace
from typing import Any, Final, TypeVar

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from eth_account.signers.local import LocalAccount
from eth_utils.address import is_address, to_checksum_address

from enclava.protocol.canonical import canonical_json
from enclava.protocol.eip191 import recover_bytes_signer, sign_bytes
from enclava.protocol.errors import (
    ReceiptCountsInvalid,
    ReceiptCustomerMismatch,
    ReceiptForged,
    ReceiptMalformed,
    ReceiptModelMismatch,
    ReceiptRequestMismatch,
    ReceiptResponseMismatch,
    ReceiptSequenceInvalid,
    ReceiptServiceMismatch,
    ServingMessageMalformed,
    SessionTokenForged,
    SessionTokenMalformed,
    SessionTokenRefused,
    StatementForged,
    StatementMalformed,
    VoucherForged,
    VoucherHeaderMalformed,
)
from enclava.protocol.service_terms import (
    ServiceTerms,
    Voucher,
    VoucherInvalid,
    recover_voucher_signer,
    sign_voucher,
    voucher_for,
)

__all__ = [
    "VERSION",
    "STATEMENT_DOMAIN",
    "SESSION_DOMAIN",
    "RECEIPT_DOMAIN",
    "ATTESTATION_PATH",
    "VOUCHERS_PATH",
    "RECEIPT_HEADER",
    "VOUCHER_HEADER",
    "RECEIPT_EVENT_NAME",
    "DONE_EVENT",
    "sha256_hex",
    "certificate_spki_sha256",
    "b64url_encode",
    "b64url_decode",
    "ServiceStatement",
    "SessionToken",
    "Cumulative",
    "Receipt",
    "SignedVoucher",
    "signing_bytes",
    "sign_statement",
    "verify_statement",
    "encode_statement",
    "decode_statement",
    "issue_session_token",
    "verify_session_token",
    "encode_session_token",
    "decode_session_token",
    "bearer_token",
    "sign_receipt",
    "verify_receipt_signature",
    "encode_receipt_header",
    "decode_receipt_header",
    "receipt_event",
    "is_receipt_event",
    "parse_receipt_event",
    "SseSplitter",
    "check_receipt",
    "sign_voucher_envelope",
    "verify_voucher_envelope",
    "encode_voucher_header",
    "decode_voucher_header",
]

VERSION: Final = 1
STATEMENT_DOMAIN: Final = "enclava-service-statement-v1"
SESSION_DOMAIN: Final = "enclava-service-session-v1"
RECEIPT_DOMAIN: Final = "enclava-service-receipt-v1"

ATTESTATION_PATH: Final = "/v1/enclava/attestation"
VOUCHERS_PATH: Final = "/v1/enclava/vouchers"
RECEIPT_HEADER: Final = "enclava-receipt"
VOUCHER_HEADER: Final = "enclava-voucher"
RECEIPT_EVENT_NAME: Final = "enclava-receipt"
#: The SSE block that ends every stream, after the receipt event.
DONE_EVENT: Final = b"data: [DONE]\n\n"
_RECEIPT_EVENT_PREFIX: Final = b"event: " + RECEIPT_EVENT_NAME.encode() + b"\ndata: "

_UINT64: Final = 2**64 - 1
_HASH = re.compile(r"0x[0-9a-f]{64}")
_SIGNATURE = re.compile(r"0x[0-9a-fA-F]{130}")
_B64URL = re.compile(r"[A-Za-z0-9_-]*={0,2}")
_MAX_HEADER = 64 * 1024

_E = TypeVar("_E", bound=ServingMessageMalformed)


def sha256_hex(data: bytes) -> str:
    """SHA-256 of ``data`` as ``0x`` + 64 lowercase hex digits."""
    return "0x" + hashlib.sha256(data).hexdigest()


def certificate_spki_sha256(pem: str) -> str:
    """:func:`sha256_hex` of a PEM certificate's SubjectPublicKeyInfo DER (``tls_spki_sha256``)."""
    try:
        certificate = x509.load_pem_x509_certificate(pem.encode("ascii"))
    except (ValueError, TypeError, UnicodeEncodeError) as exc:
        raise StatementMalformed("the TLS certificate is not a PEM X.509 certificate") from exc
    spki = certificate.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return sha256_hex(spki)


def b64url_encode(data: bytes) -> str:
    """URL-safe base64 without padding (what headers carry)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(
    text: str, error: type[ServingMessageMalformed] = ServingMessageMalformed
) -> bytes:
    """Inverse of :func:`b64url_encode` (padding optional); ``error`` when it is not base64url."""
    if not isinstance(text, str) or len(text) > _MAX_HEADER or not _B64URL.fullmatch(text):
        raise error("the value is not base64url text")
    try:
        return base64.urlsafe_b64decode(text.rstrip("=") + "=" * (-len(text.rstrip("=")) % 4))
    except (binascii.Error, ValueError) as exc:
        raise error("the value is not base64url text") from exc


# --- field checks ------------------------------------------------------------------------------


def _uint(value: object, name: str, error: type[_E]) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= _UINT64:
        raise error(f"{name} must be an integer in 0..2**64-1")
    return value


def _hash(value: object, name: str, error: type[_E]) -> str:
    if not isinstance(value, str) or not _HASH.fullmatch(value):
        raise error(f"{name} must be 0x + 64 lowercase hex digits")
    return value


def _address(value: object, name: str, error: type[_E]) -> str:
    if not isinstance(value, str) or not is_address(value):
        raise error(f"{name} must be an address")
    return str(to_checksum_address(value))


def _text(value: object, name: str, error: type[_E]) -> str:
    if not isinstance(value, str) or not value:
        raise error(f"{name} must be a non-empty string")
    return value


def _signature(value: object, error: type[_E]) -> str:
    if value == "":
        return ""  # not signed yet
    if not isinstance(value, str) or not _SIGNATURE.fullmatch(value):
        raise error("signature must be 0x + 130 hex digits")
    return value.lower()


def _object(value: object, names: frozenset[str], what: str, error: type[_E]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise error(f"the {what} must be a JSON object")
    keys = set(value)
    if keys != names:
        missing, unknown = sorted(names - keys), sorted(keys - names)
        raise error(f"the {what}'s fields differ: missing {missing}, unknown {unknown}")
    version = value.get("version", VERSION)
    if type(version) is not int or version != VERSION:
        raise error(f"the {what} is not version {VERSION}")
    return value


def _json(data: bytes, what: str, error: type[_E]) -> object:
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise error(f"the {what} is not JSON") from exc


def _names(cls: type) -> frozenset[str]:
    return frozenset(f.name for f in fields(cls)) | {"version"}


def _recover(message: bytes, signature: str) -> str | None:
    if not signature:  # an unsigned message (eth-account raises IndexError on empty bytes)
        return None
    return recover_bytes_signer(message, signature)


def signing_bytes(domain: str, message: dict[str, Any]) -> bytes:
    """What is signed: ``domain``, a newline, the canonical JSON of ``message`` (no signature)."""
    unsigned = {k: v for k, v in message.items() if k != "signature"}
    return domain.encode("ascii") + b"\n" + canonical_json(unsigned)


# --- the service statement ---------------------------------------------------------------------


@dataclass(frozen=True)
class ServiceStatement:
    """What the enclave states about itself, signed by its certified key (``enclave``)."""

    service_id: str
    chain_id: int
    enclave: str
    model_hash: str
    weights_sha256: str
    model_name: str
    tls_certificate: str
    tls_spki_sha256: str
    enclave_certificate: str
    issued_at: int
    signature: str = ""

    def __post_init__(self) -> None:
        err, set_ = StatementMalformed, object.__setattr__
        for name in ("service_id", "model_hash", "weights_sha256", "tls_spki_sha256"):
            _hash(getattr(self, name), name, err)
        _uint(self.chain_id, "chain_id", err)
        _uint(self.issued_at, "issued_at", err)
        set_(self, "enclave", _address(self.enclave, "enclave", err))
        for name in ("model_name", "tls_certificate", "enclave_certificate"):
            _text(getattr(self, name), name, err)
        set_(self, "signature", _signature(self.signature, err))

    def to_json(self) -> dict[str, Any]:
        """The statement as JSON (with ``version`` and ``signature``)."""
        return {"version": VERSION, **asdict(self)}

    @classmethod
    def from_json(cls, value: object) -> ServiceStatement:
        """Strict inverse of :meth:`to_json` (:class:`StatementMalformed`)."""
        obj = _object(value, _names(cls), "service statement", StatementMalformed)
        return cls(**{k: v for k, v in obj.items() if k != "version"})

    def signing_bytes(self) -> bytes:
        return signing_bytes(STATEMENT_DOMAIN, self.to_json())


def sign_statement(account: LocalAccount, statement: ServiceStatement) -> ServiceStatement:
    """``statement`` signed by ``account``, which must be its ``enclave``."""
    if str(to_checksum_address(account.address)) != statement.enclave:
        raise StatementForged("a service statement is signed by the enclave it names")
    return replace(statement, signature=sign_bytes(account, statement.signing_bytes()))


def verify_statement(statement: ServiceStatement) -> None:
    """:class:`StatementForged` unless ``statement`` is signed by its own ``enclave``."""
    signer = _recover(statement.signing_bytes(), statement.signature)
    if signer is None or signer != statement.enclave:
        raise StatementForged("the service statement is not signed by the enclave it names")


def encode_statement(statement: ServiceStatement) -> bytes:
    """The statement's canonical JSON bytes, as the attestation route answers them."""
    return canonical_json(statement.to_json())


def decode_statement(data: bytes) -> ServiceStatement:
    """Parse :func:`encode_statement`'s bytes (:class:`StatementMalformed`)."""
    return ServiceStatement.from_json(_json(data, "service statement", StatementMalformed))


# --- the session token -------------------------------------------------------------------------


@dataclass(frozen=True)
class SessionToken:
    """The customer's signed permission to be served (and billed) by ``service_id``."""

    service_id: str
    customer: str
    expires_at: int
    nonce: str
    signature: str = ""

    def __post_init__(self) -> None:
        err = SessionTokenMalformed
        _hash(self.service_id, "service_id", err)
        object.__setattr__(self, "customer", _address(self.customer, "customer", err))
        _uint(self.expires_at, "expires_at", err)
        _hash(self.nonce, "nonce", err)
        object.__setattr__(self, "signature", _signature(self.signature, err))

    def to_json(self) -> dict[str, Any]:
        return {"version": VERSION, **asdict(self)}

    @classmethod
    def from_json(cls, value: object) -> SessionToken:
        obj = _object(value, _names(cls), "session token", SessionTokenMalformed)
        return cls(**{k: v for k, v in obj.items() if k != "version"})

    def signing_bytes(self) -> bytes:
        return signing_bytes(SESSION_DOMAIN, self.to_json())


def issue_session_token(
    account: LocalAccount, *, service_id: str, expires_at: int, nonce: str | None = None
) -> SessionToken:
    """A session token for ``service_id`` signed by the customer's wallet ``account``."""
    token = SessionToken(
        service_id=service_id,
        customer=account.address,
        expires_at=expires_at,
        nonce=nonce if nonce is not None else "0x" + secrets.token_hex(32),
    )
    return replace(token, signature=sign_bytes(account, token.signing_bytes()))


def verify_session_token(token: SessionToken, *, service_id: str, now: int) -> str:
    """The token's customer, once it is signed by them, for ``service_id`` and not expired."""
    signer = _recover(token.signing_bytes(), token.signature)
    if signer is None or signer != token.customer:
        raise SessionTokenForged("the session token is not signed by the customer it names")
    if token.service_id != service_id:
        raise SessionTokenRefused("the session token is for another service")
    if token.expires_at <= now:
        raise SessionTokenRefused("the session token has expired")
    return token.customer


def encode_session_token(token: SessionToken) -> str:
    """The bearer value: base64url of the token's canonical JSON (with its signature)."""
    return b64url_encode(canonical_json(token.to_json()))


def decode_session_token(text: str) -> SessionToken:
    raw = b64url_decode(text, SessionTokenMalformed)
    return SessionToken.from_json(_json(raw, "session token", SessionTokenMalformed))


def bearer_token(authorization: str | None) -> SessionToken:
    """The session token of an ``Authorization: Bearer ...`` header."""
    scheme, _, value = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise SessionTokenMalformed("the request has no `Authorization: Bearer <token>` header")
    return decode_session_token(value.strip())


# --- receipts ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cumulative:
    """A customer's usage of a service so far, as the enclave has counted it."""

    input_tokens: int = 0
    output_tokens: int = 0
    compute_ms: int = 0

    def __post_init__(self) -> None:
        for name in ("input_tokens", "output_tokens", "compute_ms"):
            _uint(getattr(self, name), f"cumulative.{name}", ReceiptMalformed)

    def plus(self, input_tokens: int, output_tokens: int, compute_ms: int) -> Cumulative:
        return Cumulative(
            self.input_tokens + input_tokens,
            self.output_tokens + output_tokens,
            self.compute_ms + compute_ms,
        )

    @classmethod
    def of_voucher(cls, voucher: Voucher) -> Cumulative:
        return cls(voucher.input_tokens, voucher.output_tokens, voucher.compute_ms)


@dataclass(frozen=True)
class Receipt:
    """The enclave's signature over one exchange: what was asked, answered, and what it cost."""

    service_id: str
    enclave: str
    customer: str
    sequence: int
    method: str
    path: str
    request_sha256: str
    response_sha256: str
    model_hash: str
    prompt_tokens: int
    completion_tokens: int
    compute_ms: int
    cumulative: Cumulative
    created_at: int
    signature: str = ""

    def __post_init__(self) -> None:
        err, set_ = ReceiptMalformed, object.__setattr__
        for name in ("service_id", "request_sha256", "response_sha256", "model_hash"):
            _hash(getattr(self, name), name, err)
        set_(self, "enclave", _address(self.enclave, "enclave", err))
        set_(self, "customer", _address(self.customer, "customer", err))
        for name in ("sequence", "prompt_tokens", "completion_tokens", "compute_ms", "created_at"):
            _uint(getattr(self, name), name, err)
        _text(self.method, "method", err)
        _text(self.path, "path", err)
        if not isinstance(self.cumulative, Cumulative):
            raise err("cumulative must be a Cumulative")
        set_(self, "signature", _signature(self.signature, err))

    def to_json(self) -> dict[str, Any]:
        return {"version": VERSION, **asdict(self)}

    @classmethod
    def from_json(cls, value: object) -> Receipt:
        obj = dict(_object(value, _names(cls), "receipt", ReceiptMalformed))
        cumulative = _object(
            obj["cumulative"], _names(Cumulative) - {"version"}, "cumulative", ReceiptMalformed
        )
        obj["cumulative"] = Cumulative(**cumulative)
        return cls(**{k: v for k, v in obj.items() if k != "version"})

    def signing_bytes(self) -> bytes:
        return signing_bytes(RECEIPT_DOMAIN, self.to_json())


def sign_receipt(account: LocalAccount, receipt: Receipt) -> Receipt:
    """``receipt`` signed by ``account``, which must be its ``enclave``."""
    if str(to_checksum_address(account.address)) != receipt.enclave:
        raise ReceiptForged("a receipt is signed by the enclave it names")
    return replace(receipt, signature=sign_bytes(account, receipt.signing_bytes()))


def verify_receipt_signature(receipt: Receipt, *, enclave: str) -> None:
    """:class:`ReceiptForged` unless ``receipt`` names and is signed by ``enclave``."""
    signer = _recover(receipt.signing_bytes(), receipt.signature)
    expected = _address(enclave, "enclave", ReceiptMalformed)
    if receipt.enclave != expected or signer is None or signer != expected:
        raise ReceiptForged("the receipt is not signed by the service's enclave")


def encode_receipt_header(receipt: Receipt) -> str:
    """The ``enclava-receipt`` header value of a non-streamed response."""
    return b64url_encode(canonical_json(receipt.to_json()))


def decode_receipt_header(text: str) -> Receipt:
    raw = b64url_decode(text, ReceiptMalformed)
    return Receipt.from_json(_json(raw, "receipt", ReceiptMalformed))


def receipt_event(receipt: Receipt) -> bytes:
    """The SSE block that carries a stream's receipt (sent right before :data:`DONE_EVENT`)."""
    return _RECEIPT_EVENT_PREFIX + canonical_json(receipt.to_json()) + b"\n\n"


def is_receipt_event(block: bytes) -> bool:
    """Whether an SSE block (as :class:`SseSplitter` yields it) is the receipt event."""
    return block.startswith(_RECEIPT_EVENT_PREFIX)


def parse_receipt_event(block: bytes) -> Receipt:
    """The receipt of a :func:`receipt_event` block (:class:`ReceiptMalformed`)."""
    if not is_receipt_event(block) or not block.endswith(b"\n\n"):
        raise ReceiptMalformed("the block is not an enclava-receipt event")
    data = block[len(_RECEIPT_EVENT_PREFIX) : -2]
    if b"\n" in data:
        raise ReceiptMalformed("the receipt event must carry one data line")
    return Receipt.from_json(_json(data, "receipt", ReceiptMalformed))


class SseSplitter:
    """Cuts a byte stream into SSE blocks (each ending ``\\n\\n``) as the bytes arrive."""

    def __init__(self) -> None:
        self._buffer = b""

    def feed(self, chunk: bytes) -> list[bytes]:
        """The blocks ``chunk`` completes, each with its terminating blank line, in order."""
        self._buffer += chunk
        blocks: list[bytes] = []
        while (end := self._buffer.find(b"\n\n")) >= 0:
            blocks.append(self._buffer[: end + 2])
            self._buffer = self._buffer[end + 2 :]
        return blocks

    @property
    def rest(self) -> bytes:
        """Bytes after the last complete block (empty at a clean end of stream)."""
        return self._buffer


def check_receipt(
    receipt: Receipt,
    *,
    enclave: str,
    service_id: str,
    customer: str,
    model_hash: str,
    method: str,
    path: str,
    request_body: bytes,
    response_sha256: str,
    after_sequence: int,
    previous: Cumulative,
) -> None:
    """Every check one exchange's receipt must pass, in this order; each a typed refusal.

    ``after_sequence`` is the sequence of the last verified receipt (0 before the first) and
    ``previous`` the cumulative counts after it (the last vouched counts before the first): the
    receipt's cumulative counts must be exactly ``previous`` plus its own counts.
    """
    verify_receipt_signature(receipt, enclave=enclave)
    if receipt.service_id != service_id:
        raise ReceiptServiceMismatch("the receipt is for another service")
    if receipt.customer != _address(customer, "customer", ReceiptMalformed):
        raise ReceiptCustomerMismatch("the receipt is for another customer")
    if receipt.sequence <= after_sequence:
        raise ReceiptSequenceInvalid(
            f"receipt sequence {receipt.sequence} is not above the last one ({after_sequence})"
        )
    if (
        receipt.method.upper() != method.upper()
        or receipt.path != path
        or receipt.request_sha256 != sha256_hex(request_body)
    ):
        raise ReceiptRequestMismatch("the receipt is not over the request that was sent")
    if receipt.response_sha256 != response_sha256:
        raise ReceiptResponseMismatch("the response received is not the one the enclave signed")
    if receipt.model_hash != model_hash:
        raise ReceiptModelMismatch("the receipt names another model than the service's")
    expected = previous.plus(receipt.prompt_tokens, receipt.completion_tokens, receipt.compute_ms)
    if receipt.cumulative != expected:
        raise ReceiptCountsInvalid(
            "the receipt's cumulative counts are not the previous counts plus this response's"
        )


# --- vouchers ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SignedVoucher:
    """A customer's cumulative voucher and its EIP-712 signature (header ``enclava-voucher``)."""

    voucher: Voucher
    signature: str

    def to_json(self) -> dict[str, Any]:
        return {**self.voucher.to_json(), "signature": self.signature}

    @classmethod
    def from_json(cls, value: object) -> SignedVoucher:
        names = frozenset(f.name for f in fields(Voucher)) | {"signature"}
        if not isinstance(value, dict) or set(value) != names:
            raise VoucherHeaderMalformed("the voucher's fields are not the Voucher's and signature")
        signature = _signature(value["signature"], VoucherHeaderMalformed)
        if not signature:
            raise VoucherHeaderMalformed("the voucher is not signed")
        try:
            voucher = Voucher.from_json({k: v for k, v in value.items() if k != "signature"})
        except VoucherInvalid as exc:
            raise VoucherHeaderMalformed(f"the voucher is malformed: {exc.message}") from exc
        return cls(voucher, signature)


def sign_voucher_envelope(
    account: LocalAccount,
    terms: ServiceTerms,
    counts: Cumulative,
    *,
    chain_id: int,
    contract: str,
) -> SignedVoucher:
    """The customer's voucher for cumulative ``counts``, priced by ``terms`` and signed."""
    voucher = voucher_for(
        terms, account.address, counts.input_tokens, counts.output_tokens, counts.compute_ms
    )
    return SignedVoucher(
        voucher, sign_voucher(account, voucher, chain_id=chain_id, contract=contract)
    )


def verify_voucher_envelope(signed: SignedVoucher, *, chain_id: int, contract: str) -> None:
    """:class:`VoucherForged` unless the voucher is signed by its own customer (EOA)."""
    try:
        signer = recover_voucher_signer(
            signed.voucher, signed.signature, chain_id=chain_id, contract=contract
        )
    except VoucherInvalid as exc:
        raise VoucherForged("the voucher signature does not recover") from exc
    if signer != signed.voucher.customer:
        raise VoucherForged("the voucher is not signed by the customer it names")


def encode_voucher_header(signed: SignedVoucher) -> str:
    """The ``enclava-voucher`` header value."""
    return b64url_encode(canonical_json(signed.to_json()))


def decode_voucher_header(text: str) -> SignedVoucher:
    raw = b64url_decode(text, VoucherHeaderMalformed)
    return SignedVoucher.from_json(_json(raw, "voucher", VoucherHeaderMalformed))
