"""Errors of the audit log. Hierarchy::

EnclavaError
└── AuditError              audit_error          base of the audit log's failures
    └── AuditStorageError   audit_storage_error  the database behind the log failed

A chain that does not verify is :class:`enclava.protocol.errors.AuditChainBroken`: owners check
the chain on their side too.
"""

from __future__ import annotations

from enclava.errors import EnclavaError

__all__ = ["AuditError", "AuditStorageError"]


class AuditError(EnclavaError):
    code = "audit_error"
    hint = "See the CA's logs for details."
    http_status = 400


class AuditStorageError(AuditError):
    code = "audit_storage_error"
    hint = "The CA's database failed; check its disk and connection, then retry."
    http_status = 503
