"""The SPDM 1.1 GET_MEASUREMENTS exchange an NVIDIA Hopper GPU signs, parsed strictly and encoded.

NVML (``nvmlDeviceGetConfComputeGpuAttestationReport``) returns the request the driver sent and the
GPU's response back to back; the GPU's attestation key signs request ‖ response-without-signature
(SPDM 1.1 §10.11 "L1/L2" for a session-less exchange). Layouts, little endian::

  GET_MEASUREMENTS request (37 bytes)
    0  SPDMVersion 0x11 | 1 code 0xE0 | 2 Param1 attributes (0x01 = signature requested)
    3  Param2 operation (0xFF = all measurements) | 4 Nonce (32) | 36 SlotIDParam

  MEASUREMENTS response
    0  SPDMVersion 0x11 | 1 code 0x60 | 2 Param1 | 3 Param2 (slot)
    4  NumberOfBlocks u8 | 5 MeasurementRecordLength u24
    8  MeasurementRecord: blocks of  Index u8 | MeasurementSpecification u8 (0x01 DMTF) |
         MeasurementSize u16 | DMTF value type u8 | value size u16 | value (48 = SHA-384)
       Nonce (32, the GPU's) | OpaqueLength u16 | OpaqueData: NVIDIA TLVs type u16, size u16, value
       Signature (96 = ECDSA P-384 r ‖ s, big endian each)

Nothing here is trusted yet: the parser checks only structure (every length is bounds-checked, no
byte left over, no duplicate measurement index or opaque type); :mod:`verifier` checks the
signature. The dataclasses also *encode*, so the simulated GPU builds the same bytes a real one
sends.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, replace

from enclava.attestation.gpu.errors import SpdmFormatError

__all__ = [
    "SPDM_VERSION_1_1",
    "GET_MEASUREMENTS",
    "MEASUREMENTS",
    "NONCE_SIZE",
    "SIGNATURE_SIZE",
    "REQUEST_SIZE",
    "OpaqueType",
    "MeasurementRequest",
    "MeasurementBlock",
    "OpaqueField",
    "MeasurementResponse",
    "SpdmReport",
]

SPDM_VERSION_1_1 = 0x11
GET_MEASUREMENTS = 0xE0
MEASUREMENTS = 0x60
ATTRIBUTE_SIGNATURE_REQUESTED = 0x01
OPERATION_ALL_MEASUREMENTS = 0xFF
DMTF_MEASUREMENT_SPECIFICATION = 0x01
NONCE_SIZE = 32
SIGNATURE_SIZE = 96  # ECDSA P-384: r ‖ s, 48 bytes each
REQUEST_SIZE = 4 + NONCE_SIZE + 1


class OpaqueType:
    """NVIDIA opaque-data field types (nvtrust local_gpu_verifier's table; data, not code)."""

    CERT_ISSUER_NAME = 1
    CERT_AUTHORITY_KEY_IDENTIFIER = 2
    DRIVER_VERSION = 3
    GPU_INFO = 4
    SKU = 5
    VBIOS_VERSION = 6
    MANUFACTURER_ID = 7
    TAMPER_DETECTION = 8
    SMC = 9
    VPR = 10
    NVDEC0_STATUS = 11
    MSRSCNT = 12
    CPRINFO = 13
    BOARD_ID = 14
    CHIP_SKU = 15
    CHIP_SKU_MOD = 16
    PROJECT = 17
    PROJECT_SKU = 18
    PROJECT_SKU_MOD = 19
    FWID = 20
    PROTECTED_PCIE_STATUS = 21
    SWITCH_PDI = 22
    FLOORSWEPT_PORTS = 23
    POSITION_ID = 24
    LOCK_SWITCH_STATUS = 25
    GPU_LINK_CONN = 32
    SYS_ENABLE_STATUS = 33
    OPAQUE_DATA_VERSION = 34
    CHIP_INFO = 35
    FEATURE_FLAG = 36


class _Reader:
    """Bounds-checked little-endian reader: every read names what it reads for the error."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._offset = 0

    def take(self, size: int, what: str) -> bytes:
        end = self._offset + size
        if size < 0 or end > len(self._data):
            raise SpdmFormatError(
                f"SPDM {what} truncated: needs {size} bytes at offset {self._offset}, "
                f"{len(self._data) - self._offset} left"
            )
        chunk = self._data[self._offset : end]
        self._offset = end
        return chunk

    def u8(self, what: str) -> int:
        return self.take(1, what)[0]

    def u16(self, what: str) -> int:
        value: int = struct.unpack("<H", self.take(2, what))[0]
        return value

    def u24(self, what: str) -> int:
        return int.from_bytes(self.take(3, what), "little")

    @property
    def offset(self) -> int:
        return self._offset

    def remaining(self) -> int:
        return len(self._data) - self._offset

    def expect_end(self, what: str) -> None:
        if self._offset != len(self._data):
            raise SpdmFormatError(
                f"SPDM {what}: {len(self._data) - self._offset} trailing bytes at offset "
                f"{self._offset}"
            )


def _check_u(value: object, bits: int, what: str) -> int:
    if type(value) is not int or not 0 <= value < (1 << bits):
        raise SpdmFormatError(f"SPDM {what} must be an unsigned {bits}-bit integer")
    return value


def _check_bytes(value: object, what: str, *, size: int | None = None, cap: int = 0xFFFF) -> bytes:
    if not isinstance(value, bytes):
        raise SpdmFormatError(f"SPDM {what} must be bytes")
    if size is not None and len(value) != size:
        raise SpdmFormatError(f"SPDM {what} must be {size} bytes, not {len(value)}")
    if len(value) > cap:
        raise SpdmFormatError(f"SPDM {what} exceeds {cap} bytes")
    return value


@dataclass(frozen=True)
class MeasurementRequest:
    """GET_MEASUREMENTS: all measurements, signed, over the requester's 32-byte nonce."""

    nonce: bytes
    slot: int = 0
    version: int = SPDM_VERSION_1_1
    attributes: int = ATTRIBUTE_SIGNATURE_REQUESTED
    operation: int = OPERATION_ALL_MEASUREMENTS

    def __post_init__(self) -> None:
        _check_bytes(self.nonce, "request nonce", size=NONCE_SIZE)
        for name in ("slot", "version", "attributes", "operation"):
            _check_u(getattr(self, name), 8, f"request {name}")

    def encode(self) -> bytes:
        return (
            bytes([self.version, GET_MEASUREMENTS, self.attributes, self.operation])
            + self.nonce
            + bytes([self.slot])
        )

    @classmethod
    def parse(cls, raw: bytes) -> MeasurementRequest:
        if len(raw) != REQUEST_SIZE:
            raise SpdmFormatError(f"SPDM request must be {REQUEST_SIZE} bytes, not {len(raw)}")
        if raw[1] != GET_MEASUREMENTS:
            raise SpdmFormatError(f"SPDM request code 0x{raw[1]:02x} is not GET_MEASUREMENTS")
        return cls(
            version=raw[0], attributes=raw[2], operation=raw[3], nonce=raw[4:36], slot=raw[36]
        )


@dataclass(frozen=True)
class MeasurementBlock:
    """One measurement block; ``value`` is the DMTF measurement value (a 48-byte SHA-384)."""

    index: int
    value: bytes
    value_type: int = 0x01
    specification: int = DMTF_MEASUREMENT_SPECIFICATION

    def __post_init__(self) -> None:
        _check_u(self.index, 8, "measurement index")
        _check_u(self.value_type, 8, "measurement value type")
        _check_u(self.specification, 8, "measurement specification")
        _check_bytes(self.value, "measurement value", cap=0xFFFF - 3)

    def encode(self) -> bytes:
        dmtf = struct.pack("<BH", self.value_type, len(self.value)) + self.value
        return struct.pack("<BBH", self.index, self.specification, len(dmtf)) + dmtf

    @classmethod
    def read(cls, reader: _Reader) -> MeasurementBlock:
        index = reader.u8("measurement index")
        specification = reader.u8("measurement specification")
        size = reader.u16("measurement size")
        if specification != DMTF_MEASUREMENT_SPECIFICATION:
            raise SpdmFormatError(
                f"SPDM measurement {index}: specification 0x{specification:02x} is not DMTF"
            )
        body = _Reader(reader.take(size, f"measurement {index}"))
        value_type = body.u8(f"measurement {index} value type")
        value_size = body.u16(f"measurement {index} value size")
        value = body.take(value_size, f"measurement {index} value")
        body.expect_end(f"measurement {index}")
        return cls(index=index, value=value, value_type=value_type, specification=specification)


@dataclass(frozen=True)
class OpaqueField:
    """One NVIDIA opaque-data TLV: type u16, size u16, value."""

    type: int
    value: bytes

    def __post_init__(self) -> None:
        _check_u(self.type, 16, "opaque type")
        _check_bytes(self.value, "opaque value")

    def encode(self) -> bytes:
        return struct.pack("<HH", self.type, len(self.value)) + self.value


@dataclass(frozen=True)
class MeasurementResponse:
    """MEASUREMENTS. ``signature`` is empty until :meth:`with_signature` attaches the 96 bytes."""

    blocks: tuple[MeasurementBlock, ...]
    nonce: bytes
    opaque: tuple[OpaqueField, ...]
    signature: bytes = b""
    param1: int = 0
    param2: int = 0
    version: int = SPDM_VERSION_1_1

    def __post_init__(self) -> None:
        for name in ("param1", "param2", "version"):
            _check_u(getattr(self, name), 8, f"response {name}")
        if not isinstance(self.blocks, tuple) or not all(
            isinstance(block, MeasurementBlock) for block in self.blocks
        ):
            raise SpdmFormatError("SPDM measurement blocks must be a tuple of MeasurementBlock")
        if len(self.blocks) > 0xFF:
            raise SpdmFormatError("SPDM response carries more than 255 measurement blocks")
        indices = [block.index for block in self.blocks]
        if len(set(indices)) != len(indices):
            raise SpdmFormatError("SPDM response repeats a measurement index")
        _check_bytes(self.nonce, "response nonce", size=NONCE_SIZE)
        if not isinstance(self.opaque, tuple) or not all(
            isinstance(item, OpaqueField) for item in self.opaque
        ):
            raise SpdmFormatError("SPDM opaque data must be a tuple of OpaqueField")
        types = [item.type for item in self.opaque]
        if len(set(types)) != len(types):
            raise SpdmFormatError("SPDM opaque data repeats a field type")
        if len(self._opaque_bytes()) > 0xFFFF:
            raise SpdmFormatError("SPDM opaque data exceeds 65535 bytes")
        if len(self._record()) >= 1 << 24:
            raise SpdmFormatError("SPDM measurement record exceeds 2^24 bytes")
        _check_bytes(self.signature, "signature")
        if self.signature and len(self.signature) != SIGNATURE_SIZE:
            raise SpdmFormatError(f"SPDM signature must be {SIGNATURE_SIZE} bytes")

    def _record(self) -> bytes:
        return b"".join(block.encode() for block in self.blocks)

    def _opaque_bytes(self) -> bytes:
        return b"".join(item.encode() for item in self.opaque)

    def signed_bytes(self) -> bytes:
        """The response without its signature: the part the GPU's key signs (after the request)."""
        record, opaque = self._record(), self._opaque_bytes()
        return (
            bytes([self.version, MEASUREMENTS, self.param1, self.param2, len(self.blocks)])
            + len(record).to_bytes(3, "little")
            + record
            + self.nonce
            + struct.pack("<H", len(opaque))
            + opaque
        )

    def with_signature(self, signature: bytes) -> MeasurementResponse:
        return replace(self, signature=signature)

    def encode(self) -> bytes:
        if len(self.signature) != SIGNATURE_SIZE:
            raise SpdmFormatError("SPDM response has no signature; attach it with with_signature")
        return self.signed_bytes() + self.signature

    def opaque_value(self, field_type: int) -> bytes | None:
        for item in self.opaque:
            if item.type == field_type:
                return item.value
        return None

    def block(self, index: int) -> MeasurementBlock | None:
        for block in self.blocks:
            if block.index == index:
                return block
        return None

    @classmethod
    def parse(cls, raw: bytes) -> MeasurementResponse:
        reader = _Reader(raw)
        version = reader.u8("response version")
        code = reader.u8("response code")
        if code != MEASUREMENTS:
            raise SpdmFormatError(f"SPDM response code 0x{code:02x} is not MEASUREMENTS")
        param1 = reader.u8("response param1")
        param2 = reader.u8("response param2")
        count = reader.u8("number of blocks")
        record = _Reader(reader.take(reader.u24("measurement record length"), "record"))
        blocks = tuple(MeasurementBlock.read(record) for _ in range(count))
        record.expect_end("measurement record (more bytes than its blocks)")
        nonce = reader.take(NONCE_SIZE, "response nonce")
        opaque_reader = _Reader(reader.take(reader.u16("opaque length"), "opaque data"))
        opaque: list[OpaqueField] = []
        while opaque_reader.remaining():
            field_type = opaque_reader.u16("opaque type")
            size = opaque_reader.u16(f"opaque field {field_type} size")
            opaque.append(OpaqueField(field_type, opaque_reader.take(size, f"opaque {field_type}")))
        signature = reader.take(SIGNATURE_SIZE, "signature")
        reader.expect_end("response")
        return cls(
            blocks=blocks,
            nonce=nonce,
            opaque=tuple(opaque),
            signature=signature,
            param1=param1,
            param2=param2,
            version=version,
        )


@dataclass(frozen=True)
class SpdmReport:
    """Request ‖ response, as NVML returns them: the GPU evidence's ``report`` field."""

    request: MeasurementRequest
    response: MeasurementResponse

    def signed_bytes(self) -> bytes:
        """What the GPU attestation key signs: request ‖ response-without-signature."""
        return self.request.encode() + self.response.signed_bytes()

    def encode(self) -> bytes:
        return self.request.encode() + self.response.encode()

    @classmethod
    def parse(cls, raw: bytes) -> SpdmReport:
        if not isinstance(raw, bytes):
            raise SpdmFormatError("SPDM report must be bytes")
        if len(raw) < REQUEST_SIZE:
            raise SpdmFormatError(f"SPDM report shorter than its {REQUEST_SIZE}-byte request")
        return cls(
            request=MeasurementRequest.parse(raw[:REQUEST_SIZE]),
            response=MeasurementResponse.parse(raw[REQUEST_SIZE:]),
        )
