"""The key-release exchange between an enclave and the CA's key broker: one request, one signed
answer.

Request (``POST /v1/keys/release``): the enclave signs, with its certified key (EIP-191), the
canonical JSON of::

    {"domain": "enclava-key-release-v2", "ca_id", "order_id" (0x + 64 lowercase hex),
     "issued_at" (unix seconds), "request_nonce" (64 lowercase hex: 32 random bytes it chose),
     "resource_ids" (decimal strings; only present when it asks for some of the order's resources)}

The CA accepts each ``(enclave, request_nonce)`` once, so a captured request cannot be replayed.

Answer: ``{"release": {...}, "signature": "0x..."}``, ``signature`` being the CA signer's EIP-191
signature over the canonical bytes of ``release``::

    {"domain": "enclava-key-release-answer-v1", "ca_id", "order_id", "enclave" (checksummed),
     "request_nonce", "issued_at" (the CA's clock when it released),
     "keys": [{"kind": "resource", "resource_id" (decimal string), "content_hash" (0x + the
               resource's on-chain SHA-256 of its ciphertext, as the CA read it),
               "policy_version", "ciphertext" (base64 age, to the enclave)},
              {"kind": "order_inputs", "resource_id": "0", "content_hash" (0x + the order's
               inputsHash), "policy_version": 0, "ciphertext"}]}

Ids are decimal strings (uint256 does not survive every JSON parser as a number). The same
functions build, sign and verify, so both sides hash the very same bytes.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import re
import secrets
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from eth_account.signers.local import LocalAccount
from eth_utils.address import is_address, to_checksum_address

from enclava.protocol.canonical import canonical_json
from enclava.protocol.eip191 import recover_bytes_signer, sign_bytes
from enclava.protocol.errors import (
    ReleaseAnswerForged,
    ReleaseAnswerInvalid,
    ReleaseAnswerMalformed,
    ReleaseAnswerMismatch,
    ReleaseRequestInvalid,
)
from enclava.protocol.order import Order

__all__ = [
    "KEY_RELEASE_DOMAIN",
    "RELEASE_ANSWER_DOMAIN",
    "REQUEST_NONCE_BYTES",
    "KEY_KINDS",
    "MAX_RELEASED_KEYS",
    "normalize_request_nonce",
    "normalize_order_id",
    "key_release_message",
    "build_release_request",
    "released_key_entry",
    "release_answer",
    "release_answer_bytes",
    "sign_release_answer",
    "verify_release_answer",
    "ReleasedKey",
    "ReleaseAnswer",
    "NamedKey",
    "ExpectedKey",
    "expected_keys",
    "require_release_matches",
]

KEY_RELEASE_DOMAIN = "enclava-key-release-v2"
RELEASE_ANSWER_DOMAIN = "enclava-key-release-answer-v1"
REQUEST_NONCE_BYTES = 32
KEY_KINDS = ("resource", "order_inputs")
MAX_RELEASED_KEYS = 65  # the broker's 64 resources per request, plus the order's inputs key

_HEX64 = re.compile(r"[0-9a-f]{64}")
_DECIMAL = re.compile(r"0|[1-9][0-9]{0,77}")
_RELEASE_FIELDS = frozenset(
    {"domain", "ca_id", "order_id", "enclave", "request_nonce", "issued_at", "keys"}
)
_KEY_FIELDS = frozenset({"kind", "resource_id", "content_hash", "policy_version", "ciphertext"})
_UINT256 = 2**256


def normalize_request_nonce(value: object) -> str:
    """64 lowercase hex digits (an optional ``0x`` is dropped), or ``ReleaseRequestInvalid``."""
    text = value.removeprefix("0x").lower() if isinstance(value, str) else None
    if text is None or not _HEX64.fullmatch(text):
        raise ReleaseRequestInvalid(
            f"request_nonce must be {REQUEST_NONCE_BYTES} bytes as 64 hex digits"
        )
    return text


def normalize_order_id(value: object) -> str:
    """``0x`` + 64 lowercase hex digits, or ``ReleaseRequestInvalid``."""
    text = value.removeprefix("0x").lower() if isinstance(value, str) else None
    if text is None or not _HEX64.fullmatch(text):
        raise ReleaseRequestInvalid("order_id must be a bytes32 id: 0x + 64 hex digits")
    return "0x" + text


def _resource_ids(resource_ids: Iterable[int] | None) -> list[str] | None:
    if resource_ids is None:
        return None
    ids = list(resource_ids)
    if any(isinstance(r, bool) or not isinstance(r, int) or not 0 < r < _UINT256 for r in ids):
        raise ReleaseRequestInvalid("resource_ids must be uint256 resource ids")
    return [str(r) for r in ids]


def key_release_message(
    *,
    ca_id: str,
    order_id: str,
    issued_at: int,
    request_nonce: str,
    resource_ids: Sequence[int] | None = None,
) -> str:
    """What an enclave signs (EIP-191, with its certified key) to ask the CA for an order's keys.

    Without ``resource_ids`` the message has no such field and asks for every key of the order
    (its resources and its customer's inputs key); with them, for those resources only.
    """
    if isinstance(issued_at, bool) or not isinstance(issued_at, int):
        raise ReleaseRequestInvalid("issued_at must be unix seconds (an integer)")
    fields: dict[str, Any] = {
        "domain": KEY_RELEASE_DOMAIN,
        "ca_id": ca_id,
        "order_id": normalize_order_id(order_id),
        "issued_at": issued_at,
        "request_nonce": normalize_request_nonce(request_nonce),
    }
    ids = _resource_ids(resource_ids)
    if ids is not None:
        fields["resource_ids"] = ids
    return canonical_json(fields).decode("ascii")


def build_release_request(
    account: LocalAccount,
    *,
    certificate_pem: str,
    ca_id: str,
    order_id: str,
    resource_ids: Sequence[int] | None = None,
    issued_at: int | None = None,
    request_nonce: str | None = None,
) -> dict[str, Any]:
    """The JSON body of ``POST /v1/keys/release``, signed by ``account`` (the certified enclave
    key).

    ``request_nonce`` defaults to 32 fresh random bytes: keep it to check the answer with
    :func:`verify_release_answer`.
    """
    nonce = normalize_request_nonce(
        request_nonce if request_nonce is not None else secrets.token_hex(REQUEST_NONCE_BYTES)
    )
    when = int(time.time()) if issued_at is None else issued_at
    message = key_release_message(
        ca_id=ca_id,
        order_id=order_id,
        issued_at=when,
        request_nonce=nonce,
        resource_ids=resource_ids,
    )
    body: dict[str, Any] = {
        "certificate_pem": certificate_pem,
        "order_id": normalize_order_id(order_id),
        "issued_at": when,
        "request_nonce": nonce,
        "signature": sign_bytes(account, message.encode("ascii")),
    }
    if resource_ids is not None:
        body["resource_ids"] = [int(r) for r in resource_ids]
    return body


# -- the answer ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReleasedKey:
    """One key of a verified answer: ``ciphertext`` is age, to the enclave's certified recipient."""

    kind: str
    resource_id: int
    content_hash: bytes
    policy_version: int
    ciphertext: bytes = field(repr=False)


@dataclass(frozen=True)
class ReleaseAnswer:
    """A release answer whose signature, CA, order, enclave and nonce were all checked."""

    ca_id: str
    order_id: str
    enclave: str
    request_nonce: str
    issued_at: int
    keys: tuple[ReleasedKey, ...]
    signer: str

    @property
    def resource_keys(self) -> dict[int, ReleasedKey]:
        return {key.resource_id: key for key in self.keys if key.kind == "resource"}

    @property
    def order_inputs_key(self) -> ReleasedKey | None:
        return next((key for key in self.keys if key.kind == "order_inputs"), None)

    def require_resources(
        self, expected: Mapping[int, bytes], *, inputs_hash: bytes | None = None
    ) -> dict[int, ReleasedKey]:
        """The resource keys, if the answer's keys are exactly ``expected`` (resource id ->
        content hash) plus, when ``inputs_hash`` is given, the order-inputs key for it.

        Anything more, less or different is a ``ReleaseAnswerMismatch``: use none of the keys.
        (The one check is :func:`require_release_matches`.)
        """
        wanted = [ExpectedKey("resource", rid, bytes(h)) for rid, h in expected.items()]
        if inputs_hash is not None:
            wanted.append(ExpectedKey("order_inputs", 0, bytes(inputs_hash)))
        require_release_matches(self.keys, wanted)
        return self.resource_keys


class NamedKey(Protocol):
    """What names a released key: its kind, its resource id and the content hash it is for."""

    @property
    def kind(self) -> str: ...

    @property
    def resource_id(self) -> int: ...

    @property
    def content_hash(self) -> bytes: ...


@dataclass(frozen=True)
class ExpectedKey:
    """A key the order needs: which resource, and the ciphertext hash the order id commits to."""

    kind: str  # "resource" | "order_inputs"
    resource_id: int
    content_hash: bytes


def expected_keys(order: Order) -> list[ExpectedKey]:
    """The engine, every model/dataset resource, and (if the order has inputs) the customer's
    inputs key: each with the hash the order id commits to."""
    terms = order.terms
    keys = [ExpectedKey("resource", terms.engine_resource_id, bytes(terms.engine_hash))]
    keys += [
        ExpectedKey("resource", rid, bytes(h))
        for rid, h in zip(terms.resource_ids, order.resource_hashes, strict=False)
    ]
    if order.inputs:
        keys.append(ExpectedKey("order_inputs", 0, bytes(terms.inputs_hash)))
    return keys


def _sort_key(key: ExpectedKey) -> tuple[str, int, bytes]:
    return (key.kind, key.resource_id, key.content_hash)


def require_release_matches(released: Iterable[NamedKey], expected: Iterable[ExpectedKey]) -> None:
    """THE check of a release against an order: the released keys are exactly ``expected`` (none
    missing, none extra, none twice), each with the content hash the order id commits to.

    Anything else is a ``ReleaseAnswerMismatch`` naming the extra and missing resource ids.
    """
    wanted = sorted(set(expected), key=_sort_key)
    got = sorted(
        (ExpectedKey(k.kind, k.resource_id, bytes(k.content_hash)) for k in released),
        key=_sort_key,
    )
    if len(got) != len(wanted) or not all(
        a.kind == b.kind
        and a.resource_id == b.resource_id
        and hmac.compare_digest(a.content_hash, b.content_hash)
        for a, b in zip(got, wanted, strict=True)
    ):
        extra = [k.resource_id for k in got if k not in wanted]
        missing = [k.resource_id for k in wanted if k not in got]
        raise ReleaseAnswerMismatch(
            "the released keys do not match the order's resources "
            f"(extra {extra}, missing {missing})"
        )


def _hash32(value: bytes | str) -> str:
    raw = bytes.fromhex(value.removeprefix("0x")) if isinstance(value, str) else bytes(value)
    if len(raw) != 32:
        raise ValueError("a content hash is 32 bytes")
    return "0x" + raw.hex()


def released_key_entry(
    *,
    kind: str,
    resource_id: int,
    content_hash: bytes | str,
    policy_version: int,
    ciphertext: bytes,
) -> dict[str, Any]:
    """One element of ``release["keys"]`` in its wire form (the CA builds the answer with these)."""
    if kind not in KEY_KINDS:
        raise ValueError(f"unknown key kind {kind!r}")
    return {
        "kind": kind,
        "resource_id": str(int(resource_id)),
        "content_hash": _hash32(content_hash),
        "policy_version": int(policy_version),
        "ciphertext": base64.b64encode(ciphertext).decode("ascii"),
    }


def release_answer(
    *,
    ca_id: str,
    order_id: str,
    enclave: str,
    request_nonce: str,
    issued_at: int,
    keys: Iterable[Mapping[str, Any]],
) -> dict[str, Any]:
    """The ``release`` dict the CA signs, with every field in its one spelling."""
    return {
        "domain": RELEASE_ANSWER_DOMAIN,
        "ca_id": ca_id,
        "order_id": normalize_order_id(order_id),
        "enclave": to_checksum_address(enclave),
        "request_nonce": normalize_request_nonce(request_nonce),
        "issued_at": int(issued_at),
        "keys": [dict(key) for key in keys],
    }


def release_answer_bytes(release: Mapping[str, Any]) -> bytes:
    """The canonical bytes the CA signs and the enclave verifies."""
    try:
        return canonical_json(dict(release))
    except (TypeError, ValueError) as exc:
        raise ReleaseAnswerMalformed("the release is not plain JSON") from exc


def sign_release_answer(account: LocalAccount, release: Mapping[str, Any]) -> str:
    """The CA signer's EIP-191 signature over :func:`release_answer_bytes` of ``release``."""
    return sign_bytes(account, release_answer_bytes(release))


def _released_key(entry: object) -> ReleasedKey:
    if not isinstance(entry, dict) or set(entry) != _KEY_FIELDS:
        raise ReleaseAnswerMalformed(f"a released key has exactly the fields {sorted(_KEY_FIELDS)}")
    kind, resource_id, version = entry["kind"], entry["resource_id"], entry["policy_version"]
    if kind not in KEY_KINDS:
        raise ReleaseAnswerMalformed(f"unknown key kind {kind!r}")
    if (
        not isinstance(resource_id, str)
        or not _DECIMAL.fullmatch(resource_id)
        or int(resource_id) >= _UINT256
    ):
        raise ReleaseAnswerMalformed("resource_id is a uint256 in decimal")
    if (kind == "order_inputs") != (resource_id == "0"):
        raise ReleaseAnswerMalformed("resource id 0 is the order inputs' key, and only it")
    if isinstance(version, bool) or not isinstance(version, int) or version < 0:
        raise ReleaseAnswerMalformed("policy_version is a non-negative integer")
    content_hash = entry["content_hash"]
    if (
        not isinstance(content_hash, str)
        or not content_hash.startswith("0x")
        or not _HEX64.fullmatch(content_hash[2:])
    ):
        raise ReleaseAnswerMalformed("content_hash is 0x + 64 lowercase hex digits")
    try:
        ciphertext = base64.b64decode(entry["ciphertext"], validate=True)
    except (binascii.Error, TypeError, ValueError) as exc:
        raise ReleaseAnswerMalformed("ciphertext is not base64") from exc
    if not ciphertext:
        raise ReleaseAnswerMalformed("a released key has an empty ciphertext")
    return ReleasedKey(kind, int(resource_id), bytes.fromhex(content_hash[2:]), version, ciphertext)


def _expect(what: str, got: object, want: str, *, fold: bool = False) -> None:
    same = isinstance(got, str) and (got.lower() == want.lower() if fold else got == want)
    if not same:
        raise ReleaseAnswerMismatch(f"the answer is for another {what}")


def verify_release_answer(
    answer: object, *, signer: str, ca_id: str, order_id: str, enclave: str, request_nonce: str
) -> ReleaseAnswer:
    """Check a CA answer, in this order: envelope → signature by ``signer`` (the attested CA's
    ``signer_address``) → CA, order, enclave and nonce are this request's → every key's shape.

    Any failure is a :class:`ReleaseAnswerInvalid` leaf; use none of the keys then.
    """
    if (
        not isinstance(answer, dict)
        or set(answer) != {"release", "signature"}
        or not isinstance(answer["release"], dict)
        or not isinstance(answer["signature"], str)
    ):
        raise ReleaseAnswerMalformed('the answer is {"release": {...}, "signature": "0x..."}')
    release, signature = answer["release"], answer["signature"]
    recovered = recover_bytes_signer(release_answer_bytes(release), signature)
    if recovered is None or not is_address(signer) or recovered.lower() != signer.lower():
        raise ReleaseAnswerForged("the answer is not signed by the attested CA's signer")
    if set(release) != _RELEASE_FIELDS:
        raise ReleaseAnswerMalformed(f"a release has exactly the fields {sorted(_RELEASE_FIELDS)}")
    _expect("protocol", release["domain"], RELEASE_ANSWER_DOMAIN)
    _expect("CA", release["ca_id"], ca_id)
    try:
        wanted_order, wanted_nonce = (
            normalize_order_id(order_id),
            normalize_request_nonce(request_nonce),
        )
    except ReleaseRequestInvalid as exc:
        raise ReleaseAnswerInvalid(f"the expected request is malformed: {exc.message}") from exc
    if not is_address(enclave):
        raise ReleaseAnswerInvalid("the expected enclave is not an address")
    _expect("order", release["order_id"], wanted_order)
    _expect("enclave", release["enclave"], enclave, fold=True)
    _expect("request (nonce)", release["request_nonce"], wanted_nonce)
    issued_at, entries = release["issued_at"], release["keys"]
    if isinstance(issued_at, bool) or not isinstance(issued_at, int):
        raise ReleaseAnswerMalformed("issued_at is unix seconds")
    if not isinstance(entries, list) or not 1 <= len(entries) <= MAX_RELEASED_KEYS:
        raise ReleaseAnswerMalformed(f"keys is a list of 1 to {MAX_RELEASED_KEYS} released keys")
    keys = tuple(_released_key(entry) for entry in entries)
    if len({(key.kind, key.resource_id) for key in keys}) != len(keys):
        raise ReleaseAnswerMalformed("the answer names a key twice")
    return ReleaseAnswer(
        ca_id=ca_id,
        order_id=wanted_order,
        enclave=to_checksum_address(release["enclave"]),
        request_nonce=wanted_nonce,
        issued_at=issued_at,
        keys=keys,
        signer=recovered,
    )
