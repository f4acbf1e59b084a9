"""Errors of the wire protocol: a message that does not parse, or does not say what it must.

    EnclavaError
    └── ProtocolError                   protocol_error
        ├── ReleaseRequestInvalid       release_request_invalid    a key-release request's fields
        ├── ReleaseAnswerInvalid        release_answer_invalid     the CA's signed answer is refused
        │   ├── ReleaseAnswerMalformed  release_answer_malformed   not the documented shape
        │   ├── ReleaseAnswerForged     release_answer_forged      not signed by the CA's signer
        │   └── ReleaseAnswerMismatch   release_answer_mismatch    signed, but for another CA,
        │                                                          order, enclave, nonce or keys
        ├── EnclaveKeyInvalid           enclave_key_invalid        an enclave key not on secp256k1
        ├── DepositRequestInvalid       deposit_request_invalid    a deposit cannot be built
        ├── AuditChainBroken            audit_chain_broken         a recomputed hash or link of the
        │                                                          CA's audit log does not match
        └── FailureDetailInvalid        failure_detail_invalid     a failed order's detail is not
                                                                   the documented JSON

Whoever receives a refused answer must use none of its keys: the hint says so.
"""

from __future__ import annotations

from enclava.errors import EnclavaError

__all__ = [
    "ProtocolError",
    "ReleaseRequestInvalid",
    "ReleaseAnswerInvalid",
    "ReleaseAnswerMalformed",
    "ReleaseAnswerForged",
    "ReleaseAnswerMismatch",
    "EnclaveKeyInvalid",
    "DepositRequestInvalid",
    "AuditChainBroken",
    "FailureDetailInvalid",
]


class ProtocolError(EnclavaError):
    code = "protocol_error"
    hint = "A wire message is malformed; see the detail."


class ReleaseRequestInvalid(ProtocolError):
    code = "release_request_invalid"
    hint = (
        "Build the request with enclava.protocol.build_release_request "
        "(a 32-byte nonce, a bytes32 order id)."
    )


class ReleaseAnswerInvalid(ProtocolError):
    code = "release_answer_invalid"
    hint = (
        "Use none of the answer's keys; the answer was altered in transit or is not for this "
        "request."
    )


class ReleaseAnswerMalformed(ReleaseAnswerInvalid):
    code = "release_answer_malformed"


class ReleaseAnswerForged(ReleaseAnswerInvalid):
    code = "release_answer_forged"


class ReleaseAnswerMismatch(ReleaseAnswerInvalid):
    code = "release_answer_mismatch"


class EnclaveKeyInvalid(ProtocolError):
    code = "enclave_key_invalid"
    hint = "Generate the enclave key on secp256k1."
    http_status = 401


class DepositRequestInvalid(ProtocolError):
    code = "deposit_request_invalid"
    hint = "The resource key must be non-empty bytes and the CA's age recipient age1..."


class AuditChainBroken(ProtocolError):
    """``seq`` is the first chain position that does not verify (None when the chain is empty)."""

    code = "audit_chain_broken"
    hint = (
        "The audit log was altered: an entry was edited, removed or reordered. Keep the copy you "
        "have, stop trusting the CA and report it to its operator."
    )
    http_status = 409

    def __init__(self, message: str, *, seq: int | None = None) -> None:
        super().__init__(message)
        self.seq = seq


class FailureDetailInvalid(ProtocolError):
    code = "failure_detail_invalid"
    hint = (
        "The failure detail decrypted but is not the JSON the loader writes; the on-chain reason "
        "still holds. Report it to the provider."
    )


# --- confidential serving (enclava.protocol.serving) -------------------------------------------
#
#   ProtocolError
#   └── ServingProtocolError            serving_protocol_error
#       ├── ServingMessageMalformed     serving_message_malformed  not the documented shape
#       │   ├── StatementMalformed      service_statement_malformed
#       │   ├── SessionTokenMalformed   session_token_malformed    (http 401)
#       │   ├── ReceiptMalformed        receipt_malformed
#       │   └── VoucherHeaderMalformed  voucher_header_malformed   (http 402)
#       ├── ServingSignatureInvalid     serving_signature_invalid  signed by someone else
#       │   ├── StatementForged         service_statement_forged
#       │   ├── SessionTokenForged      session_token_forged       (http 401)
#       │   ├── ReceiptForged           receipt_forged
#       │   └── VoucherForged           voucher_forged             (http 402)
#       ├── SessionTokenRefused         session_token_refused      (401) expired, other service
#       └── ReceiptMismatch             receipt_mismatch           signed, but not for this exchange
#           ├── ReceiptMissing          receipt_missing            a 2xx answer without a receipt
#           ├── ReceiptServiceMismatch  receipt_service_mismatch
#           ├── ReceiptCustomerMismatch receipt_customer_mismatch
#           ├── ReceiptSequenceInvalid  receipt_sequence_invalid   replayed or out of order
#           ├── ReceiptRequestMismatch  receipt_request_mismatch   request hash, method or path
#           ├── ReceiptResponseMismatch receipt_response_mismatch  the bytes received differ
#           ├── ReceiptModelMismatch    receipt_model_mismatch
#           └── ReceiptCountsInvalid    receipt_counts_invalid     counts inconsistent or inflated

__all__ += [
    "ServingProtocolError",
    "ServingMessageMalformed",
    "StatementMalformed",
    "SessionTokenMalformed",
    "ReceiptMalformed",
    "VoucherHeaderMalformed",
    "ServingSignatureInvalid",
    "StatementForged",
    "SessionTokenForged",
    "ReceiptForged",
    "VoucherForged",
    "SessionTokenRefused",
    "ReceiptMismatch",
    "ReceiptMissing",
    "ReceiptServiceMismatch",
    "ReceiptCustomerMismatch",
    "ReceiptSequenceInvalid",
    "ReceiptRequestMismatch",
    "ReceiptResponseMismatch",
    "ReceiptModelMismatch",
    "ReceiptCountsInvalid",
]

_DISTRUST = "Do not use this response; the service or the path to it cannot be trusted. "


class ServingProtocolError(ProtocolError):
    code = "serving_protocol_error"
    hint = "A confidential-serving message was refused; see the detail."


class ServingMessageMalformed(ServingProtocolError):
    code = "serving_message_malformed"
    hint = "Build and parse serving messages with enclava.protocol.serving only."


class StatementMalformed(ServingMessageMalformed):
    code = "service_statement_malformed"
    hint = (
        "The service's /v1/enclava/attestation answer is not a version-1 service statement; "
        "send nothing to this endpoint."
    )


class SessionTokenMalformed(ServingMessageMalformed):
    code = "session_token_malformed"
    hint = (
        "Send `Authorization: Bearer <token>` with a token from "
        "enclava.protocol.serving.issue_session_token."
    )
    http_status = 401


class ReceiptMalformed(ServingMessageMalformed):
    code = "receipt_malformed"
    hint = _DISTRUST + "The enclave's receipt is not the documented shape."


class VoucherHeaderMalformed(ServingMessageMalformed):
    code = "voucher_header_malformed"
    hint = (
        "Send the `enclava-voucher` header as enclava.protocol.serving.encode_voucher_header "
        "builds it (base64url of the voucher's JSON and its signature)."
    )
    http_status = 402


class ServingSignatureInvalid(ServingProtocolError):
    code = "serving_signature_invalid"
    hint = _DISTRUST + "The signature is not by the key the message names."


class StatementForged(ServingSignatureInvalid):
    code = "service_statement_forged"
    hint = _DISTRUST + "The service statement is not signed by the enclave it names."


class SessionTokenForged(ServingSignatureInvalid):
    code = "session_token_forged"
    hint = "The session token is not signed by the customer it names; sign a new one."
    http_status = 401


class ReceiptForged(ServingSignatureInvalid):
    code = "receipt_forged"
    hint = _DISTRUST + "The receipt is not signed by the verified service enclave."


class VoucherForged(ServingSignatureInvalid):
    code = "voucher_forged"
    hint = "The voucher is not signed by the customer it names (EIP-712, ServiceMarket's domain)."
    http_status = 402


class SessionTokenRefused(ServingProtocolError):
    code = "session_token_refused"
    hint = "The session token has expired or is for another service; sign a new one."
    http_status = 401


class ReceiptMismatch(ServingProtocolError):
    code = "receipt_mismatch"
    hint = _DISTRUST + "The receipt is signed, but not for this exchange."


class ReceiptMissing(ReceiptMismatch):
    code = "receipt_missing"
    hint = _DISTRUST + "The service answered without a signed receipt."


class ReceiptServiceMismatch(ReceiptMismatch):
    code = "receipt_service_mismatch"


class ReceiptCustomerMismatch(ReceiptMismatch):
    code = "receipt_customer_mismatch"


class ReceiptSequenceInvalid(ReceiptMismatch):
    code = "receipt_sequence_invalid"
    hint = _DISTRUST + "The receipt's sequence number is not above the last one: a replay."


class ReceiptRequestMismatch(ReceiptMismatch):
    code = "receipt_request_mismatch"
    hint = _DISTRUST + "The receipt is for another request: the request was altered in transit."


class ReceiptResponseMismatch(ReceiptMismatch):
    code = "receipt_response_mismatch"
    hint = (
        _DISTRUST + "The bytes received are not the bytes the enclave signed: altered in transit."
    )


class ReceiptModelMismatch(ReceiptMismatch):
    code = "receipt_model_mismatch"
    hint = _DISTRUST + "The receipt names another model than the service's."


class ReceiptCountsInvalid(ReceiptMismatch):
    code = "receipt_counts_invalid"
    hint = (
        _DISTRUST + "The receipt's token or compute counts disagree with the response or with the "
        "cumulative counts; sign no voucher for them."
    )
