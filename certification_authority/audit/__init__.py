"""The CA's append-only audit log: every key-broker decision, hash-chained, readable by owners.

``AuditLog`` stores entries. What an entry, a link and an owner's view are, and the verification
of the chain that anyone can run with no access to the CA, are protocol:
:mod:`enclava.protocol.audit`.
"""

from certification_authority.audit.errors import AuditError, AuditStorageError
from certification_authority.audit.log import AuditLog

__all__ = ["AuditLog", "AuditError", "AuditStorageError"]
