"""The key broker over HTTP, from an owner's or a customer's side: deposit keys, read the audit log.

Requests are built and signed by certification_authority.broker's own builders, so what is sent
is byte-for-byte what the broker verifies. CA refusals come back as :class:`BrokerRefused` with
the CA's error type; transport failures as :class:`BrokerUnavailable`.
"""

from __future__ import annotations

import time
from typing import Any

import httpx

from certification_authority.broker import build_audit_request, build_deposit_request, check_audit_view
from certification_authority.broker.signing import order_inputs_message, sign_text
from enclava.errors import EnclavaError
from enclava.service_http import refusal, send

__all__ = ["BrokerHttpClient", "BrokerRefused", "BrokerUnavailable"]


class BrokerUnavailable(EnclavaError):
    code = "broker_unavailable"
    hint = "Check the CA URL (`enclava devnet status` on the devnet)."


class BrokerRefused(EnclavaError):
    code = "broker_refused"
    hint = "Read the detail: the broker says which check refused the request."


class BrokerHttpClient:
    def __init__(self, base_url: str, *, timeout: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout)
        self._identity: dict[str, Any] | None = None

    def _call(self, method: str, path: str, **kwargs) -> Any:
        reply = send(self._http, method, path, BrokerUnavailable, **kwargs)
        if reply.status_code >= 400:
            raise refusal(reply, BrokerRefused, path)
        return reply.json()

    def identity(self) -> dict[str, Any]:
        if self._identity is None:
            self._identity = self._call("GET", "/v1/ca")
        return self._identity

    def deposit(self, owner, offer_id: int, resource_key: bytes, policy) -> dict[str, Any]:
        """Deposit ``resource_key`` for offer ``offer_id`` under ``policy`` (signed by ``owner``)."""
        ident = self.identity()
        request = build_deposit_request(owner, ident["age_recipient"], ident["ca_id"], offer_id, resource_key, policy)
        return self._call("POST", "/v1/keys/deposit", json=request.model_dump(mode="json"))

    def deposit_order_inputs(self, customer, order_id: str, input_key: bytes) -> dict[str, Any]:
        """Deposit the key of an order's own inputs; only that order's enclave can obtain it."""
        import base64
        import hashlib

        import pyrage
        from pyrage import x25519

        ident = self.identity()
        ciphertext = pyrage.encrypt(input_key, [x25519.Recipient.from_str(ident["age_recipient"])])
        issued_at = int(time.time())
        message = order_inputs_message(ca_id=ident["ca_id"], order_id=order_id,
                                       ciphertext_sha256=hashlib.sha256(ciphertext).hexdigest(), issued_at=issued_at)
        body = {"ca_id": ident["ca_id"], "order_id": order_id, "customer": customer.address,
                "ciphertext": base64.b64encode(ciphertext).decode(), "issued_at": issued_at,
                "signature": sign_text(customer, message)}
        return self._call("POST", "/v1/keys/order-inputs", json=body)

    def audit(self, owner, offer_id: int) -> dict[str, Any]:
        """The audit entries about ``offer_id``, verified as a hash chain before they are returned."""
        request = build_audit_request(owner, self.identity()["ca_id"], offer_id)
        view = self._call("POST", "/v1/audit", json=request.model_dump(mode="json"))
        check_audit_view(view)
        return view

    def close(self) -> None:
        self._http.close()
