"""Intel TDX DCAP quotes v4 and v5: the byte layout, a strict parser and an encoder.

TDX 1.0 modules emit version-4 quotes; TDX 1.5 modules emit version-5 quotes, whose body carries
a descriptor so that a TD 1.5 report (two more fields) fits. Layout (integers little-endian), as
Intel's DCAP quote library and dcap-qvl read it::

    header          48   version=4|5, att_key_type=2 (ECDSA-P256), tee_type=0x81, qe_svn,
                         pce_svn, qe_vendor_id[16], user_data[20]
    v4: td report  584   TD 1.0 report, see ``TdReport``
    v5: body type    2   2 = TD report 1.0 (584 bytes), 3 = TD report 1.5 (648 bytes);
                         1 (an SGX enclave report) is not a TD and is refused
        body size    4   must be exactly the size of that type
        td report        ``TdReport`` or ``TdReport15`` (TD 1.0 fields, then tee_tcb_svn2[16],
                         mr_servicetd[48])
    ── everything above is what the attestation key signs ("signed_bytes"): 632 bytes for v4,
       638 (TD 1.0) or 702 (TD 1.5) for v5 ──
    sig_data_len     4
    signature       64   ECDSA P-256 r‖s over signed_bytes
    attestation key 64   P-256 public point x‖y
    cert type        2   6 = QE report certification data
    cert size        4
      qe report    384   SGX report of the quoting enclave, signed by the PCK key;
                         report_data[:32] = SHA-256(attestation key ‖ qe auth data)
      qe report sig 64   ECDSA P-256 r‖s by the PCK leaf key
      auth data len  2,  qe auth data
      cert type      2   5 = PCK certificate chain (PEM, leaf first)
      cert size      4,  PEM chain

The parser is stricter than dcap-qvl on purpose: declared sizes must add up exactly, a v5 body's
declared size must be its type's size, the two certification-data types must be 6 and 5, and only
zero padding may follow the quote (configfs pads its outblob). So no byte of an accepted quote can
change without the quote being refused.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import ClassVar

from enclava.attestation.errors import EvidenceFormatError

__all__ = [
    "QuoteHeader",
    "TdReport",
    "TdReport15",
    "TdxQuote",
    "INTEL_QE_VENDOR_ID",
    "TEE_TYPE_TDX",
    "QUOTE_VERSION",
    "QUOTE_VERSION_V4",
    "QUOTE_VERSION_V5",
    "ATT_KEY_TYPE_ECDSA_P256",
    "SGX_REPORT_LEN",
    "BODY_TYPE_SGX_ENCLAVE",
    "BODY_TYPE_TD10",
    "BODY_TYPE_TD15",
]

QUOTE_VERSION_V4 = 4
QUOTE_VERSION_V5 = 5
QUOTE_VERSION = QUOTE_VERSION_V4  # what an encoder emits unless told otherwise
ATT_KEY_TYPE_ECDSA_P256 = 2
TEE_TYPE_TDX = 0x81
INTEL_QE_VENDOR_ID = bytes.fromhex("939a7233f79c4ca9940a0db3957f0607")
CERT_TYPE_QE_REPORT = 6
CERT_TYPE_PCK_CHAIN = 5
SGX_REPORT_LEN = 384
BODY_TYPE_SGX_ENCLAVE = 1
BODY_TYPE_TD10 = 2
BODY_TYPE_TD15 = 3
_HEADER = struct.Struct("<HHIHH16s20s")
_DESCRIPTOR = struct.Struct("<HI")
_SIG_LEN = _KEY_LEN = 64

# (field, size) in TDREPORT order: TEE_TCB_SVN, MRSEAM, MRSIGNERSEAM, SEAMATTRIBUTES, TDATTRIBUTES,
# XFAM, MRTD, MRCONFIGID, MROWNER, MROWNERCONFIG, RTMR0..3, REPORTDATA.
_TD_FIELDS = (
    ("tee_tcb_svn", 16),
    ("mr_seam", 48),
    ("mr_signer_seam", 48),
    ("seam_attributes", 8),
    ("td_attributes", 8),
    ("xfam", 8),
    ("mr_td", 48),
    ("mr_config_id", 48),
    ("mr_owner", 48),
    ("mr_owner_config", 48),
    ("rt_mr0", 48),
    ("rt_mr1", 48),
    ("rt_mr2", 48),
    ("rt_mr3", 48),
    ("report_data", 64),
)
# TD report 1.5 appends TEE_TCB_SVN2 (the SVN of the TDX module the TD was migrated/updated to)
# and MRSERVICETD (the measurement of the service TDs bound to this TD, e.g. a migration TD).
_TD15_EXTRA_FIELDS = (("tee_tcb_svn2", 16), ("mr_servicetd", 48))
TD_REPORT_LEN = sum(size for _, size in _TD_FIELDS)  # 584
TD15_REPORT_LEN = TD_REPORT_LEN + sum(size for _, size in _TD15_EXTRA_FIELDS)  # 648
SIGNED_LEN = _HEADER.size + TD_REPORT_LEN  # 632, v4
SIGNED_LEN_V5_TD10 = _HEADER.size + _DESCRIPTOR.size + TD_REPORT_LEN  # 638
SIGNED_LEN_V5_TD15 = _HEADER.size + _DESCRIPTOR.size + TD15_REPORT_LEN  # 702


@dataclass(frozen=True)
class QuoteHeader:
    version: int = QUOTE_VERSION
    attestation_key_type: int = ATT_KEY_TYPE_ECDSA_P256
    tee_type: int = TEE_TYPE_TDX
    qe_svn: int = 0
    pce_svn: int = 0
    qe_vendor_id: bytes = INTEL_QE_VENDOR_ID
    user_data: bytes = bytes(20)

    def encode(self) -> bytes:
        return _HEADER.pack(
            self.version,
            self.attestation_key_type,
            self.tee_type,
            self.qe_svn,
            self.pce_svn,
            self.qe_vendor_id,
            self.user_data,
        )


@dataclass(frozen=True)
class TdReport:
    """TDREPORT 1.0 body; ``mr_td`` is the TD's build-time measurement, ``td_attributes[0]`` bit 0
    DEBUG."""

    tee_tcb_svn: bytes = bytes(16)
    mr_seam: bytes = bytes(48)
    mr_signer_seam: bytes = bytes(48)
    seam_attributes: bytes = bytes(8)
    td_attributes: bytes = bytes(8)
    xfam: bytes = bytes(8)
    mr_td: bytes = bytes(48)
    mr_config_id: bytes = bytes(48)
    mr_owner: bytes = bytes(48)
    mr_owner_config: bytes = bytes(48)
    rt_mr0: bytes = bytes(48)
    rt_mr1: bytes = bytes(48)
    rt_mr2: bytes = bytes(48)
    rt_mr3: bytes = bytes(48)
    report_data: bytes = bytes(64)

    # (field, size) of this class's layout, in order; ``body_type`` is its v5 descriptor type.
    _layout: ClassVar[tuple[tuple[str, int], ...]] = _TD_FIELDS
    body_type: ClassVar[int] = BODY_TYPE_TD10

    def __post_init__(self) -> None:
        for name, size in self._layout:
            value = getattr(self, name)
            if not isinstance(value, bytes) or len(value) != size:
                raise EvidenceFormatError(f"TD report field {name} must be {size} bytes")

    @classmethod
    def encoded_len(cls) -> int:
        return sum(size for _, size in cls._layout)

    def encode(self) -> bytes:
        return b"".join(getattr(self, name) for name, _ in self._layout)

    @classmethod
    def parse(cls, raw: bytes) -> TdReport:
        if len(raw) != cls.encoded_len():
            raise EvidenceFormatError(f"TD report must be {cls.encoded_len()} bytes")
        values, offset = {}, 0
        for name, size in cls._layout:
            values[name] = raw[offset : offset + size]
            offset += size
        return cls(**values)


@dataclass(frozen=True)
class TdReport15(TdReport):
    """TDREPORT 1.5 body (v5 quotes of TDX 1.5 modules): the 1.0 fields, then ``tee_tcb_svn2`` and
    ``mr_servicetd``."""

    tee_tcb_svn2: bytes = bytes(16)
    mr_servicetd: bytes = bytes(48)

    _layout: ClassVar[tuple[tuple[str, int], ...]] = _TD_FIELDS + _TD15_EXTRA_FIELDS
    body_type: ClassVar[int] = BODY_TYPE_TD15


_BODY_CLASSES: dict[int, type[TdReport]] = {BODY_TYPE_TD10: TdReport, BODY_TYPE_TD15: TdReport15}


@dataclass(frozen=True)
class TdxQuote:
    """A parsed quote. ``header.version`` says the layout: 4 (body is a ``TdReport``) or 5 (body
    is a ``TdReport`` or ``TdReport15``, announced by a descriptor)."""

    header: QuoteHeader
    body: TdReport
    signature: bytes
    attestation_key: bytes
    qe_report: bytes
    qe_report_signature: bytes
    qe_auth_data: bytes
    pck_chain_pem: bytes

    def __post_init__(self) -> None:
        if self.header.version == QUOTE_VERSION_V4 and type(self.body) is not TdReport:
            raise EvidenceFormatError("a v4 TDX quote carries a TD 1.0 report only")
        if self.header.version not in (QUOTE_VERSION_V4, QUOTE_VERSION_V5):
            raise EvidenceFormatError(f"TDX quote version {self.header.version} is not 4 or 5")

    @property
    def version(self) -> int:
        return self.header.version

    @property
    def signed_bytes(self) -> bytes:
        """What the attestation key signs: header ‖ TD report (v4), header ‖ descriptor ‖ TD
        report (v5)."""
        body = self.body.encode()
        if self.header.version == QUOTE_VERSION_V4:
            return self.header.encode() + body
        return self.header.encode() + _DESCRIPTOR.pack(self.body.body_type, len(body)) + body

    def encode(self) -> bytes:
        pck = struct.pack("<HI", CERT_TYPE_PCK_CHAIN, len(self.pck_chain_pem)) + self.pck_chain_pem
        inner = (
            self.qe_report
            + self.qe_report_signature
            + struct.pack("<H", len(self.qe_auth_data))
            + self.qe_auth_data
            + pck
        )
        sig_data = (
            self.signature
            + self.attestation_key
            + struct.pack("<HI", CERT_TYPE_QE_REPORT, len(inner))
            + inner
        )
        return self.signed_bytes + struct.pack("<I", len(sig_data)) + sig_data

    @classmethod
    def parse(cls, raw: bytes) -> TdxQuote:
        """Parse a v4 or v5 TDX quote strictly; raise ``EvidenceFormatError`` on any deviation."""
        if not isinstance(raw, (bytes, bytearray)):
            raise EvidenceFormatError("a TDX quote must be bytes")
        reader = _Reader(bytes(raw))
        header = QuoteHeader(*_HEADER.unpack(reader.take(_HEADER.size, "header")))
        if (
            header.version not in (QUOTE_VERSION_V4, QUOTE_VERSION_V5)
            or header.attestation_key_type != ATT_KEY_TYPE_ECDSA_P256
            or header.tee_type != TEE_TYPE_TDX
        ):
            raise EvidenceFormatError(
                f"not a TDX DCAP v4/v5 ECDSA-P256 quote (version {header.version}, key type "
                f"{header.attestation_key_type}, tee type {header.tee_type:#x})"
            )
        if header.qe_vendor_id != INTEL_QE_VENDOR_ID:
            raise EvidenceFormatError("the quote was not produced by Intel's quoting enclave")
        body_class: type[TdReport] = TdReport
        if header.version == QUOTE_VERSION_V5:
            body_type = reader.u16("body type")
            body_size = reader.u32("body size")
            if body_type == BODY_TYPE_SGX_ENCLAVE:
                raise EvidenceFormatError("the v5 quote carries an SGX enclave report, not a TD")
            if body_type not in _BODY_CLASSES:
                raise EvidenceFormatError(f"unknown v5 quote body type {body_type}")
            body_class = _BODY_CLASSES[body_type]
            if body_size != body_class.encoded_len():
                raise EvidenceFormatError(
                    f"v5 body type {body_type} declares {body_size} bytes, "
                    f"not {body_class.encoded_len()}"
                )
        body = body_class.parse(reader.take(body_class.encoded_len(), "TD report"))
        sig_data = _Reader(reader.take(reader.u32("signature data size"), "signature data"))
        if any(reader.rest()):
            raise EvidenceFormatError("non-zero bytes after the end of the quote")
        signature = sig_data.take(_SIG_LEN, "quote signature")
        attestation_key = sig_data.take(_KEY_LEN, "attestation key")
        inner = _Reader(sig_data.certification_data(CERT_TYPE_QE_REPORT))
        sig_data.expect_end("signature data")
        qe_report = inner.take(SGX_REPORT_LEN, "QE report")
        qe_report_signature = inner.take(_SIG_LEN, "QE report signature")
        qe_auth_data = inner.take(inner.u16("QE auth data size"), "QE auth data")
        pck_chain_pem = inner.certification_data(CERT_TYPE_PCK_CHAIN)
        inner.expect_end("QE certification data")
        return cls(
            header,
            body,
            signature,
            attestation_key,
            qe_report,
            qe_report_signature,
            qe_auth_data,
            pck_chain_pem,
        )


class _Reader:
    """Bounds-checked cursor: every short read is a format error, never an IndexError."""

    def __init__(self, data: bytes) -> None:
        self._data, self._pos = data, 0

    def take(self, size: int, what: str) -> bytes:
        if self._pos + size > len(self._data):
            raise EvidenceFormatError(f"quote truncated in {what}")
        chunk = self._data[self._pos : self._pos + size]
        self._pos += size
        return chunk

    def u16(self, what: str) -> int:
        return int.from_bytes(self.take(2, what), "little")

    def u32(self, what: str) -> int:
        return int.from_bytes(self.take(4, what), "little")

    def certification_data(self, expected_type: int) -> bytes:
        cert_type = self.u16("certification data type")
        if cert_type != expected_type:
            raise EvidenceFormatError(
                f"certification data type {cert_type}, expected {expected_type}"
            )
        return self.take(
            self.u32("certification data size"), f"certification data type {expected_type}"
        )

    def rest(self) -> bytes:
        return self._data[self._pos :]

    def expect_end(self, what: str) -> None:
        if self._pos != len(self._data):
            raise EvidenceFormatError(
                f"{len(self._data) - self._pos} unexpected bytes at the end of {what}"
            )
