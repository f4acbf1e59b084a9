"""The requests owners and customers send the key broker (pydantic v2, ready to expose in routes).

A ``DepositRequest`` and an ``AuditReadRequest`` are signed by the resource owner's wallet, an
``OrderInputsDeposit`` by the order's customer, over the canonical messages of
:mod:`enclava.protocol.broker.signing`; build them with :mod:`enclava.protocol.broker.requests`.
Lists in a policy are normalized (lowercase, sorted, without duplicates) before they are signed,
so signer and verifier serialize the same bytes.
"""

from __future__ import annotations

import hashlib
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    model_serializer,
)

from enclava.protocol.broker.fields import (
    Address,
    Base64Blob,
    Bytes32Hex,
    MeasurementHex,
    ResourceIdField,
    SignatureHex,
    UnixTime,
)
from enclava.protocol.tee import KnownTeeType

__all__ = [
    "KeyPolicy",
    "DepositRequest",
    "OrderInputsDeposit",
    "AuditReadRequest",
    "GpuClassLabel",
]

_MAX_LIST = 256


def _set_or_any(value: Any) -> Any:
    """A non-empty list, sorted and without duplicates; or the word ``"any"`` unchanged."""
    return value if value == "any" else sorted(set(value))


_AnyOf = AfterValidator(_set_or_any)
_Listed = Field(min_length=1, max_length=_MAX_LIST)
EngineHashes = Annotated[Annotated[list[Bytes32Hex], _Listed] | Literal["any"], _AnyOf]
Customers = Annotated[Annotated[list[Address], _Listed] | Literal["any"], _AnyOf]
Measurements = Annotated[Annotated[list[MeasurementHex], _Listed] | Literal["any"], _AnyOf]
TeeTypes = Annotated[
    Annotated[list[KnownTeeType], Field(min_length=1, max_length=3)] | Literal["any"], _AnyOf
]

#: A GPU class as certificates and TEE offers carry it (``enclava.protocol.tee.is_gpu_class``).
GpuClassLabel = Annotated[str, Field(pattern=r"^[!-~]{1,32}$")]
GpuClasses = Annotated[
    list[GpuClassLabel], Field(max_length=16), AfterValidator(lambda v: sorted(set(v)))
]

_Strict = ConfigDict(frozen=True, extra="forbid")
#: Fields added after policies were first signed: left out of the dump (so of the signed bytes)
#: while they hold their default, so every older policy keeps the bytes it was signed as.
_OMITTED_AT_DEFAULT = {"require_gpu": False, "gpu_classes": [], "allow_serving": False}


class KeyPolicy(BaseModel):
    """Who may obtain a resource key. Each list is a set; ``"any"`` lifts that restriction.

    Engines and customers must be stated (``"any"`` for any engine or any paying customer); the
    measurement and TEE-type lists narrow the CA's on-chain allow-list, which always applies.
    Simulated enclaves are refused unless ``insecure_allow_simulated_tee`` is set.
    ``require_gpu`` admits only enclaves certified with a confidential GPU; a non-empty
    ``gpu_classes`` admits only enclaves whose certified GPU class is listed (and so implies it).
    ``allow_serving`` admits a confidential service enclave (``ServiceMarket``) that serves this
    model to many customers; it needs ``allowed_customers`` ``"any"``, since the service, not the
    broker, decides whom it answers. Off by default: a model owner opts in to serving.
    """

    model_config = _Strict

    allowed_engine_hashes: EngineHashes
    allowed_customers: Customers
    allowed_measurements: Measurements = "any"
    allowed_tee_types: TeeTypes = "any"
    expires_at: UnixTime | None = None
    max_uses: Annotated[int, Field(ge=1, lt=2**62, strict=True)] | None = None
    insecure_allow_simulated_tee: bool = False
    require_gpu: bool = False
    gpu_classes: GpuClasses = []
    allow_serving: bool = False

    @model_serializer(mode="wrap")
    def _omit_new_defaults(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        for name, default in _OMITTED_AT_DEFAULT.items():
            if name in data and data[name] == default:
                del data[name]
        return data


class DepositRequest(BaseModel):
    """An owner's resource key (age ciphertext to the CA, stored as-is) and its policy, signed."""

    model_config = _Strict

    ca_id: Annotated[str, Field(min_length=1, max_length=128)]
    resource_id: ResourceIdField
    owner: Address
    ciphertext: Base64Blob
    policy: KeyPolicy
    issued_at: UnixTime
    signature: SignatureHex

    @property
    def ciphertext_sha256(self) -> str:
        return hashlib.sha256(self.ciphertext).hexdigest()


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
    """An owner's signed request to read the audit entries about one of their resources."""

    model_config = _Strict

    ca_id: Annotated[str, Field(min_length=1, max_length=128)]
    resource_id: ResourceIdField
    owner: Address
    issued_at: UnixTime
    signature: SignatureHex
