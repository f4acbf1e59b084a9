"""The broker's answers (pydantic v2, ready to expose in routes) and the enclave it serves.

The requests it answers (``KeyPolicy``, ``DepositRequest``, ``OrderInputsDeposit``,
``AuditReadRequest``) are protocol: :mod:`enclava.protocol.broker.models`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict

from enclava.protocol.broker.fields import Address, Base64Blob, Bytes32Hex, ResourceIdField
from enclava.protocol.broker.models import KeyPolicy

__all__ = [
    "DepositReceipt",
    "DepositStatus",
    "WrappedKey",
    "Revocation",
    "VerifiedEnclave",
]

_Strict = ConfigDict(frozen=True, extra="forbid")


class _StoredDeposit(BaseModel):
    """What the broker keeps of a deposit (never the key itself)."""

    model_config = _Strict

    resource_id: ResourceIdField
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
    """A resource's current deposit as the broker holds it (never the key itself)."""

    uses: int
    uses_left: int | None


class WrappedKey(BaseModel):
    """A released key: age ciphertext only the requesting enclave can open.

    ``kind="resource"``: the key of resource ``resource_id``, whose ciphertext's SHA-256 on chain
    (as the order commits to it) is ``content_hash``; ``kind="order_inputs"``: the key of the
    order's own customer inputs (``resource_id`` 0, ``policy_version`` 0, ``content_hash`` the
    order's inputsHash).
    """

    model_config = _Strict

    kind: Literal["resource", "order_inputs"] = "resource"
    resource_id: ResourceIdField
    policy_version: int
    content_hash: Bytes32Hex
    ciphertext: Base64Blob


class Revocation(BaseModel):
    """A revoked certificate (``kind="certificate"``, serial hex) or enclave (``kind="enclave"``,
    address)."""

    model_config = _Strict

    kind: Literal["certificate", "enclave"]
    subject: str
    reason: str
    revoked_at: int
    audit_seq: int


@dataclass(frozen=True)
class VerifiedEnclave:
    """What the CA's HTTP layer learnt from the enclave's verified certificate chain.

    ``tee_type`` is a :class:`TeeType` value, ``measurement`` hex, ``age_recipient`` the enclave's
    X25519 age public key (``age1...``), ``not_after`` the certificate's expiry (unix seconds),
    ``gpu_class`` / ``gpu_count`` the confidential GPUs it certifies (``""`` / 0: none).
    """

    certificate_serial: int | str
    tee_type: int
    measurement: str
    enclave_address: str
    provider_address: str
    age_recipient: str
    not_after: int
    simulated: bool
    gpu_class: str = ""
    gpu_count: int = 0
