"""The broker's requests and answers (pydantic v2, ready to expose in routes) and the enclave it serves.

A ``DepositRequest`` and an ``AuditReadRequest`` are signed by the offer owner's wallet over the
canonical messages of :mod:`certification_authority.broker.signing`; build them with
:mod:`certification_authority.broker.client`. Lists in a policy are normalized (lowercase, sorted,
without duplicates) before they are signed, so signer and verifier serialize the same bytes.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from certification_authority.broker.fields import (
    Address,
    Base64Blob,
    Bytes32Hex,
    MeasurementHex,
    OfferId,
    SignatureHex,
    TeeCode,
    UnixTime,
)

__all__ = [
    "KeyPolicy",
    "DepositRequest",
    "OrderInputsDeposit",
    "DepositReceipt",
    "DepositStatus",
    "AuditReadRequest",
    "WrappedKey",
    "Revocation",
    "VerifiedEnclave",
]

_MAX_LIST = 256


def _sorted_unique(values: list) -> list:
    return sorted(set(values))


def _allow_list(item: object, most: int = _MAX_LIST) -> object:
    """A non-empty set of ``item`` (sorted, unique) or the word ``"any"``."""
    listed = Annotated[list[item], Field(min_length=1, max_length=most)]  # type: ignore[valid-type]
    return Annotated[
        listed | Literal["any"], AfterValidator(lambda v: v if v == "any" else _sorted_unique(v))
    ]


_Strict = ConfigDict(frozen=True, extra="forbid")


class KeyPolicy(BaseModel):
    """Who may obtain a resource key. Each list is a set; ``"any"`` lifts that restriction.

    Engines and customers must be stated (``"any"`` for any engine or any paying customer); the
    measurement and TEE-type lists narrow the CA's on-chain allow-list, which always applies.
    Simulated enclaves are refused unless ``insecure_allow_simulated_tee`` is set.
    """

    model_config = _Strict

    allowed_engine_hashes: _allow_list(Bytes32Hex)  # type: ignore[valid-type]
    allowed_customers: _allow_list(Address)  # type: ignore[valid-type]
    allowed_measurements: _allow_list(MeasurementHex) = "any"  # type: ignore[valid-type]
    allowed_tee_types: _allow_list(TeeCode, 3) = "any"  # type: ignore[valid-type]
    expires_at: UnixTime | None = None
    max_uses: Annotated[int, Field(ge=1, lt=2**62, strict=True)] | None = None
    insecure_allow_simulated_tee: bool = False


class DepositRequest(BaseModel):
    """An owner's resource key (age ciphertext to the CA, stored as-is) and its policy, signed."""

    model_config = _Strict

    ca_id: Annotated[str, Field(min_length=1, max_length=128)]
    offer_id: OfferId
    owner: Address
    ciphertext: Base64Blob
    policy: KeyPolicy
    issued_at: UnixTime
    signature: SignatureHex

    @property
    def ciphertext_sha256(self) -> str:
        return hashlib.sha256(self.ciphertext).hexdigest()


class _StoredDeposit(BaseModel):
    """What the broker keeps of a deposit (never the key itself)."""

    model_config = _Strict

    offer_id: OfferId
    owner: Address
    version: int
    ciphertext_sha256: str
    policy: KeyPolicy
    deposited_at: int


class DepositReceipt(_StoredDeposit):
    """The deposit as stored. ``audit_entry_hash`` is a chain link worth keeping as an anchor."""

    audit_seq: int
    audit_entry_hash: str


class DepositStatus(_StoredDeposit):
    """An offer's current deposit as the broker holds it (never the key itself)."""

    uses: int
    uses_left: int | None


class OrderInputsDeposit(BaseModel):
    """A customer's key for their order's own inputs (age ciphertext to the CA), signed by them."""

    model_config = _Strict

    ca_id: Annotated[str, Field(min_length=1, max_length=128)]
    order_id: Bytes32Hex
    customer: Address
    ciphertext: Base64Blob
    issued_at: UnixTime
    signature: SignatureHex

    @property
    def ciphertext_sha256(self) -> str:
        return hashlib.sha256(self.ciphertext).hexdigest()


class AuditReadRequest(BaseModel):
    """An owner's signed request to read the audit entries about one of their offers."""

    model_config = _Strict

    ca_id: Annotated[str, Field(min_length=1, max_length=128)]
    offer_id: OfferId
    owner: Address
    issued_at: UnixTime
    signature: SignatureHex


class WrappedKey(BaseModel):
    """A released key: age ciphertext only the requesting enclave can open.

    ``kind="resource"``: the key of offer ``offer_id``, whose ciphertext's SHA-256 on chain (as the
    order commits to it) is ``content_hash``; ``kind="order_inputs"``: the key of the order's own
    customer inputs (``offer_id`` 0, ``policy_version`` 0, ``content_hash`` the order's inputsHash).
    """

    model_config = _Strict

    kind: Literal["resource", "order_inputs"] = "resource"
    offer_id: OfferId
    policy_version: int
    content_hash: Bytes32Hex
    ciphertext: Base64Blob


class Revocation(BaseModel):
    """A revoked certificate (``kind="certificate"``, serial hex) or enclave (``kind="enclave"``, address)."""

    model_config = _Strict

    kind: Literal["certificate", "enclave"]
    subject: str
    reason: str
    revoked_at: int
    audit_seq: int


@dataclass(frozen=True)
class VerifiedEnclave:
    """What the CA's HTTP layer learnt from the enclave's verified certificate chain.

    ``tee_type`` is a :class:`TeeCode` value, ``measurement`` hex, ``age_recipient`` the enclave's
    X25519 age public key (``age1...``), ``not_after`` the certificate's expiry (unix seconds).
    """

    certificate_serial: int | str
    tee_type: int
    measurement: str
    enclave_address: str
    provider_address: str
    age_recipient: str
    not_after: int
    simulated: bool
