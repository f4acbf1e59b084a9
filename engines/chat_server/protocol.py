"""Parsing OpenAI request bodies into a :class:`Job` (prompt token ids + sampling) and building
OpenAI response bodies and stream chunks. Every refusal is a :class:`RequestInvalid` (400)
that names the parameter; nothing here logs."""

from __future__ import annotations

import dataclasses
import json
import time
import uuid
from typing import Any

from .errors import ContextTooLong, ModelNotFound, ParameterUnsupported, RequestInvalid
from .loading import LoadedModel
from .sampling import SamplingParams

__all__ = ["Job", "parse_body", "parse_chat", "parse_completion"]

_MAX_STOPS = 4
_ROLES = frozenset({"system", "developer", "user", "assistant", "tool"})
# Parameters OpenAI accepts that this engine does not implement, with the value that means "off".
_UNSUPPORTED_UNLESS: dict[str, tuple[Any, ...]] = {
    "presence_penalty": (None, 0, 0.0),
    "frequency_penalty": (None, 0, 0.0),
    "logit_bias": (None, {}),
    "logprobs": (None, False),
    "top_logprobs": (None, 0),
    "tools": (None, []),
    "tool_choice": (None, "none"),
    "functions": (None, []),
    "function_call": (None, "none"),
    "best_of": (None, 1),
    "echo": (None, False),
    "suffix": (None, ""),
    "audio": (None,),
    "modalities": (None, ["text"]),
    "prediction": (None,),
}


@dataclasses.dataclass(frozen=True)
class Job:
    """A parsed request: what the scheduler runs and how the answer is shaped."""

    kind: str  # "chat" | "completion"
    prompt_ids: list[int]
    params: SamplingParams
    stream: bool
    include_usage: bool
    request_id: str
    created: int


def parse_body(raw: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise RequestInvalid("the request body is not valid JSON") from exc
    if not isinstance(body, dict):
        raise RequestInvalid("the request body must be a JSON object")
    return body


def _number(body: dict[str, Any], key: str, default: float, low: float, high: float) -> float:
    value = body.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise RequestInvalid(f"{key} must be a number", param=key)
    if not low <= float(value) <= high:
        raise RequestInvalid(f"{key} must be between {low} and {high}", param=key)
    return float(value)


def _integer(body: dict[str, Any], key: str) -> int | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise RequestInvalid(f"{key} must be an integer", param=key)
    return value


def _flag(body: dict[str, Any], key: str) -> bool:
    value = body.get(key, False)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise RequestInvalid(f"{key} must be true or false", param=key)
    return value


def _stops(body: dict[str, Any]) -> tuple[str, ...]:
    value = body.get("stop")
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(s, str) for s in value):
        raise RequestInvalid("stop must be a string or a list of strings", param="stop")
    if len(value) > _MAX_STOPS:
        raise RequestInvalid(f"stop takes at most {_MAX_STOPS} strings", param="stop")
    return tuple(s for s in value if s)


def _common(body: dict[str, Any], loaded: LoadedModel, prompt_ids: list[int], kind: str) -> Job:
    model = body.get("model")
    if model is not None and model != loaded.name:
        raise ModelNotFound(f"the model {str(model)[:100]!r} is not served here", param="model")
    for key, off in _UNSUPPORTED_UNLESS.items():
        if key in body and body[key] not in off:
            raise ParameterUnsupported(f"{key} is not supported", param=key)
    n = _integer(body, "n")
    if n is not None and n != 1:
        raise ParameterUnsupported("n must be 1", param="n")
    stream = _flag(body, "stream")
    options = body.get("stream_options")
    include_usage = False
    if options is not None:
        if not stream:
            raise RequestInvalid("stream_options needs stream: true", param="stream_options")
        if not isinstance(options, dict):
            raise RequestInvalid("stream_options must be an object", param="stream_options")
        include_usage = _flag(options, "include_usage")
    key = "max_completion_tokens" if body.get("max_completion_tokens") is not None else "max_tokens"
    max_tokens = _integer(body, key)
    room = loaded.context_length - len(prompt_ids)
    if not prompt_ids:
        raise RequestInvalid(
            "the prompt is empty", param="prompt" if kind == "completion" else "messages"
        )
    if room < 1:
        raise ContextTooLong(
            f"the prompt has {len(prompt_ids)} tokens; the context holds {loaded.context_length}",
            param="messages" if kind == "chat" else "prompt",
        )
    if max_tokens is None:
        max_tokens = room
    elif max_tokens < 1:
        raise RequestInvalid(f"{key} must be at least 1", param=key)
    elif max_tokens > room:
        raise ContextTooLong(
            f"{len(prompt_ids)} prompt tokens + {key} {max_tokens} exceed the context of "
            f"{loaded.context_length}",
            param=key,
        )
    seed = _integer(body, "seed")
    params = SamplingParams(
        max_tokens=max_tokens,
        temperature=_number(body, "temperature", 1.0, 0.0, 2.0),
        top_p=_number(body, "top_p", 1.0, 0.0, 1.0) or 1.0,
        seed=seed,
        stop=_stops(body),
        ignore_eos=_flag(body, "ignore_eos"),
    )
    prefix = "chatcmpl-" if kind == "chat" else "cmpl-"
    return Job(
        kind=kind,
        prompt_ids=prompt_ids,
        params=params,
        stream=stream,
        include_usage=include_usage,
        request_id=prefix + uuid.uuid4().hex,
        created=int(time.time()),
    )


def _content(message: dict[str, Any], index: int) -> str:
    content = message.get("content")
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for part in content:
            if not isinstance(part, dict) or part.get("type") != "text":
                raise ParameterUnsupported(
                    "only text content parts are supported", param=f"messages[{index}].content"
                )
            text = part.get("text")
            if not isinstance(text, str):
                raise RequestInvalid("a text part needs text", param=f"messages[{index}].content")
            parts.append(text)
        return "".join(parts)
    raise RequestInvalid("content must be a string or parts", param=f"messages[{index}].content")


def parse_chat(body: dict[str, Any], loaded: LoadedModel) -> Job:
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise RequestInvalid("messages must be a non-empty list", param="messages")
    rendered: list[dict[str, str]] = []
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            raise RequestInvalid("each message must be an object", param=f"messages[{i}]")
        role = message.get("role")
        if role not in _ROLES:
            raise RequestInvalid(f"unknown role {str(role)[:20]!r}", param=f"messages[{i}].role")
        rendered.append({"role": str(role), "content": _content(message, i)})
    tokenizer = loaded.tokenizer
    if not getattr(tokenizer, "chat_template", None):
        raise RequestInvalid(
            "this model has no chat template; use /v1/completions", param="messages"
        )
    try:
        text = tokenizer.apply_chat_template(rendered, tokenize=False, add_generation_prompt=True)
    except Exception as exc:  # the template refused the conversation (jinja raise_exception)
        raise RequestInvalid(
            f"the chat template refused the messages: {exc}", param="messages"
        ) from exc
    ids = tokenizer.encode(str(text), add_special_tokens=False)
    return _common(body, loaded, [int(i) for i in ids], "chat")


def parse_completion(body: dict[str, Any], loaded: LoadedModel) -> Job:
    prompt = body.get("prompt")
    if isinstance(prompt, list) and len(prompt) == 1 and isinstance(prompt[0], str | list):
        prompt = prompt[0]  # one prompt in a list
    if isinstance(prompt, str):
        ids = [int(i) for i in loaded.tokenizer.encode(prompt, add_special_tokens=True)]
    elif isinstance(prompt, list) and all(
        isinstance(t, int) and not isinstance(t, bool) for t in prompt
    ):
        vocab = int(loaded.model.config.get_text_config(decoder=True).vocab_size)
        if not all(0 <= t < vocab for t in prompt):
            raise RequestInvalid(f"token ids must be in 0..{vocab - 1}", param="prompt")
        ids = list(prompt)
    elif isinstance(prompt, list):
        raise ParameterUnsupported("one prompt per request (a string or token ids)", param="prompt")
    else:
        raise RequestInvalid("prompt must be a string or a list of token ids", param="prompt")
    return _common(body, loaded, ids, "completion")


# ---------------------------------------------------------------------------- responses


def usage(prompt_tokens: int, completion_tokens: int) -> dict[str, int]:
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }


def full_response(
    job: Job, model: str, text: str, reason: str, counts: dict[str, int]
) -> dict[str, Any]:
    if job.kind == "chat":
        choice: dict[str, Any] = {
            "index": 0,
            "message": {"role": "assistant", "content": text, "refusal": None},
            "logprobs": None,
            "finish_reason": reason,
        }
        kind = "chat.completion"
    else:
        choice = {"index": 0, "text": text, "logprobs": None, "finish_reason": reason}
        kind = "text_completion"
    return {
        "id": job.request_id,
        "object": kind,
        "created": job.created,
        "model": model,
        "choices": [choice],
        "usage": counts,
        "system_fingerprint": None,
    }


def chunk(
    job: Job, model: str, text: str | None, reason: str | None, *, first: bool = False
) -> dict[str, Any]:
    """One stream chunk; for chat the first carries the role, the last an empty delta."""
    if job.kind == "chat":
        delta: dict[str, Any] = {}
        if first:
            delta["role"] = "assistant"
        if text is not None:
            delta["content"] = text
        choice: dict[str, Any] = {
            "index": 0,
            "delta": delta,
            "logprobs": None,
            "finish_reason": reason,
        }
        kind = "chat.completion.chunk"
    else:
        choice = {"index": 0, "text": text or "", "logprobs": None, "finish_reason": reason}
        kind = "text_completion"
    body: dict[str, Any] = {
        "id": job.request_id,
        "object": kind,
        "created": job.created,
        "model": model,
        "choices": [choice],
        "system_fingerprint": None,
    }
    if job.include_usage:
        body["usage"] = None
    return body


def usage_chunk(job: Job, model: str, counts: dict[str, int]) -> dict[str, Any]:
    return {
        "id": job.request_id,
        "object": "chat.completion.chunk" if job.kind == "chat" else "text_completion",
        "created": job.created,
        "model": model,
        "choices": [],
        "usage": counts,
        "system_fingerprint": None,
    }
