"""The measurements the devnet allow-lists for its simulated TEE: measured from this checkout.

On hardware the allow-list holds the digests of audited CVM builds (firmware, kernel, initrd with
the component's image; see docs/MEASUREMENT.md). The devnet has no hardware: its simulated TEE
reports the measurement of the files the component was loaded from (``running_measurement``), so
the devnet allow-lists ``measure(checkout, "loader")`` and ``measure(checkout, "ca")``, computed
once per process at first use (the devnet's start). A loader whose files differ by one byte
measures differently and is not certified.
"""

from __future__ import annotations

import functools
from pathlib import Path

from enclava.chain.types import measurement_digest
from enclava.measure import measure
from enclava.paths import project_root

__all__ = ["DEVNET_COMPONENTS", "devnet_measurement", "devnet_allowed_digests"]

#: the components whose measurements the devnet allow-lists
DEVNET_COMPONENTS = ("loader", "ca")


@functools.lru_cache(maxsize=None)
def _measured(root: Path, component: str) -> bytes:
    return measure(root, component)


def devnet_measurement(component: str, root: Path | None = None) -> bytes:
    """The 48-byte measurement of ``component`` in ``root`` (default: this checkout)."""
    return _measured((root or project_root()).resolve(), component)


def devnet_allowed_digests(root: Path | None = None) -> list[str]:
    """The on-chain allow-list entries (0x-hex ``measurement_digest``) of the devnet's
    components."""
    return ["0x" + measurement_digest(devnet_measurement(c, root)).hex() for c in DEVNET_COMPONENTS]
