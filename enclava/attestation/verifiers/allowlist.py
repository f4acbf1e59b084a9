"""The measurement allow-list the CA consults: a protocol, and an in-memory implementation.

In production the allow-list is the attestation registry contract on chain (the implementation
comes with the chain client); tests and development use :class:`InMemoryMeasurementAllowList`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Protocol, runtime_checkable

from enclava.errors import ConfigError
from enclava.protocol.tee import TeeType

__all__ = ["MeasurementAllowList", "InMemoryMeasurementAllowList"]


@runtime_checkable
class MeasurementAllowList(Protocol):
    def is_allowed(self, tee_type: TeeType, measurement: bytes) -> bool:
        """True only if ``measurement`` is registered for ``tee_type``."""
        ...


class InMemoryMeasurementAllowList:
    """A set of ``(tee_type, measurement)`` pairs; thread-safe."""

    def __init__(self, entries: Iterable[tuple[TeeType, bytes]] = ()) -> None:
        self._lock = threading.Lock()
        self._entries: set[tuple[TeeType, bytes]] = set()
        for tee_type, measurement in entries:
            self.allow(tee_type, measurement)

    def allow(self, tee_type: TeeType, measurement: bytes) -> None:
        if (
            not isinstance(tee_type, TeeType)
            or not isinstance(measurement, bytes)
            or not measurement
        ):
            raise ConfigError(
                "an allow-list entry is a TeeType and a non-empty measurement (bytes)"
            )
        with self._lock:
            self._entries.add((tee_type, measurement))

    def revoke(self, tee_type: TeeType, measurement: bytes) -> None:
        with self._lock:
            self._entries.discard((tee_type, measurement))

    def is_allowed(self, tee_type: TeeType, measurement: bytes) -> bool:
        with self._lock:
            return (tee_type, measurement) in self._entries
