"""The key broker: the CA's security policy engine. Routes parse requests and call these methods.

``deposit``         an owner's signed resource key and policy (replaces the previous version)
``release``         an order's keys for a certified enclave, once per request nonce, after the
                    guards of :mod:`.guards`
``check_policy``    a customer's signed pre-check, before paying: would the owners' policies
                    (guard 6, the same function) admit this engine, customer and TEE offer
                    (its type, and the GPU class it promises)?
``revoke_*``        permanent revocation of a certificate serial or an enclave address
``audit_for_owner`` an owner's signed read of the audit log about one of their resources

Every decision lands in the hash-chained audit log in the same transaction as its effect. A
pre-check decides nothing and has no effect (nothing is released or counted), so it is not audited;
it leaves one debug line without the request's details. Keys are
kept only as age ciphertext to the CA; the CA identity opens one in memory to re-wrap it to an
enclave, and no key material is ever logged.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Literal, TypeVar

import pyrage
from pydantic import BaseModel, ValidationError
from pyrage import x25519
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from certification_authority.audit import AuditLog
from certification_authority.broker import errors as e
from certification_authority.broker import store
from certification_authority.broker.chain import ChainView
from certification_authority.broker.guards import (
    PolicySubject,
    ReleaseContext,
    outside,
    policy_refusal,
)
from certification_authority.broker.models import (
    DepositReceipt,
    DepositStatus,
    Revocation,
    VerifiedEnclave,
    WrappedKey,
)
from certification_authority.broker.order_inputs import require_order_customer, save_order_inputs
from certification_authority.broker.release import (
    BrokerParts,
    admit_release,
    normalize_enclave,
    release_keys,
    requested_resources,
)
from certification_authority.broker.service_release import is_service, release_service_key
from certification_authority.broker.signing import authenticate
from certification_authority.db import open_database, write_transaction
from enclava.attestation.verifiers import MeasurementAllowList
from enclava.errors import ConfigError
from enclava.logs import get_logger
from enclava.protocol.audit import AuditEvent, AuditView, Decision
from enclava.protocol.broker import (
    DEFAULT_SIGNATURE_WINDOW_S,
    AuditReadRequest,
    DepositRequest,
    OrderInputsDeposit,
    audit_read_message,
    deposit_message,
    order_inputs_message,
)
from enclava.protocol.broker.fields import (
    normalize_address,
    normalize_order_id,
    normalize_serial,
)
from enclava.protocol.broker.requests import (
    PolicyCheckAnswer,
    PolicyCheckRequest,
    ResourceVerdict,
    policy_check_message,
)
from enclava.protocol.errors import ReleaseRequestInvalid
from enclava.protocol.key_release import normalize_request_nonce

__all__ = ["KeyBroker"]

log = get_logger("enclava.ca.broker")
M = TypeVar("M", bound=BaseModel)


@contextmanager
def _storage(what: str) -> Iterator[None]:
    try:
        yield
    except SQLAlchemyError as exc:
        raise e.BrokerStorageError(
            f"the key broker's database failed while it tried to {what}"
        ) from exc


def _parse(model: type[M], request: object) -> M:
    if isinstance(request, model):
        return request
    try:
        if isinstance(request, str | bytes):
            return model.model_validate_json(request)
        return model.model_validate(request)
    except ValidationError as exc:
        fields = "; ".join(
            f"{'.'.join(map(str, err['loc'])) or 'request'}: {err['msg']}"
            for err in exc.errors()[:5]
        )
        raise e.BrokerRequestInvalid(f"invalid {model.__name__}: {fields}") from exc


def _revocation_kind(kind: str) -> Literal["certificate", "enclave"]:
    """A stored revocation's kind (the table holds only the two the admin request allows)."""
    if kind not in ("certificate", "enclave"):
        raise e.BrokerStorageError(f"the revocation table holds an unknown kind {kind!r}")
    return "certificate" if kind == "certificate" else "enclave"


class KeyBroker:
    """The policy engine over one database (a URL, an engine or a session factory; None: the default
    SQLite file). ``ca_identity`` is the CA's age identity, held in memory only; ``clock`` gives
    unix seconds; signed owner requests are accepted ``signature_window_s`` after they were issued.
    """

    def __init__(
        self,
        db: str | Engine | sessionmaker[Session] | None,
        ca_identity: x25519.Identity | str,
        ca_id: str,
        chain: ChainView,
        allow_list: MeasurementAllowList,
        *,
        clock: Callable[[], float] = time.time,
        signature_window_s: int = DEFAULT_SIGNATURE_WINDOW_S,
    ) -> None:
        if isinstance(ca_identity, str):
            try:
                ca_identity = x25519.Identity.from_str(ca_identity)
            except pyrage.IdentityError as exc:
                raise ConfigError("the CA's age identity is malformed") from exc
        if not isinstance(ca_identity, x25519.Identity):
            raise ConfigError("the CA's age identity must be a pyrage x25519 Identity")
        if not isinstance(ca_id, str) or not ca_id:
            raise ConfigError("the CA id must be a non-empty string")
        if not isinstance(chain, ChainView) or not isinstance(allow_list, MeasurementAllowList):
            raise ConfigError("chain must implement ChainView and allow_list MeasurementAllowList")
        self.ca_id = ca_id
        self._identity = ca_identity
        self._clock = clock
        self._window = signature_window_s
        self._chain = chain
        self._lock = threading.RLock()
        with _storage("open"):
            self._sessions = open_database(db)
        self.audit = AuditLog(self._sessions, clock=clock, lock=self._lock)
        self._parts = BrokerParts(
            sessions=self._sessions,
            lock=self._lock,
            audit=self.audit,
            chain=chain,
            allow_list=allow_list,
            identity=ca_identity,
            load_deposit=self._load_deposit,
        )

    def close(self) -> None:
        """Release the database connections (the broker's state stays on disk)."""
        self._sessions.kw["bind"].dispose()

    def __repr__(self) -> str:
        return f"KeyBroker(ca_id={self.ca_id!r})"

    @property
    def ca_recipient(self) -> str:
        """The CA's age recipient (public): owners encrypt their resource keys to it."""
        return str(self._identity.to_public())

    def _now(self) -> int:
        return int(self._clock())

    # -- deposits
    # ---------------------------------------------------------------------------------------

    def deposit(self, request: DepositRequest | Mapping[str, Any] | str | bytes) -> DepositReceipt:
        """Store an owner's resource key and policy; refusals are logged and raised."""
        now, req = self._now(), _parse(DepositRequest, request)
        try:
            signer = authenticate(
                message=deposit_message(
                    ca_id=req.ca_id,
                    resource_id=req.resource_id,
                    ciphertext_sha256=req.ciphertext_sha256,
                    policy=req.policy,
                    issued_at=req.issued_at,
                ),
                signature=req.signature,
                claimed_owner=req.owner,
                ca_id=req.ca_id,
                expected_ca_id=self.ca_id,
                issued_at=req.issued_at,
                now=now,
                window_s=self._window,
            )
            self._require_owner(req.resource_id, signer)
            self._require_opens(req.ciphertext)
            with _storage("store a deposit"):
                receipt = write_transaction(
                    self._sessions, lambda session: self._store(session, req, now), lock=self._lock
                )
        except e.BrokerError as refusal:
            log.info(
                "deposit refused", extra={"resource_id": str(req.resource_id), "type": refusal.code}
            )
            if not isinstance(refusal, e.BrokerStorageError):
                self.audit.record(
                    event=AuditEvent.KEY_DEPOSIT,
                    decision=Decision.REFUSED,
                    reason=refusal.code,
                    resource_ids=[req.resource_id],
                    details={
                        "claimed_owner": req.owner,
                        "message": refusal.message,
                        "ciphertext_sha256": req.ciphertext_sha256,
                    },
                )
            raise
        log.info(
            "deposit accepted",
            extra={"resource_id": str(req.resource_id), "version": receipt.version},
        )
        return receipt

    def deposit_order_inputs(
        self, request: OrderInputsDeposit | Mapping[str, Any] | str | bytes
    ) -> dict[str, Any]:
        """Store the key of an order's own inputs, deposited by the order's customer."""
        now, req = self._now(), _parse(OrderInputsDeposit, request)
        try:
            signer = authenticate(
                message=order_inputs_message(
                    ca_id=req.ca_id,
                    order_id=req.order_id,
                    ciphertext_sha256=req.ciphertext_sha256,
                    issued_at=req.issued_at,
                ),
                signature=req.signature,
                claimed_owner=req.customer,
                ca_id=req.ca_id,
                expected_ca_id=self.ca_id,
                issued_at=req.issued_at,
                now=now,
                window_s=self._window,
            )
            with outside("reading the order", "order"):
                order = self._chain.order(req.order_id)
            require_order_customer(order, req.order_id, signer)
            self._require_opens(req.ciphertext)
            with _storage("store an order's inputs key"):
                seq = write_transaction(
                    self._sessions,
                    lambda session: save_order_inputs(session, self.audit, req, now=now),
                    lock=self._lock,
                )
        except e.BrokerError as refusal:
            log.info(
                "order inputs deposit refused",
                extra={"order_id": req.order_id, "type": refusal.code},
            )
            raise
        log.info("order inputs deposit accepted", extra={"order_id": req.order_id})
        return {
            "order_id": req.order_id,
            "customer": req.customer,
            "ciphertext_sha256": req.ciphertext_sha256,
            "deposited_at": now,
            "audit_seq": seq,
        }

    def _store(self, session: Session, req: DepositRequest, now: int) -> DepositReceipt:
        stored = store.save_deposit(session, req, now=now)
        entry = self.audit.append(
            session,
            event=AuditEvent.KEY_DEPOSIT,
            decision=Decision.ACCEPTED,
            reason="ok",
            resource_ids=[req.resource_id],
            details={
                "owner": req.owner,
                "version": stored.version,
                "ciphertext_sha256": stored.ciphertext_sha256,
                "policy": req.policy.model_dump(mode="json"),
            },
        )
        return DepositReceipt(
            resource_id=req.resource_id,
            owner=req.owner,
            version=stored.version,
            ciphertext_sha256=stored.ciphertext_sha256,
            policy=req.policy,
            deposited_at=now,
            audit_seq=entry.seq,
            audit_entry_hash=entry.entry_hash,
        )

    def _require_owner(self, resource_id: int, signer: str) -> None:
        with outside("reading the resource's owner", "owner"):
            found = self._chain.resource_owner(resource_id)
            owner = None if found is None else normalize_address(found)
        if owner is None:
            raise e.ResourceNotFound(f"resource {resource_id} does not exist on chain")
        if owner != signer:
            raise e.NotResourceOwner(f"{signer} does not own resource {resource_id}")

    def _require_opens(self, ciphertext: bytes) -> None:
        try:
            opened = pyrage.decrypt(ciphertext, [self._identity])
        except pyrage.DecryptError as exc:
            raise e.CiphertextNotForCa("the CA's identity cannot decrypt this ciphertext") from exc
        if not opened:
            raise e.CiphertextNotForCa("the deposited key is empty")

    def _load_deposit(self, resource_id: int) -> store.StoredDeposit | None:
        with _storage("read a deposit"), self._sessions() as session:
            return store.load_deposit(session, resource_id)

    def deposit_status(self, resource_id: int) -> DepositStatus | None:
        """The resource's current deposit (policy, version, uses; never the key), or None."""
        found = self._load_deposit(resource_id)
        if found is None:
            return None
        return DepositStatus(
            resource_id=resource_id,
            owner=found.owner,
            version=found.version,
            ciphertext_sha256=found.ciphertext_sha256,
            policy=found.policy,
            deposited_at=found.deposited_at,
            uses=found.uses,
            uses_left=found.uses_left,
        )

    # -- releases
    # ---------------------------------------------------------------------------------------

    def release(
        self,
        enclave: VerifiedEnclave,
        order_id: int | str,
        resource_ids: Iterable[int] | None = None,
        *,
        request_nonce: str,
        issued_at: int | None = None,
    ) -> list[WrappedKey]:
        """Every key of the order (or of ``resource_ids``), wrapped to the enclave, or a
        ``ReleaseDenied``.

        ``request_nonce`` (32 bytes hex) is the enclave's signed request's: accepted once per
        enclave (``ReleaseReplayed`` after that, spending nothing); ``issued_at`` is the request's
        (None: now).
        """
        normalized = normalize_enclave(enclave)
        try:
            order_key = normalize_order_id(order_id)
        except ValueError as exc:
            raise e.BrokerRequestInvalid(f"order_id: {exc}") from exc
        try:
            nonce = normalize_request_nonce(request_nonce)
        except ReleaseRequestInvalid as exc:
            raise e.BrokerRequestInvalid(exc.message) from exc
        requested = requested_resources(resource_ids)
        now = self._now()
        ctx = ReleaseContext(
            enclave=normalized,
            order_id=order_key,
            now=now,
            chain=self._chain,
            allow_list=self._parts.allow_list,
            is_revoked=self._is_revoked,
        )
        try:
            with _storage("release keys"):
                admit_release(
                    self._parts,
                    ctx,
                    requested,
                    request_nonce=nonce,
                    issued_at=now if issued_at is None else int(issued_at),
                )
                if is_service(self._parts, ctx, requested):
                    keys = release_service_key(self._parts, ctx, requested)
                else:
                    keys = release_keys(self._parts, ctx, requested)
        except e.BrokerError as refusal:
            log.info(
                "key release denied",
                extra={
                    "order_id": order_key,
                    "enclave": normalized.enclave_address,
                    "type": refusal.code,
                },
            )
            raise
        log.info(
            "key release granted",
            extra={
                "order_id": order_key,
                "enclave": normalized.enclave_address,
                "resources": [str(k.resource_id) for k in keys],
            },
        )
        return keys

    # -- pre-checks
    # -------------------------------------------------------------------------------------

    def check_policy(
        self, request: PolicyCheckRequest | Mapping[str, Any] | str | bytes
    ) -> PolicyCheckAnswer:
        """Each resource's verdict under its owner's policy, for the signing customer's order.

        Runs :func:`.guards.policy_refusal`, the body of the release's ``guard_policy_allows``,
        with what is known before an order exists (no enclave: its measurement is not checked).
        Reads only; a refusal is an answer, not an error.
        """
        now, req = self._now(), _parse(PolicyCheckRequest, request)
        signer = authenticate(
            message=policy_check_message(**req.model_dump(exclude={"signature"})),
            signature=req.signature,
            claimed_owner=req.customer,
            ca_id=req.ca_id,
            expected_ca_id=self.ca_id,
            issued_at=req.issued_at,
            now=now,
            window_s=self._window,
        )
        subject = PolicySubject(
            engine_hash=req.engine_hash,
            customer=signer,
            tee_type=int(req.tee_type),
            simulated=req.simulated,
            measurement=None,
            gpu_class=req.gpu_class,
        )
        verdicts = []
        for resource_id in dict.fromkeys(req.resource_ids):
            try:
                policy_refusal(subject, resource_id, self._load_deposit(resource_id), now)
            except e.ReleaseDenied as refusal:
                verdicts.append(
                    ResourceVerdict(
                        resource_id=resource_id,
                        allowed=False,
                        reason=refusal.code,
                        guard=refusal.guard,
                        message=refusal.message,
                        hint=refusal.hint,
                    )
                )
            else:
                verdicts.append(ResourceVerdict(resource_id=resource_id, allowed=True))
        answer = PolicyCheckAnswer(allowed=all(v.allowed for v in verdicts), resources=verdicts)
        log.debug("policy pre-check answered", extra={"allowed": answer.allowed})
        return answer

    # -- revocations
    # ------------------------------------------------------------------------------------

    def revoke_certificate(
        self, serial: int | str, reason: str, *, by: str | None = None
    ) -> Revocation:
        """Revoke a certificate serial (``by``: the admin who asked, recorded in the audit log)."""
        try:
            subject = normalize_serial(serial)
        except ValueError as exc:
            raise e.BrokerRequestInvalid(f"serial: {exc}") from exc
        return self._revoke("certificate", subject, reason, by)

    def revoke_enclave(self, address: str, reason: str, *, by: str | None = None) -> Revocation:
        """Revoke an enclave address (``by``: the admin who asked, recorded in the audit log)."""
        try:
            subject = normalize_address(address)
        except ValueError as exc:
            raise e.BrokerRequestInvalid(f"address: {exc}") from exc
        return self._revoke("enclave", subject, reason, by)

    def _revoke(self, kind: str, subject: str, reason: str, by: str | None = None) -> Revocation:
        if not isinstance(reason, str) or not 1 <= len(reason) <= 500:
            raise e.BrokerRequestInvalid("a revocation reason is 1 to 500 characters")
        now = self._now()

        def work(session: Session) -> Revocation:
            row = store.find_revocation(session, kind, subject)
            admin = {} if by is None else {"by": by}
            if row is None:
                entry = self.audit.append(
                    session,
                    event=AuditEvent.REVOCATION,
                    decision=Decision.REVOKED,
                    reason=f"{kind}_revoked",
                    details={"kind": kind, "subject": subject, "message": reason, **admin},
                )
                row = store.add_revocation(
                    session, kind, subject, reason, now=now, audit_seq=entry.seq
                )
            elif (
                by is not None
            ):  # an admin's repeated request is a decision too: logged, changes nothing
                self.audit.append(
                    session,
                    event=AuditEvent.REVOCATION,
                    decision=Decision.ACCEPTED,
                    reason="already_revoked",
                    details={"kind": kind, "subject": subject, "message": reason, **admin},
                )
            return Revocation(
                kind=_revocation_kind(row.kind),
                subject=row.subject,
                reason=row.reason,
                revoked_at=row.revoked_at,
                audit_seq=row.audit_seq,
            )

        with _storage("revoke"):
            revocation = write_transaction(self._sessions, work, lock=self._lock)
        log.warning("revoked", extra={"kind": kind, "subject": subject})
        return revocation

    def _is_revoked(self, kind: str, subject: str) -> bool:
        with _storage("read revocations"), self._sessions() as session:
            return store.find_revocation(session, kind, subject) is not None

    def is_revoked(
        self, *, serial: int | str | None = None, enclave_address: str | None = None
    ) -> bool:
        """True if the certificate serial or the enclave address (either given) is revoked."""
        try:
            checks = ([("certificate", normalize_serial(serial))] if serial is not None else []) + (
                [("enclave", normalize_address(enclave_address))]
                if enclave_address is not None
                else []
            )
        except ValueError as exc:
            raise e.BrokerRequestInvalid(f"is_revoked: {exc}") from exc
        if not checks:
            raise e.BrokerRequestInvalid("is_revoked needs a serial or an enclave address")
        return any(self._is_revoked(kind, subject) for kind, subject in checks)

    def revocations(self) -> list[Revocation]:
        with _storage("list revocations"), self._sessions() as session:
            return [
                Revocation(
                    kind=_revocation_kind(r.kind),
                    subject=r.subject,
                    reason=r.reason,
                    revoked_at=r.revoked_at,
                    audit_seq=r.audit_seq,
                )
                for r in store.list_revocations(session)
            ]

    # -- audit
    # ------------------------------------------------------------------------------------------

    def audit_for_owner(
        self, request: AuditReadRequest | Mapping[str, Any] | str | bytes
    ) -> AuditView:
        """Every link of the chain, and the full entries about the owner's resource."""
        now, req = self._now(), _parse(AuditReadRequest, request)
        try:
            signer = authenticate(
                message=audit_read_message(
                    ca_id=req.ca_id, resource_id=req.resource_id, issued_at=req.issued_at
                ),
                signature=req.signature,
                claimed_owner=req.owner,
                ca_id=req.ca_id,
                expected_ca_id=self.ca_id,
                issued_at=req.issued_at,
                now=now,
                window_s=self._window,
            )
            self._require_owner(req.resource_id, signer)
        except e.BrokerError as refusal:
            log.info(
                "audit read refused",
                extra={"resource_id": str(req.resource_id), "type": refusal.code},
            )
            raise
        return self.audit.view_for_resource(self.ca_id, req.resource_id)
