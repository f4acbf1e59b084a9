"""What the audit log holds and shows: entries, the links of the hash chain, an owner's view.

An entry's hash covers every field but ``entry_hash`` itself::

    entry_hash = SHA-256(bytes.fromhex(prev_hash) || canonical_json(body))

with ``prev_hash`` of the first entry :data:`GENESIS_HASH`. Offer ids are decimal strings (they are
uint256 on chain, beyond JSON's safe integers).
"""

from __future__ import annotations

import enum
from typing import Any

from pydantic import BaseModel, ConfigDict

__all__ = ["GENESIS_HASH", "AuditEvent", "Decision", "AuditEntry", "ChainLink", "AuditView"]

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
    """One decision. ``reason`` is an error code (or ``ok``); ``guard`` names the guard that refused."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    seq: int
    time: int
    event: str
    offer_ids: list[str]
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
    """What an owner reads: every link of the chain, and the full entries about their offer.

    The links let the owner check that their entries sit, unaltered and in order, in the one chain
    the CA keeps, without seeing the contents of other owners' entries.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    ca_id: str
    offer_id: str
    links: list[ChainLink]
    entries: list[AuditEntry]

    @property
    def head(self) -> ChainLink | None:
        """The newest link: keep it, and pass it as ``anchor`` next time to detect a rewound log."""
        return self.links[-1] if self.links else None
