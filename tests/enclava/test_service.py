"""Every service answers with one error shape and exposes /healthz and /metrics."""

from __future__ import annotations

from fastapi.testclient import TestClient

from enclava.errors import ContentNotFound
from enclava.service import create_service_app


def _app():
    app = create_service_app("test-service")

    @app.get("/missing")
    def missing():
        raise ContentNotFound("no such thing")

    @app.get("/boom")
    def boom():
        raise RuntimeError("secret internals 0xdeadbeef")

    @app.get("/typed/{n}")
    def typed(n: int):
        return {"n": n}

    return app


def test_enclava_errors_use_the_one_shape():
    client = TestClient(_app())
    reply = client.get("/missing")
    assert reply.status_code == 400
    assert reply.json() == {
        "type": "content_not_found",
        "detail": "no such thing",
        "hint": ContentNotFound.hint,
    }


def test_unexpected_errors_do_not_leak_internals():
    client = TestClient(_app(), raise_server_exceptions=False)
    reply = client.get("/boom")
    assert reply.status_code == 500
    assert reply.json()["type"] == "internal_error" and "deadbeef" not in reply.text


def test_validation_errors_are_typed():
    reply = TestClient(_app()).get("/typed/abc")
    assert reply.status_code == 422 and reply.json()["type"] == "invalid_request"


def test_health_and_metrics():
    client = TestClient(_app())
    assert client.get("/healthz").json()["status"] == "ok"
    client.get("/missing")
    assert 'enclava_errors_total{type="content_not_found"} 1.0' in client.get("/metrics").text
