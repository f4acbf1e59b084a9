"""The broker's rows: deposits with their policy history, use counts, and revocations.

Functions take the caller's session, so a decision, its state change and its audit entry commit
in one transaction. Uses are counted with one conditional ``UPDATE`` (``uses < max_uses`` and the
version still current), which is atomic even when several CA processes share the database.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, cast

from pydantic import ValidationError
from sqlalchemy import CursorResult, delete, select, update
from sqlalchemy.orm import Session

from certification_authority.broker.errors import BrokerStorageError, DepositReplayed
from certification_authority.db import (
    PolicyVersionRow,
    ReleaseRequestRow,
    ResourceKeyRow,
    RevocationRow,
)
from enclava.protocol.broker import DepositRequest, KeyPolicy

__all__ = [
    "StoredDeposit",
    "load_deposit",
    "save_deposit",
    "consume_use",
    "find_revocation",
    "add_revocation",
    "list_revocations",
    "claim_release_request",
]


@dataclass(frozen=True)
class StoredDeposit:
    resource_id: int
    owner: str
    version: int
    ciphertext: bytes = field(repr=False)  # age ciphertext to the CA
    ciphertext_sha256: str
    policy: KeyPolicy
    issued_at: int
    deposited_at: int
    uses: int

    @property
    def uses_left(self) -> int | None:
        return None if self.policy.max_uses is None else max(self.policy.max_uses - self.uses, 0)


def _stored(row: ResourceKeyRow) -> StoredDeposit:
    try:
        policy = KeyPolicy.model_validate_json(row.policy_json)
    except ValidationError as exc:
        raise BrokerStorageError(
            f"the stored policy of resource {row.resource_id} is corrupt"
        ) from exc
    return StoredDeposit(
        resource_id=int(row.resource_id),
        owner=row.owner,
        version=row.version,
        ciphertext=row.ciphertext,
        ciphertext_sha256=row.ciphertext_sha256,
        policy=policy,
        issued_at=row.issued_at,
        deposited_at=row.deposited_at,
        uses=row.uses,
    )


def load_deposit(session: Session, resource_id: int) -> StoredDeposit | None:
    row = session.get(ResourceKeyRow, str(resource_id))
    return _stored(row) if row is not None else None


def save_deposit(session: Session, request: DepositRequest, *, now: int) -> StoredDeposit:
    """Store ``request`` as the resource's current deposit (version + 1, uses reset) and in the
    history.

    A request not newer (by ``issued_at``) than the stored one is a replay and is refused, so a
    captured request can neither roll a policy back nor reset its use count.
    """
    row = session.get(ResourceKeyRow, str(request.resource_id))
    if row is not None and request.issued_at <= row.issued_at:
        raise DepositReplayed(
            f"resource {request.resource_id} already has a deposit issued at {row.issued_at}; "
            f"this one was issued at {request.issued_at}"
        )
    policy_json = request.policy.model_dump_json()
    version = row.version + 1 if row is not None else 1
    if row is None:
        row = ResourceKeyRow(resource_id=str(request.resource_id))
        session.add(row)
    row.owner, row.version, row.ciphertext = request.owner, version, request.ciphertext
    row.ciphertext_sha256, row.policy_json = request.ciphertext_sha256, policy_json
    row.issued_at, row.deposited_at, row.uses, row.max_uses = (
        request.issued_at,
        now,
        0,
        request.policy.max_uses,
    )
    session.add(
        PolicyVersionRow(
            resource_id=str(request.resource_id),
            version=version,
            owner=request.owner,
            ciphertext_sha256=request.ciphertext_sha256,
            policy_json=policy_json,
            issued_at=request.issued_at,
            deposited_at=now,
        )
    )
    session.flush()
    return _stored(row)


def consume_use(session: Session, deposit: StoredDeposit) -> bool:
    """Count one use of ``deposit``; False if none is left or the deposit was replaced meanwhile."""
    limit = ResourceKeyRow.max_uses.is_(None) | (ResourceKeyRow.uses < ResourceKeyRow.max_uses)
    result = session.execute(
        update(ResourceKeyRow)
        .where(
            ResourceKeyRow.resource_id == str(deposit.resource_id),
            ResourceKeyRow.version == deposit.version,
            limit,
        )
        .values(uses=ResourceKeyRow.uses + 1)
        .execution_options(synchronize_session=False)
    )
    return int(cast("CursorResult[Any]", result).rowcount) == 1


def find_revocation(session: Session, kind: str, subject: str) -> RevocationRow | None:
    return session.get(RevocationRow, (kind, subject))


def add_revocation(
    session: Session, kind: str, subject: str, reason: str, *, now: int, audit_seq: int
) -> RevocationRow:
    """Record a revocation (permanent: there is no way to lift one)."""
    row = RevocationRow(
        kind=kind, subject=subject, reason=reason, revoked_at=now, audit_seq=audit_seq
    )
    session.add(row)
    session.flush()
    return row


def list_revocations(session: Session) -> list[RevocationRow]:
    return list(session.scalars(select(RevocationRow).order_by(RevocationRow.revoked_at)))


def claim_release_request(
    session: Session, enclave: str, request_nonce: str, *, now: int, expires_at: int
) -> bool:
    """Remember ``(enclave, request_nonce)``; False if it was seen already (a replay).

    Expired rows are forgotten first: a request whose nonce expired is refused as stale anyway.
    Inside :func:`certification_authority.db.write_transaction` the check and the insert are one
    transaction holding the write lock (SQLite), and the primary key refuses a concurrent twin
    elsewhere (the retry then finds the row).
    """
    session.execute(delete(ReleaseRequestRow).where(ReleaseRequestRow.expires_at < now))
    if session.get(ReleaseRequestRow, (enclave, request_nonce)) is not None:
        return False
    session.add(
        ReleaseRequestRow(
            enclave_address=enclave, request_nonce=request_nonce, seen_at=now, expires_at=expires_at
        )
    )
    session.flush()
    return True
