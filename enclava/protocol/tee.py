"""THE one ``TeeType``: the TEE families every party numbers and names the same way.

The numbers are ``TeeType`` in ``contracts/interfaces/EnclavaTypes.sol`` (what the chain stores in
orders, TEE offers and the measurement allow-list). Two spellings of each name travel off chain:

- the *wire name* (``"tdx"``, ``"sev-snp"``, ``"simulated"``): evidence JSON and service settings;
- the *chain name* (``"TDX"``, ``"SEV_SNP"``, ``"SIMULATED"``): the enum member name, used by the
  marketplace API, resource metadata and the CLI.

Every literal list of TEE names in the project is one of the tuples or ``Literal`` aliases below.

GPU classes travel with TEEs: a TEE offer promises one (``IProviderRegistry.TeeOffer.gpuClass``)
and an enclave is certified with one (``IAttestationRegistry.Enclave.gpuClass``), both as a short
ASCII label left-aligned and zero-padded into a ``bytes32`` (:func:`encode_gpu_class`,
:func:`decode_gpu_class`). :func:`offer_requires_gpu` is THE rule for "this offer has a GPU",
the same as ``GpuClasses.offerHasGpu`` in contracts/interfaces/EnclavaTypes.sol.
"""

from __future__ import annotations

import enum
from typing import Final, Literal, get_args

__all__ = [
    "TeeType",
    "KNOWN_TEES",
    "TEE_WIRE_NAMES",
    "TEE_CHAIN_NAMES",
    "TeeWireName",
    "TeeChainName",
    "KnownTeeType",
    "tee_from_name",
    "onchain_tee",
    "CPU_GPU_CLASS",
    "GPU_CLASS_BYTES",
    "MAX_GPU_COUNT",
    "is_gpu_class",
    "offer_requires_gpu",
    "encode_gpu_class",
    "decode_gpu_class",
]


class TeeType(enum.IntEnum):
    """``TeeType`` in contracts/interfaces/EnclavaTypes.sol (``NONE`` = not set / any)."""

    NONE = 0
    TDX = 1
    SEV_SNP = 2
    SIMULATED = 3

    @property
    def wire_name(self) -> str:
        """The lowercase name used in evidence JSON and settings (``"sev-snp"``)."""
        return self.name.lower().replace("_", "-")

    @property
    def chain_name(self) -> str:
        """The member name used by the marketplace API and the CLI (``"SEV_SNP"``)."""
        return self.name

    @classmethod
    def from_wire_name(cls, name: object) -> TeeType:
        """Strict parse of a wire name; anything else (including ``"none"``) is a ``ValueError``."""
        for tee in KNOWN_TEES:
            if name == tee.wire_name:
                return tee
        raise ValueError(f"unknown TEE type {name!r}")

    @classmethod
    def from_chain_name(cls, name: object) -> TeeType:
        """Strict parse of a chain name (``"TDX"``, ``"SEV_SNP"``, ``"SIMULATED"``)."""
        for tee in KNOWN_TEES:
            if name == tee.chain_name:
                return tee
        raise ValueError(f"unknown TEE type {name!r}")


KNOWN_TEES: tuple[TeeType, ...] = (TeeType.TDX, TeeType.SEV_SNP, TeeType.SIMULATED)
TEE_WIRE_NAMES: tuple[str, ...] = tuple(tee.wire_name for tee in KNOWN_TEES)
TEE_CHAIN_NAMES: tuple[str, ...] = tuple(tee.chain_name for tee in KNOWN_TEES)

# Static spellings for pydantic fields and type checkers; the asserts keep them equal to the enum.
TeeWireName = Literal["tdx", "sev-snp", "simulated"]
TeeChainName = Literal["TDX", "SEV_SNP", "SIMULATED"]
assert get_args(TeeWireName) == TEE_WIRE_NAMES, "TeeWireName out of step with TeeType"
assert get_args(TeeChainName) == TEE_CHAIN_NAMES, "TeeChainName out of step with TeeType"

# A field that takes only a known TEE (not NONE), e.g. a key policy's ``allowed_tee_types``.
KnownTeeType = Literal[TeeType.TDX, TeeType.SEV_SNP, TeeType.SIMULATED]
assert get_args(KnownTeeType) == KNOWN_TEES, "KnownTeeType out of step with TeeType"


def tee_from_name(name: str) -> TeeType:
    """A known TEE from either spelling, case-insensitive (``"sev-snp"``, ``"SEV_SNP"``...)."""
    key = name.strip().upper().replace("-", "_")
    for tee in KNOWN_TEES:
        if key == tee.name:
            return tee
    raise ValueError(f"unknown TEE type {name!r}; expected one of {', '.join(TEE_WIRE_NAMES)}")


def onchain_tee(tee_type: TeeType, *, simulated: bool) -> TeeType:
    """The TEE an attested enclave is recorded under on chain: simulated evidence is SIMULATED."""
    if simulated:
        return TeeType.SIMULATED
    if tee_type not in KNOWN_TEES:
        raise ValueError(f"no on-chain TEE for {tee_type!r}")
    return tee_type


#: The GPU class a CPU-only TEE offer publishes (what provider nodes default to); an offer with no
#: class at all (zero bytes) promises no GPU either.
CPU_GPU_CLASS: Final = "cpu"
#: A GPU class is a ``bytes32`` on chain.
GPU_CLASS_BYTES: Final = 32
#: The GPU count is one byte (on chain and in the certificate).
MAX_GPU_COUNT: Final = 255


def is_gpu_class(label: object) -> bool:
    """A GPU class label as certificates and the chain carry it: 1 to 32 bytes of printable ASCII
    without spaces (``"H100"``), so it survives the ``bytes32`` round trip unchanged."""
    return (
        isinstance(label, str)
        and 1 <= len(label) <= GPU_CLASS_BYTES
        and all(0x21 <= ord(char) <= 0x7E for char in label)
    )


def offer_requires_gpu(label: str | bytes) -> bool:
    """Whether a TEE offer of GPU class ``label`` promises a GPU: its class is neither empty (zero
    bytes) nor ``"cpu"``. ``label`` is the decoded label or the chain's raw bytes (trailing zero
    bytes are padding). Case-sensitive, byte for byte, as ``GpuClasses.offerHasGpu`` compares
    on chain: ``"CPU"`` or ``"none"`` are GPU classes no enclave is certified with."""
    raw = label.encode("utf-8") if isinstance(label, str) else bytes(label)
    return raw.rstrip(b"\0") not in (b"", CPU_GPU_CLASS.encode())


def encode_gpu_class(label: str) -> bytes:
    """``label`` as the chain holds a GPU class: ASCII, left-aligned, zero-padded to 32 bytes
    (``""``: all zero, no GPU). A label that would not come back unchanged from
    :func:`decode_gpu_class` (not ASCII, over 32 bytes, or holding a zero byte) is a
    ``ValueError``."""
    try:
        raw = label.encode("ascii")
    except UnicodeEncodeError as exc:
        raise ValueError(f"GPU class {label!r} is not ASCII") from exc
    if len(raw) > GPU_CLASS_BYTES:
        raise ValueError(f"GPU class {label!r} is longer than {GPU_CLASS_BYTES} bytes")
    if b"\0" in raw:
        raise ValueError(f"GPU class {label!r} holds a zero byte")
    return raw.ljust(GPU_CLASS_BYTES, b"\0")


def decode_gpu_class(raw: bytes) -> str:
    """A chain ``bytes32`` GPU class as its label, trailing zero bytes stripped (``""`` for zero).

    Anyone may publish any 32 bytes as an offer's class: bytes that are not ASCII decode to U+FFFD,
    so such a label equals no GPU class a CA certifies (and still requires a GPU). Anything but 32
    bytes is a ``ValueError``."""
    data = bytes(raw)
    if len(data) != GPU_CLASS_BYTES:
        raise ValueError(f"a GPU class is {GPU_CLASS_BYTES} bytes, not {len(data)}")
    return data.rstrip(b"\0").decode("ascii", errors="replace")
