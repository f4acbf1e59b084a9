"""The CA's audit log as owners see it: entries, the links of the hash chain, an owner's view,
and the verification anyone can run on their own copy, with no access to the CA.

An entry's hash covers every field but ``entry_hash`` itself::

    entry_hash = SHA-256(bytes.fromhex(prev_hash) || canonical_json(body))

with ``prev_hash`` of the first entry :data:`GENESIS_HASH`. Resource ids are decimal strings (they
are uint256 on chain, beyond JSON's safe integers).

``verify_chain`` checks a full list of entries (the CA's own log, or an export of it);
``verify_audit_view`` checks an owner's view: the complete list of links plus that owner's
entries. Both raise :class:`~enclava.protocol.errors.AuditChainBroken` naming the first position
that fails, and both accept an ``anchor`` (a link remembered from an earlier read) to detect a log
that was cut back or rewritten since.
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict

from enclava.protocol.canonical import canonical_json
from enclava.protocol.errors import AuditChainBroken

__all__ = [
    "GENESIS_HASH",
    "AuditEvent",
    "Decision",
    "AuditEntry",
    "ChainLink",
    "AuditView",
    "entry_hash",
    "verify_chain",
    "verify_links",
    "verify_audit_view",
]

GENESIS_HASH = "00" * 32


class AuditEvent(str, enum.Enum):
    KEY_DEPOSIT = "key_deposit"
    KEY_RELEASE = "key_release"
    REVOCATION = "revocation"


class Decision(str, enum.Enum):
    ACCEPTED = "accepted"  # a deposit
    REFUSED = "refused"  # a deposit
    GRANTED = "granted"  # a key release
    DENIED = "denied"  # a key release
    REVOKED = "revoked"  # a certificate or an enclave


class AuditEntry(BaseModel):
    """One decision. ``reason`` is an error code (or ``ok``); ``guard`` names the guard that
    refused."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    seq: int
    time: int
    event: str
    resource_ids: list[str]
    order_id: str | None
    enclave_address: str | None
    decision: str
    reason: str
    guard: str | None
    details: dict[str, Any]
    prev_hash: str
    entry_hash: str

    def body(self) -> dict[str, Any]:
        """The hashed part: every field but ``entry_hash``."""
        return self.model_dump(mode="json", exclude={"entry_hash"})

    def link(self) -> ChainLink:
        return ChainLink(seq=self.seq, prev_hash=self.prev_hash, entry_hash=self.entry_hash)


class ChainLink(BaseModel):
    """An entry's place in the chain, without its contents."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    seq: int
    prev_hash: str
    entry_hash: str


class AuditView(BaseModel):
    """What an owner reads: every link of the chain, and the full entries about their resource.

    The links let the owner check that their entries sit, unaltered and in order, in the one chain
    the CA keeps, without seeing the contents of other owners' entries.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    ca_id: str
    resource_id: str
    links: list[ChainLink]
    entries: list[AuditEntry]

    @property
    def head(self) -> ChainLink | None:
        """The newest link: keep it, and pass it as ``anchor`` next time to detect a rewound log."""
        return self.links[-1] if self.links else None


def entry_hash(prev_hash: str, body: Mapping[str, Any]) -> str:
    """SHA-256(prev_hash bytes || canonical JSON of the body), as hex."""
    try:
        prev = bytes.fromhex(prev_hash)
    except (TypeError, ValueError) as exc:
        raise AuditChainBroken(f"prev_hash {prev_hash!r} is not hex", seq=body.get("seq")) from exc
    return hashlib.sha256(prev + canonical_json(dict(body))).hexdigest()


def verify_links(
    links: Sequence[ChainLink], *, anchor: ChainLink | None = None
) -> ChainLink | None:
    """Check positions 1..n are all present, in order, each linked to the one before."""
    prev = GENESIS_HASH
    for expected, link in enumerate(links, start=1):
        if link.seq != expected:
            raise AuditChainBroken(
                f"chain position {expected} is missing or out of order (found entry {link.seq})",
                seq=expected,
            )
        if link.prev_hash != prev:
            raise AuditChainBroken(
                f"entry {expected} does not link to entry {expected - 1}", seq=expected
            )
        prev = link.entry_hash
    if anchor is not None:
        if anchor.seq < 1 or anchor.seq > len(links):
            raise AuditChainBroken(
                f"the log no longer reaches the remembered entry {anchor.seq} "
                f"(it has {len(links)} entries)",
                seq=anchor.seq,
            )
        if links[anchor.seq - 1] != anchor:
            raise AuditChainBroken(
                f"entry {anchor.seq} differs from the remembered one", seq=anchor.seq
            )
    return links[-1] if links else None


def _check_entry(entry: AuditEntry) -> None:
    if entry_hash(entry.prev_hash, entry.body()) != entry.entry_hash:
        raise AuditChainBroken(
            f"entry {entry.seq}'s contents do not match its hash (edited)", seq=entry.seq
        )


def verify_chain(
    entries: Sequence[AuditEntry], *, anchor: ChainLink | None = None
) -> ChainLink | None:
    """Recompute every hash of a full log; return its head link (None when empty)."""
    for entry in entries:
        _check_entry(entry)
    return verify_links([entry.link() for entry in entries], anchor=anchor)


def verify_audit_view(view: AuditView, *, anchor: ChainLink | None = None) -> ChainLink | None:
    """Check an owner's view: the links form one chain and each of the owner's entries is in it."""
    head = verify_links(view.links, anchor=anchor)
    last_seq = 0
    for entry in view.entries:
        if entry.seq <= last_seq:
            raise AuditChainBroken(f"entry {entry.seq} is listed out of order", seq=entry.seq)
        last_seq = entry.seq
        if view.resource_id not in entry.resource_ids:
            raise AuditChainBroken(
                f"entry {entry.seq} is not about resource {view.resource_id}", seq=entry.seq
            )
        _check_entry(entry)
        if entry.seq > len(view.links) or view.links[entry.seq - 1] != entry.link():
            raise AuditChainBroken(
                f"entry {entry.seq} is not the one at its place in the chain", seq=entry.seq
            )
    return head
