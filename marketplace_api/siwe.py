"""Sign-In with Ethereum (EIP-4361): the message, built and parsed here, checked with eth-account.

The text layout is the EIP's: the parser accepts exactly what :func:`build_message` writes (plus
the optional fields), so a message that parses is the message that was signed. Checks in order:
parse → domain → URI → chain id → times → signature (EIP-191 ``personal_sign``) → nonce (single
use, consumed last so a bad signature cannot burn someone's nonce). The domain and URI a message
must name come from the service's settings, never from the request (a Host header is the client's).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timezone

from eth_account import Account
from eth_account.messages import encode_defunct
from eth_utils.address import is_checksum_address

from marketplace_api.errors import SignInExpired, SignInFailed

__all__ = [
    "SiweMessage",
    "build_message",
    "parse_message",
    "recover_signer",
    "check_message",
    "iso",
    "parse_time",
]

_HEADER = " wants you to sign in with your Ethereum account:"
_FIELDS = (
    ("URI", "uri"),
    ("Version", "version"),
    ("Chain ID", "chain_id"),
    ("Nonce", "nonce"),
    ("Issued At", "issued_at"),
    ("Expiration Time", "expiration_time"),
    ("Not Before", "not_before"),
    ("Request ID", "request_id"),
)
_NONCE = re.compile(r"^[A-Za-z0-9]{8,}$")


@dataclass(frozen=True)
class SiweMessage:
    domain: str
    address: str
    uri: str
    chain_id: int
    nonce: str
    issued_at: str
    statement: str | None = None
    version: str = "1"
    expiration_time: str | None = None
    not_before: str | None = None
    request_id: str | None = None
    resources: tuple[str, ...] = field(default_factory=tuple)


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value: str) -> float:
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError as exc:
        raise SignInFailed(f"invalid RFC 3339 time {value!r} in the sign-in message") from exc


def build_message(msg: SiweMessage) -> str:
    lines = [f"{msg.domain}{_HEADER}", msg.address, ""]
    if msg.statement:
        lines += [msg.statement, ""]
    values = {
        "uri": msg.uri,
        "version": msg.version,
        "chain_id": str(msg.chain_id),
        "nonce": msg.nonce,
        "issued_at": msg.issued_at,
        "expiration_time": msg.expiration_time,
        "not_before": msg.not_before,
        "request_id": msg.request_id,
    }
    lines += [f"{label}: {values[name]}" for label, name in _FIELDS if values[name] is not None]
    if msg.resources:
        lines += ["Resources:"] + [f"- {r}" for r in msg.resources]
    return "\n".join(lines)


def parse_message(text: str) -> SiweMessage:
    """Parse an EIP-4361 message; raises :class:`SignInFailed` naming what is wrong."""
    lines = text.split("\n")
    if len(lines) < 4 or not lines[0].endswith(_HEADER):
        raise SignInFailed("not an EIP-4361 sign-in message (bad first line)")
    domain, address = lines[0][: -len(_HEADER)], lines[1]
    if not domain or not is_checksum_address(address):
        raise SignInFailed("the sign-in message needs a domain and an EIP-55 checksummed address")
    if lines[2] != "":
        raise SignInFailed("the sign-in message needs an empty line after the address")
    rest, statement = lines[3:], None
    if rest and not rest[0].startswith("URI: "):
        statement = rest[0]
        if len(rest) < 2 or rest[1] != "":
            raise SignInFailed("the statement must be followed by an empty line")
        rest = rest[2:]
    values: dict[str, str] = {}
    index = 0
    for label, name in _FIELDS:
        if index < len(rest) and rest[index].startswith(f"{label}: "):
            values[name] = rest[index][len(label) + 2 :]
            index += 1
    resources: list[str] = []
    if index < len(rest) and rest[index] == "Resources:":
        resources = [line[2:] for line in rest[index + 1 :] if line.startswith("- ")]
        index += 1 + len(resources)
    if index != len(rest):
        raise SignInFailed(f"unexpected line in the sign-in message: {rest[index]!r}")
    for required in ("uri", "version", "chain_id", "nonce", "issued_at"):
        if required not in values:
            raise SignInFailed(f"the sign-in message lacks its {required.replace('_', ' ')}")
    if (
        values["version"] != "1"
        or not values["chain_id"].isdigit()
        or not _NONCE.match(values["nonce"])
    ):
        raise SignInFailed("the sign-in message has a bad version, chain id or nonce")
    return SiweMessage(
        domain=domain,
        address=address,
        statement=statement,
        uri=values["uri"],
        version=values["version"],
        chain_id=int(values["chain_id"]),
        nonce=values["nonce"],
        issued_at=values["issued_at"],
        expiration_time=values.get("expiration_time"),
        not_before=values.get("not_before"),
        request_id=values.get("request_id"),
        resources=tuple(resources),
    )


def recover_signer(text: str, signature: str) -> str:
    try:
        signer: str = Account.recover_message(encode_defunct(text=text), signature=signature)
        return signer
    except Exception as exc:  # eth-account raises several types for malformed signatures
        raise SignInFailed("the signature is malformed") from exc


def check_message(
    text: str,
    signature: str,
    *,
    domain: str,
    uri: str,
    chain_id: int,
    now: float,
    skew_s: float = 60.0,
) -> SiweMessage:
    """Every stateless check; the caller then consumes the nonce."""
    msg = parse_message(text)
    if msg.domain != domain:
        raise SignInFailed(
            f"the message is for {msg.domain!r}, this service is {domain!r}",
            hint="Sign a message built for this site; a message for another site is refused.",
        )
    if msg.uri.rstrip("/") != uri.rstrip("/"):
        raise SignInFailed(
            f"the message names the URI {msg.uri!r}, this service is {uri!r}",
            hint="Sign the message GET /v1/auth/nonce?address= returns; its URI is this site's.",
        )
    if msg.chain_id != chain_id:
        raise SignInFailed(
            f"the message names chain {msg.chain_id}, this marketplace runs on {chain_id}"
        )
    if parse_time(msg.issued_at) > now + skew_s:
        raise SignInFailed("the message was issued in the future; check your clock")
    if msg.expiration_time and parse_time(msg.expiration_time) <= now:
        raise SignInExpired("the sign-in message has expired")
    if msg.not_before and parse_time(msg.not_before) > now:
        raise SignInFailed("the sign-in message is not valid yet")
    if recover_signer(text, signature) != msg.address:
        raise SignInFailed("the signature is not from the address in the message")
    return msg
