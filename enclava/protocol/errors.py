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
