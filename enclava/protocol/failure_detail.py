"""The detail of a failed order, for its customer only.

A failed order's on-chain ``OrderFailure`` carries a reason code and ``detailCid``: "" or the IPFS
CID of an age envelope, encrypted by the enclave to the order's recipient key (the customer's
wallet-derived result key), that holds canonical JSON::

    {"message": "<the loader's own words>", "reason": "<reason name>", "stderr_tail": "<raw>"}

``stderr_tail`` is the end (at most :data:`MAX_STDERR_TAIL` bytes of UTF-8) of what the engine
wrote to stderr, as written: it may echo the customer's own data, which is why only the customer
can open it and no log ever holds it. The loader builds it with :func:`detail_json`; the client
reads it with :func:`parse_detail` after opening the envelope.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Final

from enclava.protocol.canonical import canonical_json
from enclava.protocol.errors import FailureDetailInvalid

__all__ = [
    "MAX_STDERR_TAIL",
    "MAX_MESSAGE",
    "MAX_DETAIL_BYTES",
    "FailureDetail",
    "detail_json",
    "parse_detail",
]

#: The most of the engine's stderr (its end, in UTF-8 bytes) a detail carries.
MAX_STDERR_TAIL: Final = 8192
#: The most characters of the loader's message a detail carries.
MAX_MESSAGE: Final = 1000
#: The largest detail JSON a reader accepts (JSON escapes can grow the tail up to 6x).
MAX_DETAIL_BYTES: Final = 6 * MAX_STDERR_TAIL + 8 * MAX_MESSAGE + 1024


@dataclass(frozen=True)
class FailureDetail:
    """What went wrong, in the loader's words and the engine's."""

    reason: str
    message: str
    stderr_tail: str = ""


def _tail(text: str, limit: int) -> str:
    """The end of ``text`` that fits ``limit`` UTF-8 bytes, cut at a character boundary."""
    data = text.encode("utf-8", "replace")
    if len(data) <= limit:
        return text
    return data[-limit:].decode("utf-8", "ignore")


def detail_json(detail: FailureDetail) -> bytes:
    """``detail`` as canonical JSON, with the tail and the message cut to their caps."""
    return canonical_json(
        {
            "reason": detail.reason,
            "message": detail.message[:MAX_MESSAGE],
            "stderr_tail": _tail(detail.stderr_tail, MAX_STDERR_TAIL),
        }
    )


def parse_detail(data: bytes) -> FailureDetail:
    """The detail in ``data`` (the opened envelope); :class:`FailureDetailInvalid` if it is not
    the documented JSON."""
    if len(data) > MAX_DETAIL_BYTES:
        raise FailureDetailInvalid(f"the failure detail is {len(data)} bytes, over the cap")
    try:
        value = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise FailureDetailInvalid("the failure detail is not JSON") from exc
    if not isinstance(value, dict) or not all(
        isinstance(value.get(key), str) for key in ("reason", "message", "stderr_tail")
    ):
        raise FailureDetailInvalid("the failure detail lacks reason, message or stderr_tail")
    return FailureDetail(
        reason=value["reason"],
        message=value["message"][:MAX_MESSAGE],
        stderr_tail=_tail(value["stderr_tail"], MAX_STDERR_TAIL),
    )
