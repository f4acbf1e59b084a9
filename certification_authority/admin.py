"""Admin requests: revocations signed by a configured admin wallet, fresh and accepted once.

An admin signs (EIP-191 ``personal_sign``) the canonical JSON::

    {"domain": "enclava-ca-admin-revoke-v1", "ca_id", "kind" ("certificate" | "enclave"),
     "subject" (normalized: serial hex / lowercase address), "reason", "issued_at"}

:class:`AdminGate` checks, in order: the CA id, ``issued_at`` within the window, the signature, the
signer in ``CA_ADMIN_ADDRESSES`` (an empty list refuses everyone), and that this exact message was
never accepted before (its SHA-256 is stored in the CA's database, so a replay is refused after a
restart too). Every refusal is appended to the audit log before it is raised; an accepted request
is logged by the revocation it authorises (``details.by``).
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Iterable
from typing import Annotated, Any, Literal

from eth_account.signers.local import LocalAccount
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy.orm import Session, sessionmaker

from certification_authority.audit import AuditLog
from certification_authority.broker.errors import BrokerError
from certification_authority.broker.signing import authenticate
from certification_authority.db import AdminRequestRow, write_transaction
from certification_authority.errors import (
    AdminNotAuthorized,
    AdminRefused,
    AdminRequestInvalid,
    AdminRequestReplayed,
)
from enclava.errors import ConfigError, EnclavaError
from enclava.logs import get_logger
from enclava.protocol.audit import AuditEvent, Decision
from enclava.protocol.broker import DEFAULT_SIGNATURE_WINDOW_S, sign_text
from enclava.protocol.broker.fields import (
    Address,
    SignatureHex,
    UnixTime,
    normalize_address,
    normalize_serial,
)
from enclava.protocol.canonical import canonical_json

__all__ = [
    "ADMIN_REVOKE_DOMAIN",
    "RevocationRequest",
    "revocation_message",
    "build_revocation_request",
    "parse_admin_addresses",
    "AdminGate",
]

log = get_logger("enclava.ca.admin")
ADMIN_REVOKE_DOMAIN = "enclava-ca-admin-revoke-v1"


class RevocationRequest(BaseModel):
    """``POST /v1/revocations``: revoke a certificate serial or an enclave address, signed by an
    admin."""

    model_config = ConfigDict(extra="forbid")

    ca_id: Annotated[str, Field(min_length=1, max_length=128)]
    kind: Literal["certificate", "enclave"]
    subject: Annotated[str, Field(min_length=1, max_length=80)]
    reason: Annotated[str, Field(min_length=1, max_length=500)]
    admin: Address
    issued_at: UnixTime
    signature: SignatureHex


def normalized_subject(kind: str, subject: str | int) -> str:
    """The one spelling of a revoked subject (as the broker stores it), or ``AdminRefused``."""
    try:
        return normalize_address(subject) if kind == "enclave" else normalize_serial(subject)
    except (ValueError, TypeError) as exc:
        raise AdminRequestInvalid(
            f"the {kind} to revoke is malformed: {exc}",
            hint="Give a certificate serial (hex) or an enclave address (0x + 40 hex).",
        ) from exc


def revocation_message(
    *, ca_id: str, kind: str, subject: str | int, reason: str, issued_at: int
) -> str:
    return canonical_json(
        {
            "domain": ADMIN_REVOKE_DOMAIN,
            "ca_id": ca_id,
            "kind": kind,
            "subject": normalized_subject(kind, subject),
            "reason": reason,
            "issued_at": int(issued_at),
        }
    ).decode("ascii")


def build_revocation_request(
    admin_account: LocalAccount,
    ca_id: str,
    kind: Literal["certificate", "enclave"],
    subject: str | int,
    reason: str,
    *,
    issued_at: int | None = None,
) -> RevocationRequest:
    """Sign a revocation with an admin's eth-account ``LocalAccount``."""
    issued_at = int(time.time()) if issued_at is None else issued_at
    subject = normalized_subject(kind, subject)
    message = revocation_message(
        ca_id=ca_id, kind=kind, subject=subject, reason=reason, issued_at=issued_at
    )
    return RevocationRequest(
        ca_id=ca_id,
        kind=kind,
        subject=subject,
        reason=reason,
        admin=admin_account.address,
        issued_at=issued_at,
        signature=sign_text(admin_account, message),
    )


def parse_admin_addresses(value: str | Iterable[str]) -> frozenset[str]:
    """``CA_ADMIN_ADDRESSES``: comma-separated (or a list of) addresses, normalized lowercase."""
    items = value.split(",") if isinstance(value, str) else list(value)
    try:
        return frozenset(normalize_address(item.strip()) for item in items if item.strip())
    except ValueError as exc:
        raise ConfigError(
            f"CA_ADMIN_ADDRESSES holds a malformed address: {exc}",
            hint="List 0x-prefixed 20-byte addresses, separated by commas.",
        ) from exc


class AdminGate:
    """Authenticates admin requests against the configured admins; one accepted use per message."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        audit: AuditLog,
        *,
        admins: Iterable[str] | str,
        ca_id: str,
        clock: Callable[[], float] = time.time,
        window_s: int = DEFAULT_SIGNATURE_WINDOW_S,
        lock: threading.Lock | threading.RLock | None = None,
    ) -> None:
        self.admins = parse_admin_addresses(admins)
        self._sessions, self._audit, self._ca_id = sessions, audit, ca_id
        self._clock, self._window = clock, window_s
        self._lock = lock or threading.RLock()

    def parse(self, body: object) -> RevocationRequest:
        """A ``RevocationRequest`` from a JSON body; anything else is a logged
        ``AdminRequestInvalid``."""
        try:
            if isinstance(body, bytes | str):
                return RevocationRequest.model_validate_json(body)
            return RevocationRequest.model_validate(body)
        except ValidationError as exc:
            fields = "; ".join(
                f"{'.'.join(map(str, err['loc'])) or 'request'}: {err['msg']}"
                for err in exc.errors()[:5]
            )
            refusal = AdminRequestInvalid(f"not a signed revocation request: {fields}")
            claimed = body.get("admin") if isinstance(body, dict) else None
            self._log_refusal(
                refusal, {"claimed_admin": str(claimed)[:64] if claimed is not None else None}
            )
            raise refusal from exc

    def authorize_revocation(self, request: RevocationRequest) -> str:
        """The admin's (lowercase) address, or a logged ``AdminRefused`` / ``SignatureError``."""
        now = int(self._clock())
        try:
            message = revocation_message(
                ca_id=request.ca_id,
                kind=request.kind,
                subject=request.subject,
                reason=request.reason,
                issued_at=request.issued_at,
            )
            signer = authenticate(
                message=message,
                signature=request.signature,
                claimed_owner=request.admin,
                ca_id=request.ca_id,
                expected_ca_id=self._ca_id,
                issued_at=request.issued_at,
                now=now,
                window_s=self._window,
            )
            if signer not in self.admins:
                raise AdminNotAuthorized(f"{signer} is not a CA admin")
            digest = hashlib.sha256(message.encode()).hexdigest()
            write_transaction(
                self._sessions,
                lambda session: self._use_once(session, digest, signer, request, now),
                lock=self._lock,
            )
        except (AdminRefused, BrokerError) as refusal:
            self._refused(request, refusal)
            raise
        log.warning(
            "admin request accepted", extra={"admin": signer, "action": f"revoke_{request.kind}"}
        )
        return signer

    @staticmethod
    def _use_once(
        session: Session, digest: str, signer: str, request: RevocationRequest, now: int
    ) -> None:
        if session.get(AdminRequestRow, digest) is not None:
            raise AdminRequestReplayed("this signed admin request was already used")
        session.add(
            AdminRequestRow(
                digest=digest,
                admin=signer,
                action=f"revoke_{request.kind}",
                issued_at=request.issued_at,
                used_at=now,
            )
        )
        session.flush()

    def _refused(self, request: RevocationRequest, refusal: EnclavaError) -> None:
        self._log_refusal(
            refusal,
            {"claimed_admin": request.admin, "kind": request.kind, "subject": request.subject},
        )

    def _log_refusal(self, refusal: EnclavaError, details: dict[str, Any]) -> None:
        log.warning(
            "admin request refused",
            extra={"claimed_admin": details.get("claimed_admin"), "type": refusal.code},
        )
        self._audit.record(
            event=AuditEvent.REVOCATION,
            decision=Decision.REFUSED,
            reason=refusal.code,
            details={**details, "message": refusal.message},
        )
