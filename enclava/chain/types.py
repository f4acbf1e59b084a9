"""Values the contracts and the Python side must agree on, in one place."""

from __future__ import annotations

import enum
import hashlib

from enclava.attestation.evidence import TeeType

__all__ = ["OnChainTee", "onchain_tee", "measurement_digest", "ResourceKind", "OrderStatus"]


class OnChainTee(enum.IntEnum):
    """``TeeType`` in contracts/interfaces/EnclavaTypes.sol."""

    NONE = 0
    TDX = 1
    SEV_SNP = 2
    SIMULATED = 3


class ResourceKind(enum.IntEnum):
    """``ResourceKind`` in contracts/interfaces/EnclavaTypes.sol."""

    NONE = 0
    ENGINE = 1
    MODEL = 2
    DATASET = 3


class OrderStatus(enum.IntEnum):
    """``OrderStatus`` in contracts/interfaces/IMarketplace.sol."""

    NONE = 0
    OPEN = 1
    ACCEPTED = 2
    COMPLETED = 3
    FAILED = 4
    TIMED_OUT = 5
    CANCELLED = 6


def onchain_tee(tee_type: TeeType, *, simulated: bool) -> OnChainTee:
    if simulated:
        return OnChainTee.SIMULATED
    return {
        TeeType.TDX: OnChainTee.TDX,
        TeeType.SEV_SNP: OnChainTee.SEV_SNP,
        TeeType.SIMULATED: OnChainTee.SIMULATED,
    }[tee_type]


def measurement_digest(measurement: bytes) -> bytes:
    """The 32-byte digest of a launch measurement (MRTD or SNP MEASUREMENT) used on chain."""
    return hashlib.sha256(measurement).digest()
