"""Enclava's wire protocol: canonical JSON, EIP-191 signing, and the messages parties exchange.

This layer imports nothing above it (no service, no HTTP), so the enclave, the CA and any auditor
build and check the very same bytes with the very same functions:

- :mod:`.canonical`    ``canonical_json``: what is hashed or signed is serialized by it first
- :mod:`.eip191`       ``personal_sign`` over canonical bytes, and its recovery
- :mod:`.key_release`  the enclave's signed, single-use key-release request and the CA's signed answer
"""

from enclava.protocol.canonical import canonical_json
from enclava.protocol.eip191 import recover_bytes_signer, sign_bytes
from enclava.protocol.errors import (
    ProtocolError,
    ReleaseAnswerForged,
    ReleaseAnswerInvalid,
    ReleaseAnswerMalformed,
    ReleaseAnswerMismatch,
    ReleaseRequestInvalid,
)
from enclava.protocol.key_release import (
    KEY_KINDS,
    KEY_RELEASE_DOMAIN,
    MAX_RELEASED_KEYS,
    RELEASE_ANSWER_DOMAIN,
    REQUEST_NONCE_BYTES,
    ReleaseAnswer,
    ReleasedKey,
    build_release_request,
    key_release_message,
    normalize_order_id,
    normalize_request_nonce,
    release_answer,
    release_answer_bytes,
    released_key_entry,
    sign_release_answer,
    verify_release_answer,
)

__all__ = [
    "canonical_json",
    "sign_bytes",
    "recover_bytes_signer",
    "ProtocolError",
    "ReleaseRequestInvalid",
    "ReleaseAnswerInvalid",
    "ReleaseAnswerMalformed",
    "ReleaseAnswerForged",
    "ReleaseAnswerMismatch",
    "KEY_RELEASE_DOMAIN",
    "RELEASE_ANSWER_DOMAIN",
    "REQUEST_NONCE_BYTES",
    "KEY_KINDS",
    "MAX_RELEASED_KEYS",
    "ReleaseAnswer",
    "ReleasedKey",
    "build_release_request",
    "key_release_message",
    "normalize_order_id",
    "normalize_request_nonce",
    "release_answer",
    "release_answer_bytes",
    "released_key_entry",
    "sign_release_answer",
    "verify_release_answer",
]
