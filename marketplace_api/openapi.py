"""What the OpenAPI document says about errors: every refusal is the one shape, whatever its status.

Declared as each operation's ``default`` response, so the docs (and schema-driven clients and
fuzzers) see ``{"type", "detail", "hint"}`` for 4xx/5xx instead of FastAPI's stock 422 body, which
this service never sends (``enclava.service`` turns validation errors into the one shape too).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

__all__ = ["ErrorBody", "ERROR_RESPONSES"]


class ErrorBody(BaseModel):
    type: str = Field(
        description='stable error code, e.g. "not_found", "invalid_request", "tail_url_refused"'
    )
    detail: str = Field(description="what was refused and why")
    hint: str = Field(description="what to do about it")


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    "default": {"model": ErrorBody, "description": "a refusal, in the one error shape"}
}
