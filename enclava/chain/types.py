"""Values the contracts and the Python side must agree on, in one place."""

from __future__ import annotations

import enum
import hashlib

__all__ = ["CONTRACT_NAMES", "measurement_digest", "ResourceKind"]

#: The deployed contracts every service binds, by the names an addresses file uses.
CONTRACT_NAMES = ("ProviderRegistry", "ResourceRegistry", "AttestationRegistry", "Marketplace")


class ResourceKind(enum.IntEnum):
    """``ResourceKind`` in contracts/interfaces/EnclavaTypes.sol."""

    NONE = 0
    ENGINE = 1
    MODEL = 2
    DATASET = 3


def measurement_digest(measurement: bytes) -> bytes:
    """The 32-byte digest of a launch measurement (MRTD or SNP MEASUREMENT) used on chain."""
    return hashlib.sha256(measurement).digest()
