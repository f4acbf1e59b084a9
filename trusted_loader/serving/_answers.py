"""What the proxy makes of the engine's answers: refusals in the OpenAI shape, ``usage`` counts,
SSE blocks, elapsed compute time. Nothing here keeps or logs what it reads."""

from __future__ import annotations

import json
import math
import time
from typing import Any

from fastapi.responses import JSONResponse

from trusted_loader.serving.errors import EngineRequestFailed, ServingError, SessionRefused

__all__ = ["error_response", "engine_error", "usage_of", "data_json", "is_done", "elapsed_ms"]

_MAX_ENGINE_MESSAGE = 1000


def error_response(error: ServingError) -> JSONResponse:
    headers = {"www-authenticate": "Bearer"} if isinstance(error, SessionRefused) else None
    return JSONResponse(error.openai_error(), status_code=error.http_status, headers=headers)


def engine_error(status: int, content: bytes) -> JSONResponse:
    """The engine's refusal in the OpenAI shape; nothing but its code survives a 5xx."""
    error: Any = None
    try:
        error = json.loads(content).get("error")
    except (ValueError, AttributeError):
        pass
    code = error.get("code") if isinstance(error, dict) else None
    code = code if isinstance(code, str) and len(code) <= 64 else "engine_error"
    if 400 <= status < 500 and isinstance(error, dict):
        param = error.get("param")
        shaped = {
            "error": {
                "message": str(error.get("message", ""))[:_MAX_ENGINE_MESSAGE],
                "type": str(error.get("type", "invalid_request_error"))[:64],
                "param": param if isinstance(param, str) else None,
                "code": code,
            }
        }
        return JSONResponse(shaped, status_code=status)
    failure = EngineRequestFailed(f"the engine could not answer ({status}, {code})")
    body = failure.openai_error()
    if status == 503:  # overloaded or stopping: the client may retry
        body["error"]["code"] = code
        return JSONResponse(body, status_code=503)
    return JSONResponse(body, status_code=failure.http_status)


def usage_of(obj: Any) -> tuple[int, int] | None:
    usage = obj.get("usage") if isinstance(obj, dict) else None
    if not isinstance(usage, dict):
        return None
    prompt, completion = usage.get("prompt_tokens"), usage.get("completion_tokens")
    if not all(
        isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in (prompt, completion)
    ):
        return None
    return int(prompt), int(completion)  # type: ignore[arg-type]


def data_json(block: bytes) -> Any:
    """The JSON of an SSE block's ``data:`` line, or None."""
    for line in block.split(b"\n"):
        if line.startswith(b"data:"):
            try:
                return json.loads(line[5:].strip())
            except ValueError:
                return None
    return None


def is_done(block: bytes) -> bool:
    return block.strip() == b"data: [DONE]"


def elapsed_ms(started: float) -> int:
    return max(0, math.ceil((time.perf_counter() - started) * 1000))
