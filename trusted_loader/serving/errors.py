"""Why the service enclave refuses a request or cannot serve.

    ServingError                    code, hint, http_status; the base
    ├── ServingSetupFailed          the service cannot start (TLS, settings, terms)
    ├── EngineUnavailable           the engine process did not start, died, or does not answer
    ├── SessionRefused        401   no, a malformed, forged, expired or another service's token
    ├── VoucherRefused        400   a voucher that is unsigned, another's, mispriced, or claims
    │                               more than the receipts showed
    ├── PaymentRequired       402   more than one response's usage is not vouched for
    ├── RequestRefused        400   a body the enclave cannot meter (not JSON, bad stream options)
    └── EngineRequestFailed   502   the engine answered with an error or broke off

Each answer to a customer is the OpenAI error shape (``{"error": {"message", "type", "code",
"param", "hint"}}``), so the ``openai`` client raises its usual errors; none carries a prompt or a
completion.
"""

from __future__ import annotations

from typing import Any

from enclava.errors import EnclavaError

__all__ = [
    "ServingError",
    "ServingSetupFailed",
    "EngineUnavailable",
    "SessionRefused",
    "VoucherRefused",
    "PaymentRequired",
    "RequestRefused",
    "EngineRequestFailed",
]


class ServingError(EnclavaError):
    code = "serving_error"
    hint = "See the service enclave's logs."
    http_status = 500
    #: the OpenAI error ``type`` this answers with
    openai_type = "server_error"

    def openai_error(self) -> dict[str, Any]:
        """The OpenAI error shape of this refusal (what the customer receives)."""
        return {
            "error": {
                "message": self.message,
                "type": self.openai_type,
                "code": self.code,
                "param": None,
                "hint": self.hint,
            }
        }


class ServingSetupFailed(ServingError):
    code = "serving_setup_failed"
    hint = "Check the service settings: host names, the service's lifetime, the model folder."


class EngineUnavailable(ServingError):
    code = "engine_unavailable"
    hint = "The serving engine did not start or stopped; the provider restarts the service."
    http_status = 503


class SessionRefused(ServingError):
    code = "session_refused"
    hint = (
        "Send 'Authorization: Bearer <session token>' signed by your wallet for this service's id, "
        "not expired (enclava.client.serving makes one)."
    )
    http_status = 401
    openai_type = "authentication_error"


class VoucherRefused(ServingError):
    code = "voucher_refused"
    hint = (
        "Sign a cumulative voucher for this service with your own wallet, for at most the counts "
        "the enclave's receipts showed, its amount priced by the service terms."
    )
    http_status = 400
    openai_type = "invalid_request_error"


class PaymentRequired(ServingError):
    code = "payment_required"
    hint = (
        "Send the voucher for the cumulative counts of your latest receipt in the "
        "'enclava-voucher' header; the enclave serves while at most one response is unvouched."
    )
    http_status = 402
    openai_type = "insufficient_quota"


class RequestRefused(ServingError):
    code = "request_refused"
    hint = "Send an OpenAI request body: a JSON object."
    http_status = 400
    openai_type = "invalid_request_error"


class EngineRequestFailed(ServingError):
    code = "engine_request_failed"
    hint = "The engine could not answer this request; try again or with a smaller request."
    http_status = 502
