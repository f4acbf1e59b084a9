"""Structured logs: one JSON object per line, with secrets scrubbed before they are written.

Every service calls :func:`configure_logging` once. Fields whose names look like key material are
replaced by ``"[redacted]"``, so a careless ``extra={"private_key": ...}`` never reaches a file.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

__all__ = ["configure_logging", "get_logger", "JsonFormatter", "redact"]

_SECRET_MARKERS = ("key", "secret", "password", "plaintext", "seed", "mnemonic", "token")
_PUBLIC_NAMES = {"public_key", "pubkey", "enclave_public_key", "recipient_key", "spki"}
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


def redact(fields: dict[str, Any]) -> dict[str, Any]:
    """Return ``fields`` with every secret-looking value replaced."""
    clean: dict[str, Any] = {}
    for name, value in fields.items():
        lowered = name.lower()
        secret = (
            any(marker in lowered for marker in _SECRET_MARKERS) and lowered not in _PUBLIC_NAMES
        )
        clean[name] = "[redacted]" if secret else value
    return clean


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        extra = {
            k: v for k, v in vars(record).items() if k not in _STANDARD and not k.startswith("_")
        }
        payload.update(redact(extra))
        if record.exc_info and record.exc_info[0] is not None:
            payload["error"] = record.exc_info[0].__name__
        return json.dumps(payload, default=str, sort_keys=True)


def configure_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())


def get_logger(name: str) -> logging.Logger:
    return logging.getLogger(name)
