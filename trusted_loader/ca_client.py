"""The loader's HTTP client for the CA: challenge, certify, and key release.

Transport failures become :class:`CaUnavailable`; the CA's own error shape becomes the loader error
for that step (:class:`CertificationFailed`, :class:`KeyReleaseDenied`) carrying the CA's ``type``.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
from eth_account.messages import encode_defunct

from certification_authority.app import key_release_message
from enclava.service_http import error_body, send
from trusted_loader.errors import CaUnavailable, CertificationFailed, KeyReleaseDenied, LoaderError

__all__ = ["CaClient"]


class CaClient:
    def __init__(self, base_url: str, *, timeout: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout)
        self._identity: dict[str, Any] | None = None

    def _call(self, method: str, path: str, refusal: type[LoaderError], **kwargs) -> Any:
        reply = send(self._http, method, path, CaUnavailable, **kwargs)
        if reply.status_code >= 500:
            raise CaUnavailable(f"the CA answered {reply.status_code} to {path}")
        if reply.status_code >= 400:
            body = error_body(reply)
            error = refusal(f"the CA refused {path}: {body.get('type')}: {body.get('detail')}")
            error.remote_type = body.get("type")
            raise error
        return reply.json()

    def identity(self) -> dict[str, Any]:
        if self._identity is None:
            self._identity = self._call("GET", "/v1/ca", CaUnavailable)
        return self._identity

    @property
    def ca_id(self) -> str:
        return self.identity()["ca_id"]

    def challenge(self) -> str:
        return self._call("POST", "/v1/challenge", CertificationFailed)["nonce"]

    def certify(self, body: dict[str, Any]) -> dict[str, Any]:
        return self._call("POST", "/v1/certify", CertificationFailed, json=body)

    def release_keys(self, *, certificate_pem: str, enclave_account, order_id: str) -> list[dict[str, Any]]:
        """Ask for an order's keys with a request signed by the certified enclave key."""
        issued_at = int(time.time())
        message = key_release_message(self.ca_id, order_id, issued_at)
        signature = enclave_account.sign_message(encode_defunct(text=message)).signature
        body = {"certificate_pem": certificate_pem, "order_id": order_id, "issued_at": issued_at,
                "signature": "0x" + bytes(signature).hex()}
        return self._call("POST", "/v1/keys/release", KeyReleaseDenied, json=body)

    def close(self) -> None:
        self._http.close()
