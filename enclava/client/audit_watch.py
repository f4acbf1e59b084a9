"""Watching a resource's key releases: read the owner's audit view, verify it, compare it with the
head remembered from the last read, and describe each entry for people.

The CA keeps one hash-chained log (:mod:`enclava.protocol.audit`). An owner's view holds every link
of that chain and the full entries about their resource. Verifying the view alone shows the chain
is consistent *now*; remembering its head shows it is the same chain *as before*::

    view verifies?  no  -> AuditLogEdited   (an entry's contents or a link no longer match)
    saved head      seq beyond the chain's end -> AuditLogRewound (the log got shorter)
                    link at its seq differs    -> AuditLogRewound (history replaced from there on)
    otherwise       the new head is saved for next time

Heads are remembered in ``$ENCLAVA_HOME/audit-heads.json`` (the folder the CLI keeps wallets
under), one per CA id and resource id, and only after a view verified: a tampered log never
overwrites the evidence of what was seen before.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from eth_utils.address import is_address, to_checksum_address

from enclava.client.errors import (
    AuditHeadsUnreadable,
    AuditLogEdited,
    AuditLogRewound,
)
from enclava.paths import user_home
from enclava.protocol.audit import AuditEntry, AuditView, ChainLink, verify_audit_view
from enclava.protocol.errors import AuditChainBroken

__all__ = [
    "HEADS_FILE",
    "AuditLine",
    "HeadStore",
    "SavedHead",
    "AuditWatcher",
    "check_view",
    "describe",
    "utc_date",
]

HEADS_FILE = "audit-heads.json"
_FORMAT = 1


def utc_date(unix: int) -> str:
    return datetime.fromtimestamp(int(unix), UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


@dataclass(frozen=True)
class SavedHead:
    """The head of the chain as last verified, with when and from which CA key it was read."""

    link: ChainLink
    saved_at: int
    ca_recipient: str | None = None


class HeadStore:
    """``{"format": 1, "heads": {"<ca_id>/<resource_id>": {seq, prev_hash, entry_hash, ...}}}``."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or user_home() / HEADS_FILE

    @staticmethod
    def key(ca_id: str, resource_id: int | str) -> str:
        return f"{ca_id}/{int(resource_id)}"

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text())
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise AuditHeadsUnreadable(
                f"{self.path} is not readable JSON ({type(exc).__name__})"
            ) from exc
        if not isinstance(data, dict) or not isinstance(data.get("heads"), dict):
            raise AuditHeadsUnreadable(f"{self.path} holds no table of audit heads")
        heads: dict[str, Any] = data["heads"]
        return heads

    def get(self, ca_id: str, resource_id: int | str) -> SavedHead | None:
        record = self._read().get(self.key(ca_id, resource_id))
        if record is None:
            return None
        try:
            link = ChainLink(
                seq=record["seq"], prev_hash=record["prev_hash"], entry_hash=record["entry_hash"]
            )
            return SavedHead(link, int(record.get("saved_at", 0)), record.get("ca_recipient"))
        except (KeyError, TypeError, ValueError) as exc:
            raise AuditHeadsUnreadable(
                f"the head remembered for {self.key(ca_id, resource_id)} in {self.path} is "
                "malformed"
            ) from exc

    def _write(self, heads: Mapping[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"format": _FORMAT, "heads": dict(heads)}, indent=2) + "\n")
        tmp.replace(self.path)

    def put(
        self,
        ca_id: str,
        resource_id: int | str,
        link: ChainLink,
        *,
        ca_recipient: str | None = None,
        now: int | None = None,
    ) -> None:
        heads = self._read()
        heads[self.key(ca_id, resource_id)] = {
            **link.model_dump(),
            "saved_at": int(time.time()) if now is None else now,
            "ca_recipient": ca_recipient,
        }
        self._write(heads)

    def forget(self, ca_id: str, resource_id: int | str) -> bool:
        heads = self._read()
        if heads.pop(self.key(ca_id, resource_id), None) is None:
            return False
        self._write(heads)
        return True


def check_view(view: AuditView, saved: SavedHead | None) -> ChainLink | None:
    """Verify ``view`` and that it still holds ``saved``; return its head (see the module doc)."""
    try:
        head = verify_audit_view(view)
    except AuditChainBroken as exc:
        raise AuditLogEdited(
            f"the CA's audit log does not verify: {exc.message}", seq=exc.seq
        ) from exc
    if saved is None:
        return head
    seen, when = saved.link, utc_date(saved.saved_at)
    if seen.seq > len(view.links):
        raise AuditLogRewound(
            f"the CA's audit log was REWOUND: it has {len(view.links)} entries, but on {when} "
            f"you saw it reach entry {seen.seq} (hash {seen.entry_hash[:16]}...)",
            seq=seen.seq,
        )
    now_there = view.links[seen.seq - 1]
    if now_there != seen:
        raise AuditLogRewound(
            f"the CA's audit log was REWOUND and rewritten: entry {seen.seq} is no longer the one "
            f"you saw on {when} (hash {seen.entry_hash[:16]}... then, "
            f"{now_there.entry_hash[:16]}... now)",
            seq=seen.seq,
        )
    return head


@dataclass(frozen=True)
class AuditLine:
    """One entry as a person reads it."""

    seq: int
    time: int
    event: str
    decision: str
    resource_ids: tuple[str, ...]
    enclave: str | None
    order: str | None
    customer: str | None
    reason: str
    guard: str | None
    message: str | None

    @property
    def date(self) -> str:
        return utc_date(self.time)

    @property
    def granted(self) -> bool:
        return self.decision in ("granted", "accepted")

    def outcome(self) -> str:
        """``granted``, or ``denied: REASON (guard GUARD): MESSAGE``."""
        if self.granted:
            return self.decision
        guard = self.guard or ""
        named = guard if guard.startswith("guard") else f"guard {guard}"  # the CA's guard_* names
        why = self.reason + (f" ({named})" if guard else "")
        return f"{self.decision}: {why}" + (f": {self.message}" if self.message else "")

    def to_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "time": self.time,
            "date": self.date,
            "event": self.event,
            "decision": self.decision,
            "granted": self.granted,
            "resource_ids": list(self.resource_ids),
            "enclave": self.enclave,
            "order": self.order,
            "customer": self.customer,
            "reason": self.reason,
            "guard": self.guard,
            "message": self.message,
            "outcome": self.outcome(),
        }


def _address(value: object) -> str | None:
    """An address as wallets show it (checksummed); the CA logs them lowercase."""
    if not value:
        return None
    text = str(value)
    return to_checksum_address(text) if is_address(text) else text


def describe(
    entries: list[AuditEntry], customer_of: Callable[[str], str | None] | None = None
) -> list[AuditLine]:
    """People's lines for ``entries``. A granted release names its customer; for a denial the
    CA does not record one, so ``customer_of(order_id)`` may look it up (on chain, in an index)."""
    found: dict[str, str | None] = {}

    def customer(entry: AuditEntry) -> str | None:
        named = entry.details.get("customer")
        if named or entry.order_id is None or customer_of is None:
            return _address(named)
        if entry.order_id not in found:
            found[entry.order_id] = _address(customer_of(entry.order_id))
        return found[entry.order_id]

    return [
        AuditLine(
            seq=entry.seq,
            time=entry.time,
            event=entry.event,
            decision=entry.decision,
            resource_ids=tuple(entry.resource_ids),
            enclave=_address(entry.enclave_address),
            order=entry.order_id,
            customer=customer(entry),
            reason=entry.reason,
            guard=entry.guard,
            message=str(entry.details["message"]) if entry.details.get("message") else None,
        )
        for entry in entries
    ]


class AuditWatcher:
    """Reads, checks and remembers one resource's view; ``poll`` returns only entries not yet
    returned by this watcher (all of them the first time)."""

    def __init__(
        self,
        fetch: Callable[[], AuditView],
        store: HeadStore,
        *,
        ca_recipient: str | None = None,
    ) -> None:
        self._fetch, self.store, self._recipient = fetch, store, ca_recipient
        self._last_seq = 0
        self.head: ChainLink | None = None

    def read(self) -> AuditView:
        try:
            return self._fetch()
        except AuditChainBroken as exc:  # a client that verifies before handing the view over
            raise AuditLogEdited(
                f"the CA's audit log does not verify: {exc.message}", seq=exc.seq
            ) from exc

    def poll(self) -> list[AuditEntry]:
        view = self.read()
        saved = self.store.get(view.ca_id, view.resource_id)
        try:
            head = check_view(view, saved)
        except AuditLogRewound as exc:
            if saved is None or not saved.ca_recipient or saved.ca_recipient == self._recipient:
                raise
            raise AuditLogRewound(  # still loud: a new key does not make a shorter log honest
                f"{exc.message}; the CA's key changed too since then (a new CA instance, as after "
                "a devnet reset, or one that lost its state)",
                seq=exc.seq,
            ) from exc
        if head is not None:
            self.store.put(view.ca_id, view.resource_id, head, ca_recipient=self._recipient)
        self.head = head
        new = [entry for entry in view.entries if entry.seq > self._last_seq]
        if view.entries:
            self._last_seq = max(self._last_seq, view.entries[-1].seq)
        return new
