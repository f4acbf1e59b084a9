"""Hash-chain arithmetic and verification, usable by the CA and by any owner on their own copy.

``verify_chain`` checks a full list of entries (the CA's own log, or an export of it);
``verify_audit_view`` checks an owner's view: the complete list of links plus that owner's
entries. Both raise :class:`AuditChainBroken` naming the first position that fails, and both
accept an ``anchor`` (a link remembered from an earlier read) to detect a log that was cut back
or rewritten since.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

from certification_authority.audit.canonical import canonical_json
from certification_authority.audit.errors import AuditChainBroken
from certification_authority.audit.models import GENESIS_HASH, AuditEntry, AuditView, ChainLink

__all__ = ["entry_hash", "verify_chain", "verify_links", "verify_audit_view"]


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
        if view.offer_id not in entry.offer_ids:
            raise AuditChainBroken(
                f"entry {entry.seq} is not about offer {view.offer_id}", seq=entry.seq
            )
        _check_entry(entry)
        if entry.seq > len(view.links) or view.links[entry.seq - 1] != entry.link():
            raise AuditChainBroken(
                f"entry {entry.seq} is not the one at its place in the chain", seq=entry.seq
            )
    return head
