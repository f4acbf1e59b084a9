"""``GpuClaims``: what a verified NVIDIA confidential GPU tells the CA.

Every field is read from evidence :class:`enclava.attestation.gpu.verifier.GpuVerifier` verified
(the SPDM report signed by the GPU's attestation key, or a RIM signed by NVIDIA), never from
unsigned input. ``simulated`` is the verifier's own setting: True only for the development PKI.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = ["GpuClaims"]


@dataclass(frozen=True)
class GpuClaims:
    gpu_class: str  # stable ASCII label <= 32 bytes read only from verified evidence, e.g. "H100"
    architecture: str  # "HOPPER"
    nonce: bytes  # the 32 bytes the GPU signed
    driver_version: str
    vbios_version: str
    cc_mode: bool
    debug: bool
    simulated: bool
    details: Mapping[str, str] = field(default_factory=dict)  # serial/ueid, counts, ... (hex/str)

    def __post_init__(self) -> None:
        # A private copy: claims are facts about verified evidence, not a shared scratchpad.
        object.__setattr__(self, "details", dict(self.details))
