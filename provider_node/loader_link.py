"""The provider's side of the CVM boundary: start the trusted loader as its own program and talk
to it through the narrow interface of enclava.protocol.loader_api, over a local socket.

The loader gets its own settings (``LOADER_*``: endpoints, the provider's *address*, the TEE kind)
and a clean environment: the provider's wallet, its config file and every ``PROVIDER_*`` variable
stay out of it. The node's wallet only signs the consent the loader asks for (that this enclave
runs on the provider's machine) and the transactions that publish what the loader signed.
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from enclava.logs import get_logger
from enclava.protocol.loader_api import SignedOutcome, outcome_from_json
from provider_node.errors import (
    LoaderCertificationRequired,
    LoaderLinkError,
    LoaderRefused,
    LoaderUnavailable,
)

__all__ = ["LoaderLink", "loader_environment", "loader_socket_dir", "loader_error"]

log = get_logger("provider_node.loader_link")

#: Renew the enclave's certificate when less than this is left of it.
RENEW_MARGIN_S = 120
_START_TIMEOUT_S = 90.0
_KEEP_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "PYTHONPATH", "ENCLAVA_CACHE")


def loader_environment(
    values: dict[str, str], base: dict[str, str] | None = None
) -> dict[str, str]:
    """The loader's whole environment: a few neutral variables of the host plus ``LOADER_*``."""
    base = dict(os.environ) if base is None else base
    env = {k: v for k, v in base.items() if k in _KEEP_ENV}
    env.update({f"LOADER_{k.upper()}": str(v) for k, v in values.items()})
    return env


def loader_socket_dir(folder: Path) -> Path:
    """A short folder (0700) for the loaders' sockets of the node whose loader folder is ``folder``:
    a Unix socket's path must fit in 107 bytes, which a provider's state folder need not."""
    digest = hashlib.sha256(str(Path(folder).resolve()).encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"enclava-loader-{digest}"


#: Answer types of the loader (its ``trusted_loader.errors`` codes on the wire) that have a class of
#: their own here; any other type is sorted by the answer's status (503: retry later; 4xx: refused).
_BY_TYPE: dict[str, type[LoaderLinkError]] = {
    "certification_required": LoaderCertificationRequired,
}


def loader_error(path: str, status: int, body: dict[str, Any]) -> LoaderLinkError | None:
    """The one place the loader's ``{"type", "detail"}`` answers become exception classes: ``None``
    for a success, else the class the caller decides by (never by the wire string)."""
    if status < 400:
        return None
    kind = str(body.get("type", ""))
    detail = f"{kind}: {body.get('detail')}"
    error_class = _BY_TYPE.get(kind)
    if error_class is not None:
        return error_class(f"the trusted loader answered {path} with {detail}")
    if status == 503:
        return LoaderUnavailable(f"the trusted loader cannot reach what {path} needs: {detail}")
    return LoaderRefused(f"the trusted loader refused {path}: {detail}", remote_type=kind)


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


class LoaderLink:
    """One trusted-loader process for this worker process, started on first use."""

    def __init__(
        self, values: dict[str, Any], *, folder: Path, consent: Callable[[str, str], str]
    ) -> None:
        self._values = {k: json.dumps(v) if isinstance(v, dict) else v for k, v in values.items()}
        self._folder = folder
        self._consent = consent
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        self._http: httpx.Client | None = None

    @property
    def socket(self) -> Path:
        return loader_socket_dir(self._folder) / f"{os.getpid()}.sock"

    # ------------------------------------------------------------------ process

    def _start(self) -> httpx.Client:
        if self._http is not None and self._process is not None and self._process.poll() is None:
            return self._http
        self.close()
        self._folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.socket.parent.mkdir(exist_ok=True, mode=0o700)
        os.chmod(self.socket.parent, 0o700)
        env = loader_environment({**self._values, "socket": str(self.socket)})
        out = open(self._folder / f"loader-{os.getpid()}.log", "ab")
        self._process = subprocess.Popen(
            [sys.executable, "-m", "trusted_loader.main"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            preexec_fn=_die_with_parent,
        )
        out.close()
        http = httpx.Client(
            transport=httpx.HTTPTransport(uds=str(self.socket)),
            base_url="http://loader",
            timeout=httpx.Timeout(30.0, read=None),
        )
        deadline = time.monotonic() + _START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise LoaderUnavailable(
                    f"the trusted loader exited with {self._process.returncode} at start"
                )
            try:
                if self.socket.exists() and http.get("/healthz").status_code == 200:
                    self._http = http
                    log.info("trusted loader started", extra={"pid": self._process.pid})
                    return http
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise LoaderUnavailable("the trusted loader did not come up in time")

    def close(self) -> None:
        if self._http is not None:
            self._http.close()
            self._http = None
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
        self._process = None
        self.socket.unlink(missing_ok=True)

    # ------------------------------------------------------------------ calls

    def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        http = self._start()
        try:
            reply = http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise LoaderUnavailable(
                f"the trusted loader did not answer {path}: {type(exc).__name__}"
            ) from exc
        try:
            body: dict[str, Any] = reply.json()
        except ValueError:
            body = {"type": "invalid_answer", "detail": reply.text[:200]}
        error = loader_error(path, reply.status_code, body)
        if error is not None:
            raise error
        return body

    def status(self) -> dict[str, Any]:
        return self._call("GET", "/v1/enclave")

    def certify(self) -> dict[str, Any]:
        """Consent request, the provider's consent signature, certification: the enclave's keys stay
        inside."""
        request = self._call("POST", "/v1/enclave/consent-request")
        signature = self._consent(request["enclave"], request["nonce"])
        status = self._call(
            "POST",
            "/v1/enclave/certify",
            json={"nonce": request["nonce"], "provider_signature": signature},
        )
        log.info(
            "enclave certified",
            extra={"enclave": status.get("enclave"), "expires_at": status.get("expires_at")},
        )
        return status

    def ensure_certified(self) -> dict[str, Any]:
        with self._lock:
            status = self.status()
            if (
                not status.get("certified")
                or int(status.get("expires_at") or 0) - time.time() < RENEW_MARGIN_S
            ):
                status = self.certify()
            return status

    def _outcome(self, path: str) -> SignedOutcome:
        self.ensure_certified()
        try:
            body = self._call("POST", path)
        except LoaderCertificationRequired:
            # the certificate lapsed between the check and the call: renew once
            with self._lock:
                self.certify()
            try:
                body = self._call("POST", path)
            except LoaderCertificationRequired as exc:
                raise LoaderUnavailable(
                    "the trusted loader still has no certificate after renewing it"
                ) from exc
        return outcome_from_json(body)

    def execute(self, order_id: str) -> SignedOutcome:
        """Run ``order_id`` in the enclave; the outcome is signed by the enclave, not by this
        process."""
        return self._outcome(f"/v1/orders/{order_id}/execute")

    def timeout(self, order_id: str) -> SignedOutcome:
        """A timeout failure signed by the enclave, which agrees only once the order's window has
        closed."""
        return self._outcome(f"/v1/orders/{order_id}/timeout")

    # ------------------------------------------------------------------ services

    def start_service(self, service_id: str, start: dict[str, Any]) -> dict[str, Any]:
        """Serve ``service_id`` in the (certified) enclave; the answer is its signed statement.
        ``start`` says where customers reach it: ``hosts``, ``port``, ``model_name``."""
        self.ensure_certified()
        return self._call("POST", f"/v1/services/{service_id}", json=start)

    def service_vouchers(self, service_id: str) -> list[dict[str, Any]]:
        """Each customer's latest voucher the enclave verified (signed by the customer)."""
        body = self._call("GET", f"/v1/services/{service_id}/vouchers")
        vouchers: list[dict[str, Any]] = body["vouchers"]
        return vouchers

    def stop_service(self, service_id: str) -> bool:
        return bool(self._call("DELETE", f"/v1/services/{service_id}")["stopped"])
