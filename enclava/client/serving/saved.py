"""A verified exchange saved to a file, and checked again offline (``enclava service verify``).

The file is JSON::

    {"format": "enclava-saved-response-v1",
     "statement": {... the service statement, signed by the enclave ...},
     "request": {"method", "path", "body_b64"},  "response_b64",  "streamed",
     "receipt": {... the enclave's receipt ...}}

:func:`verify_saved_response` needs no network: the statement must be signed by its enclave, the
receipt by the same enclave for the statement's service and model, over exactly the saved request
and response bytes, with counts consistent with its cumulative counts and the response's ``usage``.
With the attested CA's certificate it also checks that the enclave's certificate chains to it (at
the receipt's time). What it cannot check offline is the chain (revocation since), and the
sequence against other receipts.
"""

from __future__ import annotations

import base64
import binascii
import json
from pathlib import Path
from typing import Any

from enclava.client.serving._certificates import read_enclave_certificate
from enclava.client.serving._receipts import block_usage, check_usage, prior_counts, usage_of
from enclava.client.serving.errors import EnclaveCertificateRefused, SavedResponseInvalid
from enclava.client.serving.transport import Exchange
from enclava.protocol.errors import ServingMessageMalformed
from enclava.protocol.serving import (
    Receipt,
    ServiceStatement,
    SseSplitter,
    check_receipt,
    sha256_hex,
    verify_statement,
)

__all__ = ["SAVED_FORMAT", "save_response", "load_saved_response", "verify_saved_response"]

SAVED_FORMAT = "enclava-saved-response-v1"
_FIELDS = frozenset({"format", "statement", "request", "response_b64", "streamed", "receipt"})
_REQUEST_FIELDS = frozenset({"method", "path", "body_b64"})


def save_response(exchange: Exchange, path: str | Path) -> Path:
    """Write ``exchange`` (one entry of ``ServiceTransport.journal``) to ``path``."""
    document = {
        "format": SAVED_FORMAT,
        "statement": exchange.statement.to_json(),
        "request": {
            "method": exchange.method,
            "path": exchange.path,
            "body_b64": base64.b64encode(exchange.request_body).decode("ascii"),
        },
        "response_b64": base64.b64encode(exchange.response_body).decode("ascii"),
        "streamed": exchange.streamed,
        "receipt": exchange.receipt.to_json(),
    }
    target = Path(path)
    target.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return target


def _b64(value: object, what: str) -> bytes:
    if not isinstance(value, str):
        raise SavedResponseInvalid(f"the saved {what} is not base64 text")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise SavedResponseInvalid(f"the saved {what} is not base64") from exc


def load_saved_response(path: str | Path) -> Exchange:
    """Parse a saved response strictly (:class:`SavedResponseInvalid`); verifies nothing yet."""
    try:
        document: Any = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise SavedResponseInvalid(f"cannot read a saved response from {path}") from exc
    if not isinstance(document, dict) or set(document) != _FIELDS:
        raise SavedResponseInvalid(f"a saved response has exactly the fields {sorted(_FIELDS)}")
    if document["format"] != SAVED_FORMAT or not isinstance(document["streamed"], bool):
        raise SavedResponseInvalid(f"the file is not in the {SAVED_FORMAT} format")
    request = document["request"]
    if not isinstance(request, dict) or set(request) != _REQUEST_FIELDS:
        raise SavedResponseInvalid(f"the saved request has exactly {sorted(_REQUEST_FIELDS)}")
    if not isinstance(request["method"], str) or not isinstance(request["path"], str):
        raise SavedResponseInvalid("the saved request's method and path are strings")
    try:
        statement = ServiceStatement.from_json(document["statement"])
        receipt = Receipt.from_json(document["receipt"])
    except ServingMessageMalformed as exc:
        raise SavedResponseInvalid(f"the saved response is malformed: {exc.message}") from exc
    return Exchange(
        method=request["method"],
        path=request["path"],
        request_body=_b64(request["body_b64"], "request body"),
        response_body=_b64(document["response_b64"], "response"),
        receipt=receipt,
        statement=statement,
        streamed=document["streamed"],
    )


def verify_saved_response(
    path: str | Path, *, ca_certificate_pem: str | None = None, customer: str | None = None
) -> Exchange:
    """The saved exchange at ``path``, once every offline check passes (each a typed refusal).

    ``customer``, when given, must be the receipt's customer; ``ca_certificate_pem``, when given,
    must have issued the statement's enclave certificate.
    """
    exchange = load_saved_response(path)
    statement, receipt = exchange.statement, exchange.receipt
    verify_statement(statement)
    if ca_certificate_pem is not None:
        facts = read_enclave_certificate(
            statement.enclave_certificate,
            ca_certificate_pem=ca_certificate_pem,
            now=receipt.created_at,
        )
        if facts.enclave != statement.enclave:
            raise EnclaveCertificateRefused("the enclave certificate certifies another key")
    check_receipt(
        receipt,
        enclave=statement.enclave,
        service_id=statement.service_id,
        customer=receipt.customer if customer is None else customer,
        model_hash=statement.model_hash,
        method=exchange.method,
        path=exchange.path,
        request_body=exchange.request_body,
        response_sha256=sha256_hex(exchange.response_body),
        after_sequence=0,
        previous=prior_counts(receipt),
    )
    check_usage(receipt, _usage(exchange))
    return exchange


def _usage(exchange: Exchange) -> dict[str, Any] | None:
    if not exchange.streamed:
        return usage_of(exchange.response_body)
    usage = None
    for block in SseSplitter().feed(exchange.response_body):
        usage = block_usage(block) or usage
    return usage
