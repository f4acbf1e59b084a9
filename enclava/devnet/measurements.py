"""Launch measurements the devnet allow-lists for its simulated TEE.

On hardware, a measurement is the digest of the CVM image the provider boots (firmware, kernel,
initrd with the trusted loader); the allow-list holds the digests of audited builds. The devnet's
simulated enclaves use fixed, clearly-labelled development values instead.
"""

from __future__ import annotations

import hashlib

from enclava.chain.types import measurement_digest

__all__ = ["DEV_LOADER_MEASUREMENT", "DEV_CA_MEASUREMENT", "devnet_allowed_digests"]

DEV_LOADER_MEASUREMENT = hashlib.sha384(b"enclava development trusted loader v1").digest()
DEV_CA_MEASUREMENT = hashlib.sha384(b"enclava development certification authority v1").digest()


def devnet_allowed_digests() -> list[str]:
    return ["0x" + measurement_digest(m).hex() for m in (DEV_LOADER_MEASUREMENT, DEV_CA_MEASUREMENT)]
