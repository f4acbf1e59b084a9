"""Errors of the audit log. Hierarchy::

EnclavaError
└── AuditError              audit_error          base of the audit log's failures
    ├── AuditChainBroken    audit_chain_broken   a recomputed hash or a link does not match: an
    │                                            entry was edited, removed or reordered
    └── AuditStorageError   audit_storage_error  the database behind the log failed
"""

from __future__ import annotations

from enclava.errors import EnclavaError

__all__ = ["AuditError", "AuditChainBroken", "AuditStorageError"]


class AuditError(EnclavaError):
    code = "audit_error"
    hint = "See the CA's logs for details."
    http_status = 400


class AuditChainBroken(AuditError):
    """``seq`` is the first chain position that does not verify (None when the chain is empty)."""

    code = "audit_chain_broken"
    hint = (
        "The audit log was altered: an entry was edited, removed or reordered. Keep the copy you "
        "have, stop trusting the CA and report it to its operator."
    )
    http_status = 409

    def __init__(self, message: str, *, seq: int | None = None) -> None:
        super().__init__(message)
        self.seq = seq


class AuditStorageError(AuditError):
    code = "audit_storage_error"
    hint = "The CA's database failed; check its disk and connection, then retry."
    http_status = 503
