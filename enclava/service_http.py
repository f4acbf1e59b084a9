"""Talking to another Enclava service over HTTP: transport failures and the services' one error
shape (``{"type", "detail", "hint"}``) turned into the caller's own typed errors."""

from __future__ import annotations

from typing import Any

import httpx

from enclava.errors import EnclavaError

__all__ = ["send", "error_body", "refusal"]


def send(
    http: httpx.Client, method: str, path: str, unavailable: type[EnclavaError], **kwargs: Any
) -> httpx.Response:
    """The response, or ``unavailable`` when the service cannot be reached at all."""
    try:
        return http.request(method, path, **kwargs)
    except httpx.HTTPError as exc:
        raise unavailable(f"cannot reach {http.base_url}: {type(exc).__name__}") from exc


def error_body(reply: httpx.Response) -> dict[str, Any]:
    """The service's error shape; a body that is not JSON becomes ``http_<status>`` with its
    start."""
    try:
        body = reply.json()
    except ValueError:
        return {"type": f"http_{reply.status_code}", "detail": reply.text[:200]}
    return (
        body
        if isinstance(body, dict)
        else {"type": f"http_{reply.status_code}", "detail": str(body)[:200]}
    )


def refusal(reply: httpx.Response, error_type: type[EnclavaError], what: str) -> EnclavaError:
    """``error_type`` for a 4xx/5xx answer, carrying the service's error type (``remote_type``),
    detail, hint and HTTP status, so the caller can raise it or look at why it was refused."""
    body = error_body(reply)
    error = error_type(f"{what}: {body.get('type')}: {body.get('detail')}", hint=body.get("hint"))
    error.remote_type = body.get("type")
    error.status_code = reply.status_code
    return error
