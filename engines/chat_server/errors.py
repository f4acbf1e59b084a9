"""The serving engine's error types: a stable ``code``, a ``hint`` and the HTTP status a route
answers with, in OpenAI's error shape (:meth:`ChatServerError.to_openai`).

The engine runs inside the sandbox with nothing of ``enclava`` importable, so it has its own base
with the same contract as ``enclava.errors.EnclavaError``::

    ChatServerError                  code, hint, http_status
    ├── ModelLoadError               the model folder cannot be served (exit at start-up)
    │   ├── ModelFolderInvalid       not a folder, or no config.json / weights in it
    │   ├── NotACausalLM             the config is not a causal language model transformers knows
    │   └── TokenizerInvalid         no usable tokenizer files in the folder
    ├── DeviceUnavailable            --device cuda without a GPU torch can use
    ├── RequestInvalid               a request body the API refuses (400, names the parameter)
    │   ├── ParameterUnsupported     a valid OpenAI parameter this engine does not implement
    │   └── ContextTooLong           prompt + max_tokens exceed the model's context
    ├── ModelNotFound                the request names another model (404)
    ├── EngineOverloaded             too many requests waiting (503)
    └── EngineStopped                the scheduler stopped or failed (503)
"""

from __future__ import annotations

__all__ = [
    "ChatServerError",
    "ModelLoadError",
    "ModelFolderInvalid",
    "NotACausalLM",
    "TokenizerInvalid",
    "DeviceUnavailable",
    "RequestInvalid",
    "ParameterUnsupported",
    "ContextTooLong",
    "ModelNotFound",
    "EngineOverloaded",
    "EngineStopped",
]


class ChatServerError(Exception):
    """Base error: ``code`` is stable, ``hint`` says what to do, ``http_status`` is the answer."""

    code: str = "chat_server_error"
    hint: str = "See the engine's stderr for details."
    http_status: int = 500
    #: OpenAI's error ``type`` for this failure
    openai_type: str = "server_error"

    def __init__(self, message: str, *, hint: str | None = None, param: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        if hint is not None:
            self.hint = hint

    def to_openai(self) -> dict[str, dict[str, str | None]]:
        """``{"error": {"message", "type", "param", "code"}}``, as the OpenAI API answers."""
        return {
            "error": {
                "message": f"{self.message} ({self.hint})",
                "type": self.openai_type,
                "param": self.param,
                "code": self.code,
            }
        }

    def __str__(self) -> str:
        return f"{self.message} (hint: {self.hint})"


class ModelLoadError(ChatServerError):
    code = "model_load_failed"
    hint = "Give --model a Hugging Face causal-LM folder: config.json, *.safetensors, tokenizer."


class ModelFolderInvalid(ModelLoadError):
    code = "model_folder_invalid"


class NotACausalLM(ModelLoadError):
    code = "not_a_causal_lm"
    hint = "The folder's config.json must name a causal LM architecture (e.g. LlamaForCausalLM)."


class TokenizerInvalid(ModelLoadError):
    code = "tokenizer_invalid"
    hint = "Save the tokenizer into the model folder (tokenizer.json, tokenizer_config.json)."


class DeviceUnavailable(ChatServerError):
    code = "device_unavailable"
    hint = "Use --device cpu or --device auto where torch sees no GPU."


class RequestInvalid(ChatServerError):
    code = "invalid_request"
    hint = "Fix the named parameter; the API follows OpenAI's."
    http_status = 400
    openai_type = "invalid_request_error"


class ParameterUnsupported(RequestInvalid):
    code = "unsupported_parameter"
    hint = "Leave the parameter out or at its default; this engine does not implement it."


class ContextTooLong(RequestInvalid):
    code = "context_length_exceeded"
    hint = "Shorten the prompt or lower max_tokens."


class ModelNotFound(ChatServerError):
    code = "model_not_found"
    hint = "Ask GET /v1/models for the model this server serves."
    http_status = 404
    openai_type = "invalid_request_error"


class EngineOverloaded(ChatServerError):
    code = "engine_overloaded"
    hint = "Retry later; too many requests are waiting."
    http_status = 503


class EngineStopped(ChatServerError):
    code = "engine_stopped"
    hint = "The engine's scheduler is not running; restart the server."
    http_status = 503
