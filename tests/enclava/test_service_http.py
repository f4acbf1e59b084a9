"""Answers of other Enclava services turned into the caller's typed errors."""

from __future__ import annotations

import httpx

from enclava.errors import EnclavaError
from enclava.service_http import refusal


class Refused(EnclavaError):
    code = "refused"
    hint = "the caller's own hint"


def test_refusal_carries_the_services_type_detail_hint_and_status():
    reply = httpx.Response(
        403, json={"type": "policy_denied", "detail": "engine not allowed", "hint": "ask the owner"}
    )
    error = refusal(reply, Refused, "/v1/keys")
    assert isinstance(error, Refused) and error.code == "refused"
    assert error.message == "/v1/keys: policy_denied: engine not allowed"
    assert (error.hint, error.remote_type, error.status_code) == (
        "ask the owner",
        "policy_denied",
        403,
    )


def test_refusal_of_a_body_that_is_not_json_keeps_the_callers_hint():
    error = refusal(httpx.Response(502, text="<html>bad gateway</html>"), Refused, "/v1/tail")
    assert error.remote_type == "http_502" and "bad gateway" in error.message
    assert error.hint == "the caller's own hint"
