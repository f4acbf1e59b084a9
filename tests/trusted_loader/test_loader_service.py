"""The loader's local interface: what the host may ask, and how refusals come back (unit tests with
stand-ins for the identity and the order context; the real loader runs in tests/adversarial)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from fastapi.testclient import TestClient

import trusted_loader.service as service
from enclava.errors import ChainError
from trusted_loader.errors import CaUnavailable, CertificationRequired

ORDER = "0x" + "ab" * 32


class _Identity:
    provider = "0x" + "22" * 20
    current = None

    def __init__(self, error: Exception | None = None) -> None:
        self.error = error

    def begin(self) -> tuple[str, str]:
        if self.error:
            raise self.error
        return "0x" + "11" * 20, "cd" * 32


@pytest.fixture
def client_with(monkeypatch):
    def make(identity: _Identity | None = None, produce=None) -> TestClient:
        if produce is not None:
            monkeypatch.setattr(service, "execute_order", produce)
            monkeypatch.setattr(service, "sign_timeout", produce)
        app = service.build_loader_app(
            identity or _Identity(), SimpleNamespace(), measurement=b"\x01" * 48
        )
        return TestClient(app)

    return make


def test_status_shows_only_public_facts(client_with):
    body = client_with().get("/v1/enclave").json()
    assert body == {
        "provider": _Identity.provider,
        "measurement": "0x" + "01" * 48,
        "enclave": None,
        "certified": False,
        "expires_at": 0,
        "tee_type": None,
        "simulated": None,
    }


@pytest.mark.parametrize("path", ["execute", "timeout"])
def test_a_malformed_order_id_is_a_422(client_with, path):
    reply = client_with().post(f"/v1/orders/0x12/{path}")
    assert reply.status_code == 422 and reply.json()["type"] == "invalid_request"


@pytest.mark.parametrize(
    "error, status",
    [
        (CertificationRequired("no certificate"), 409),
        (CaUnavailable("down"), 503),
        (ChainError("rpc down"), 503),
    ],
)
def test_refusals_tell_the_host_whether_to_renew_or_retry(client_with, error, status):
    def produce(_ctx, _order_id):
        raise error

    for path in ("execute", "timeout"):
        reply = client_with(produce=produce).post(f"/v1/orders/{ORDER}/{path}")
        assert reply.status_code == status
        assert reply.json()["type"] == error.code


def test_consent_request_names_the_enclave_and_nonce_only(client_with):
    assert client_with().post("/v1/enclave/consent-request").json() == {
        "enclave": "0x" + "11" * 20,
        "nonce": "cd" * 32,
        "provider": _Identity.provider,
    }
    assert (
        client_with(_Identity(CaUnavailable("down")))
        .post("/v1/enclave/consent-request")
        .status_code
        == 503
    )


def test_certify_refuses_a_malformed_consent(client_with):
    reply = client_with().post(
        "/v1/enclave/certify", json={"nonce": "zz", "provider_signature": "0x00"}
    )
    assert reply.status_code == 422
