"""Values the contracts and the Python side must agree on, in one place."""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from enclava.protocol.tee import TeeType, decode_gpu_class

__all__ = [
    "CONTRACT_NAMES",
    "OPTIONAL_CONTRACT_NAMES",
    "measurement_digest",
    "ResourceKind",
    "EnclaveStatus",
    "EnclaveRecord",
]

#: The deployed contracts every service binds, by the names an addresses file uses.
CONTRACT_NAMES = ("ProviderRegistry", "ResourceRegistry", "AttestationRegistry", "Marketplace")

#: Contracts bound when the addresses name them: ``ServiceMarket`` (confidential serving,
#: deployed after the four by scripts/deploy.py). A deployment without it still serves orders.
OPTIONAL_CONTRACT_NAMES = ("ServiceMarket",)


class ResourceKind(enum.IntEnum):
    """``ResourceKind`` in contracts/interfaces/EnclavaTypes.sol."""

    NONE = 0
    ENGINE = 1
    MODEL = 2
    DATASET = 3


def measurement_digest(measurement: bytes) -> bytes:
    """The 32-byte digest of a launch measurement (MRTD or SNP MEASUREMENT) used on chain."""
    return hashlib.sha256(measurement).digest()


class EnclaveStatus(enum.IntEnum):
    """``IAttestationRegistry.EnclaveStatus``: why an enclave is (in)valid; ``VALID`` is the only
    good answer."""

    VALID = 0
    UNKNOWN = 1
    REVOKED = 2
    CA_REVOKED = 3
    MEASUREMENT_NOT_ALLOWED = 4
    EXPIRED = 5


_ZERO_ADDRESS = "0x" + "00" * 20


@dataclass(frozen=True)
class EnclaveRecord:
    """``IAttestationRegistry.Enclave``: a certified enclave as the registry holds it.

    ``gpu_class`` is the certified GPUs' class label (:func:`enclava.protocol.tee.decode_gpu_class`;
    ``""`` without a GPU) and ``gpu_count`` how many (0 without). An unknown enclave reads as all
    zero: ``registered`` is false.
    """

    address: str
    provider: str
    tee_type: int
    expires_at: int
    revoked: bool
    ca: str
    measurement: bytes
    gpu_class: str = ""
    gpu_count: int = 0

    @property
    def registered(self) -> bool:
        return int(self.provider, 16) != 0

    @property
    def has_gpu(self) -> bool:
        return self.gpu_count > 0

    @property
    def tee(self) -> TeeType:
        """The record's TEE type (``TeeType.NONE`` when unknown)."""
        return TeeType(self.tee_type)

    @classmethod
    def from_abi(cls, address: str, record: Sequence[Any]) -> EnclaveRecord:
        """The record of ``address`` from the ABI tuple ``getEnclave`` / ``enclaveStatus`` return:
        ``(provider, teeType, expiresAt, revoked, ca, measurement, gpuClass, gpuCount)``."""
        if len(record) != 8:
            raise ValueError(f"an enclave record has 8 fields, not {len(record)}")
        provider, tee, expires, revoked, ca, measurement, gpu_class, gpu_count = record
        return cls(
            address=str(address),
            provider=str(provider or _ZERO_ADDRESS),
            tee_type=int(tee),
            expires_at=int(expires),
            revoked=bool(revoked),
            ca=str(ca or _ZERO_ADDRESS),
            measurement=bytes(measurement),
            gpu_class=decode_gpu_class(bytes(gpu_class)),
            gpu_count=int(gpu_count),
        )
