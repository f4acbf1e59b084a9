"""Errors carry a stable code and a hint; logs are JSON lines with secrets scrubbed."""

from __future__ import annotations

import json
import logging

from enclava.errors import ContentNotFound, EnclavaError, IntegrityError, StorageError
from enclava.logs import JsonFormatter, redact


def test_errors_carry_code_hint_and_one_shape():
    error = IntegrityError("hash mismatch")
    assert isinstance(error, StorageError) and isinstance(error, EnclavaError)
    assert error.to_dict() == {
        "type": "integrity_error",
        "detail": "hash mismatch",
        "hint": error.hint,
    }
    assert "hint:" in str(error)
    assert ContentNotFound("x", hint="try again").hint == "try again"


def test_redact_hides_secret_fields_but_keeps_public_keys():
    clean = redact(
        {
            "private_key": "0xabc",
            "password": "p",
            "order_id": 7,
            "public_key": "04ab",
            "plaintext_len": 3,
        }
    )
    assert clean == {
        "private_key": "[redacted]",
        "password": "[redacted]",
        "order_id": 7,
        "public_key": "04ab",
        "plaintext_len": "[redacted]",
    }


def test_json_formatter_writes_one_object_per_line_without_secrets():
    record = logging.LogRecord("enclava.test", logging.INFO, __file__, 1, "key released", (), None)
    record.order_id = 42
    record.wrapped_key = "deadbeef"
    line = JsonFormatter().format(record)
    payload = json.loads(line)
    assert payload["event"] == "key released" and payload["order_id"] == 42
    assert payload["wrapped_key"] == "[redacted]" and "deadbeef" not in line
