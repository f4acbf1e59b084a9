"""Errors of the wire protocol: a message that does not parse, or does not say what it must.

    EnclavaError
    └── ProtocolError                   protocol_error
        ├── ReleaseRequestInvalid       release_request_invalid    the fields of a key-release request
        └── ReleaseAnswerInvalid        release_answer_invalid     the CA's signed answer is refused
            ├── ReleaseAnswerMalformed  release_answer_malformed   not the documented shape
            ├── ReleaseAnswerForged     release_answer_forged      not signed by the attested CA signer
            └── ReleaseAnswerMismatch   release_answer_mismatch    signed, but for another CA, order,
                                                                   enclave or request nonce

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
]


class ProtocolError(EnclavaError):
    code = "protocol_error"
    hint = "A wire message is malformed; see the detail."


class ReleaseRequestInvalid(ProtocolError):
    code = "release_request_invalid"
    hint = "Build the request with enclava.protocol.build_release_request (a 32-byte nonce, a bytes32 order id)."


class ReleaseAnswerInvalid(ProtocolError):
    code = "release_answer_invalid"
    hint = "Use none of the answer's keys; the answer was altered in transit or is not for this request."


class ReleaseAnswerMalformed(ReleaseAnswerInvalid):
    code = "release_answer_malformed"


class ReleaseAnswerForged(ReleaseAnswerInvalid):
    code = "release_answer_forged"


class ReleaseAnswerMismatch(ReleaseAnswerInvalid):
    code = "release_answer_mismatch"
