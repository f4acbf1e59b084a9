"""The CA's append-only audit log: every key-broker decision, hash-chained, readable by owners.

``AuditLog`` stores entries; ``verify_chain`` (a full log) and ``verify_audit_view`` (an owner's
view: all links plus their own entries) recompute the chain anywhere, with no access to the CA.
"""

from certification_authority.audit.canonical import canonical_json
from certification_authority.audit.chain import (
    entry_hash,
    verify_audit_view,
    verify_chain,
    verify_links,
)
from certification_authority.audit.errors import AuditChainBroken, AuditError, AuditStorageError
from certification_authority.audit.log import AuditLog
from certification_authority.audit.models import (
    GENESIS_HASH,
    AuditEntry,
    AuditEvent,
    AuditView,
    ChainLink,
    Decision,
)

__all__ = [
    "AuditLog",
    "AuditEntry",
    "AuditEvent",
    "AuditView",
    "ChainLink",
    "Decision",
    "GENESIS_HASH",
    "canonical_json",
    "entry_hash",
    "verify_chain",
    "verify_links",
    "verify_audit_view",
    "AuditError",
    "AuditChainBroken",
    "AuditStorageError",
]
