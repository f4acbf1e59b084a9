"""The simulated TDX attester: real-format DCAP quotes from the development PKI, no hardware.

DEVELOPMENT ONLY. It stands in for a TDX guest's quoting enclave on machines without TDX: the
quote it emits has every byte a hardware quote has (header, TD report, attestation-key signature,
QE report signed by the PCK key, PCK chain) and its collateral has Intel's shape, so the CA checks
it with the very same dcap-qvl code path as real evidence. ``quote_version=4`` (the default) emits
what a TDX 1.0 module's quoting enclave emits, a v4 quote with a TD 1.0 report;
``quote_version=5`` emits what a TDX 1.5 module's emits, a v5 quote with a TD 1.5 report
(``tee_tcb_svn2`` equal to ``tee_tcb_svn``: the TD was not updated in place; ``mr_servicetd`` as
given, zero by default: no service TD is bound). The same collateral serves both, as Intel's does:
with ``tee_tcb_svn2 == tee_tcb_svn`` the TD 1.5 report matches the very TCB level the v4 one does.
Only the root differs: the public development root, which the CA trusts only with
``insecure_allow_simulated_tee=True``.
Quotes are deterministic: the same inputs and ``issued_at`` produce the same bytes.
"""

from __future__ import annotations

import dataclasses
import hashlib
import struct
import time
from collections.abc import Callable

from cryptography.hazmat.primitives import serialization

from enclava.attestation.dev_collateral import DEFAULT_COLLATERAL_VALIDITY_S, build_dev_collateral
from enclava.attestation.devpki import DEV_PKI_SEED, DevPki, development_pki, ecdsa_raw_sign
from enclava.attestation.errors import AttesterError
from enclava.attestation.evidence import Evidence
from enclava.attestation.tdx_quote import (
    QUOTE_VERSION_V4,
    QUOTE_VERSION_V5,
    QuoteHeader,
    TdReport,
    TdReport15,
    TdxQuote,
)
from enclava.protocol.tee import TeeType

__all__ = ["SimulatedTdxAttester"]

# TD attributes: byte 3 bit 4 is SEPT_VE_DISABLE (required by dcap-qvl), byte 0 bit 0 is DEBUG.
_TD_ATTRIBUTES = bytes([0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00])
_TD_ATTRIBUTES_DEBUG = bytes([0x01, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00])
_XFAM = bytes.fromhex("e702060000000000")
_QE_ATTRIBUTES = bytes.fromhex(
    "1500000000000000e700000000000000"
)  # INIT|MODE64BIT|PROVISIONKEY, not DEBUG
_QE_AUTH_DATA = bytes(range(32))


def _sgx_report(pki: DevPki, report_data: bytes) -> bytes:
    """A 384-byte SGX REPORT of the (simulated) TD quoting enclave."""
    platform = pki.platform
    return (
        platform.cpu_svn
        + struct.pack("<I", 0)
        + bytes(28)
        + _QE_ATTRIBUTES
        + platform.qe_mr_enclave
        + bytes(32)
        + platform.qe_mr_signer
        + bytes(96)
        + struct.pack("<HH", platform.qe_isv_prod_id, platform.qe_isv_svn)
        + bytes(60)
        + report_data
    )


class SimulatedTdxAttester:
    """Emits simulated TDX evidence for a TD whose MRTD is ``mr_td``.

    ``debug=True`` sets the TD's DEBUG attribute and ``outdated_tcb=True`` reports a TDX module
    SVN that only matches an OutOfDate TCB level: both exist so the CA's refusals can be tested.
    ``quote_version`` picks the v4 (TD 1.0) or v5 (TD 1.5) layout; ``mr_servicetd`` (v5 only) is
    the service-TD measurement the TD 1.5 report carries.
    """

    tee_type = TeeType.SIMULATED

    def __init__(
        self,
        mr_td: bytes,
        *,
        rt_mrs: tuple[bytes, bytes, bytes, bytes] | None = None,
        debug: bool = False,
        outdated_tcb: bool = False,
        clock: Callable[[], float] = time.time,
        collateral_validity_s: int = DEFAULT_COLLATERAL_VALIDITY_S,
        quote_version: int = QUOTE_VERSION_V4,
        mr_servicetd: bytes | None = None,
    ) -> None:
        if not isinstance(mr_td, bytes) or len(mr_td) != 48:
            raise AttesterError("a simulated TD's mr_td must be 48 bytes (a SHA-384 digest)")
        if type(quote_version) is not int or quote_version not in (
            QUOTE_VERSION_V4,
            QUOTE_VERSION_V5,
        ):
            raise AttesterError("quote_version must be 4 (TD 1.0) or 5 (TD 1.5)")
        if mr_servicetd is not None and (
            quote_version != QUOTE_VERSION_V5
            or not isinstance(mr_servicetd, bytes)
            or len(mr_servicetd) != 48
        ):
            raise AttesterError("mr_servicetd must be 48 bytes, and only in a v5 (TD 1.5) quote")
        self.quote_version = quote_version
        self._mr_servicetd = mr_servicetd or bytes(48)
        self.mr_td = mr_td
        self._rt_mrs = rt_mrs or tuple(
            hashlib.sha384(mr_td + bytes([i])).digest() for i in range(4)
        )
        if len(self._rt_mrs) != 4 or any(len(m) != 48 for m in self._rt_mrs):
            raise AttesterError("rt_mrs must be four 48-byte registers")
        self._debug, self._outdated = debug, outdated_tcb
        self._clock, self._validity_s = clock, collateral_validity_s
        self._pki = development_pki()

    def quote(self, report_data: bytes) -> bytes:
        """A TDX DCAP v4 or v5 quote over ``report_data`` (64 bytes), signed by the development
        QE."""
        if not isinstance(report_data, bytes) or len(report_data) != 64:
            raise AttesterError("report_data must be exactly 64 bytes")
        pki, platform = self._pki, self._pki.platform
        header = QuoteHeader(
            version=self.quote_version,
            qe_svn=platform.qe_isv_svn,
            pce_svn=platform.pce_svn,
            user_data=hashlib.sha256(DEV_PKI_SEED + b"/qe-id").digest()[:16] + bytes(4),
        )
        tee_tcb_svn = platform.outdated_tee_tcb_svn if self._outdated else platform.tee_tcb_svn
        body: TdReport = TdReport(
            tee_tcb_svn=tee_tcb_svn,
            mr_seam=platform.tdx_module_mr_seam,
            mr_signer_seam=platform.tdx_module_mr_signer,
            td_attributes=_TD_ATTRIBUTES_DEBUG if self._debug else _TD_ATTRIBUTES,
            xfam=_XFAM,
            mr_td=self.mr_td,
            rt_mr0=self._rt_mrs[0],
            rt_mr1=self._rt_mrs[1],
            rt_mr2=self._rt_mrs[2],
            rt_mr3=self._rt_mrs[3],
            report_data=report_data,
        )
        if self.quote_version == QUOTE_VERSION_V5:
            body = TdReport15(
                **{f.name: getattr(body, f.name) for f in dataclasses.fields(body)},
                tee_tcb_svn2=tee_tcb_svn,
                mr_servicetd=self._mr_servicetd,
            )
        attestation_point = pki.attestation_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )[1:]
        qe_report = _sgx_report(
            pki, hashlib.sha256(attestation_point + _QE_AUTH_DATA).digest() + bytes(32)
        )
        unsigned = TdxQuote(
            header,
            body,
            bytes(64),
            attestation_point,
            qe_report,
            ecdsa_raw_sign(pki.pck_key, qe_report),
            _QE_AUTH_DATA,
            pki.pck_chain_pem.encode("ascii"),
        )
        signature = ecdsa_raw_sign(pki.attestation_key, unsigned.signed_bytes)
        return dataclasses.replace(unsigned, signature=signature).encode()

    def collateral(self, *, issued_at: int | None = None) -> bytes:
        """Collateral JSON valid from ``issued_at`` (default: now) for the configured lifetime."""
        issued = int(self._clock()) if issued_at is None else issued_at
        return build_dev_collateral(self._pki, issued_at=issued, validity_s=self._validity_s)

    def attest(self, report_data: bytes) -> Evidence:
        """Quote plus fresh collateral, in the envelope the CA takes."""
        return Evidence(TeeType.SIMULATED, self.quote(report_data), self.collateral())
