"""Intel TDX DCAP quote v4: the byte layout, a strict parser and an encoder.

Layout (all integers little-endian), as Intel's DCAP quote library and dcap-qvl read it::

    header          48   version=4, att_key_type=2 (ECDSA-P256), tee_type=0x81, qe_svn, pce_svn,
                         qe_vendor_id[16], user_data[20]
    td report      584   see ``TdReport``                        ┐ signed by the attestation key
    sig_data_len     4                                           ┘ (header ‖ td report)
    signature       64   ECDSA P-256 r‖s over header ‖ td report
    attestation key 64   P-256 public point x‖y
    cert type        2   6 = QE report certification data
    cert size        4
      qe report    384   SGX report of the quoting enclave, signed by the PCK key;
                         report_data[:32] = SHA-256(attestation key ‖ qe auth data)
      qe report sig 64   ECDSA P-256 r‖s by the PCK leaf key
      auth data len  2,  qe auth data
      cert type      2   5 = PCK certificate chain (PEM, leaf first)
      cert size      4,  PEM chain

The parser is stricter than dcap-qvl on purpose: declared sizes must add up exactly, the two
certification-data types must be 6 and 5, and only zero padding may follow the quote (configfs
pads its outblob). So no byte of an accepted quote can change without the quote being refused.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from enclava.attestation.errors import EvidenceFormatError

__all__ = [
    "QuoteHeader",
    "TdReport",
    "TdxQuote",
    "INTEL_QE_VENDOR_ID",
    "TEE_TYPE_TDX",
    "QUOTE_VERSION",
    "ATT_KEY_TYPE_ECDSA_P256",
    "SGX_REPORT_LEN",
]

QUOTE_VERSION = 4
ATT_KEY_TYPE_ECDSA_P256 = 2
TEE_TYPE_TDX = 0x81
INTEL_QE_VENDOR_ID = bytes.fromhex("939a7233f79c4ca9940a0db3957f0607")
CERT_TYPE_QE_REPORT = 6
CERT_TYPE_PCK_CHAIN = 5
SGX_REPORT_LEN = 384
_HEADER = struct.Struct("<HHIHH16s20s")
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
TD_REPORT_LEN = sum(size for _, size in _TD_FIELDS)  # 584
SIGNED_LEN = _HEADER.size + TD_REPORT_LEN  # 632


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

    def __post_init__(self) -> None:
        for name, size in _TD_FIELDS:
            value = getattr(self, name)
            if not isinstance(value, bytes) or len(value) != size:
                raise EvidenceFormatError(f"TD report field {name} must be {size} bytes")

    def encode(self) -> bytes:
        return b"".join(getattr(self, name) for name, _ in _TD_FIELDS)

    @classmethod
    def parse(cls, raw: bytes) -> TdReport:
        if len(raw) != TD_REPORT_LEN:
            raise EvidenceFormatError(f"TD report must be {TD_REPORT_LEN} bytes")
        values, offset = {}, 0
        for name, size in _TD_FIELDS:
            values[name] = raw[offset : offset + size]
            offset += size
        return cls(**values)


@dataclass(frozen=True)
class TdxQuote:
    header: QuoteHeader
    body: TdReport
    signature: bytes
    attestation_key: bytes
    qe_report: bytes
    qe_report_signature: bytes
    qe_auth_data: bytes
    pck_chain_pem: bytes

    @property
    def signed_bytes(self) -> bytes:
        """What the attestation key signs: header ‖ TD report."""
        return self.header.encode() + self.body.encode()

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
        """Parse a v4 TDX quote strictly; raise ``EvidenceFormatError`` on any deviation."""
        if not isinstance(raw, (bytes, bytearray)):
            raise EvidenceFormatError("a TDX quote must be bytes")
        reader = _Reader(bytes(raw))
        header = QuoteHeader(*_HEADER.unpack(reader.take(_HEADER.size, "header")))
        if (header.version, header.attestation_key_type, header.tee_type) != (
            QUOTE_VERSION,
            ATT_KEY_TYPE_ECDSA_P256,
            TEE_TYPE_TDX,
        ):
            raise EvidenceFormatError(
                f"not a TDX DCAP v4 ECDSA-P256 quote (version {header.version}, key type "
                f"{header.attestation_key_type}, tee type {header.tee_type:#x})"
            )
        if header.qe_vendor_id != INTEL_QE_VENDOR_ID:
            raise EvidenceFormatError("the quote was not produced by Intel's quoting enclave")
        body = TdReport.parse(reader.take(TD_REPORT_LEN, "TD report"))
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
