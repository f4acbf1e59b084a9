"""Attesters for real TDX and SEV-SNP guests: configfs-tsm report plus what verifies it.

* TDX: the quote from configfs-tsm, plus collateral (TCB info, QE identity, CRLs) that a
  :class:`CollateralSource` fetches for that quote; :class:`PccsCollateralSource` asks a PCCS/PCS.
* SEV-SNP (Milan, Genoa, Turin): the report from configfs-tsm, plus its endorsement chain, VCEK →
  ASK → ARK or, on clouds that load a VLEK into the firmware, VLEK → ASVK → ARK, taken from the
  certificate table the host attaches (auxblob) or, failing that, from a chain given at start-up.
  The report itself says which key signed it (flags at 0x48, bits 4:2); the attester picks that
  key's certificate from the table.
"""

from __future__ import annotations

import asyncio
import struct
import uuid
from collections.abc import Callable

import dcap_qvl
from cryptography.hazmat.primitives import serialization

from enclava.attestation.configfs_tsm import ConfigfsTsm
from enclava.attestation.errors import AttesterError, EvidenceFormatError
from enclava.attestation.evidence import Evidence
from enclava.attestation.sev_snp_report import load_amd_certificates
from enclava.protocol.tee import TeeType

__all__ = [
    "CollateralSource",
    "PccsCollateralSource",
    "ConfigfsTdxAttester",
    "ConfigfsSevSnpAttester",
    "snp_chain_from_cert_table",
]

CollateralSource = Callable[[bytes], bytes]
"""Given a TDX quote, return its collateral as dcap-qvl collateral JSON (UTF-8)."""

# GUIDs of the SEV-SNP extended-report certificate table (AMD GHCB spec, "SNP Extended Guest
# Request").
_ARK_GUID = uuid.UUID("c0b406a4-a803-4952-9743-3fb6014cd0ae")
_ASK_GUID = uuid.UUID("4ab7b379-bbac-4fe4-a02f-05aef327c782")
_VCEK_GUID = uuid.UUID("63da758d-e664-4564-adc5-f4b93be8accd")
_VLEK_GUID = uuid.UUID("a8074bc2-a25a-483e-aae6-39c045a0b8a1")  # its ASVK sits under the ASK GUID
_ENTRY = struct.Struct("<16sII")


class PccsCollateralSource:
    """Fetches TDX collateral for a quote from a PCCS or Intel's PCS, through dcap-qvl."""

    def __init__(self, pccs_url: str = dcap_qvl.INTEL_PCS_URL) -> None:
        self.pccs_url = pccs_url

    def __call__(self, quote: bytes) -> bytes:
        """Blocking fetch (runs its own event loop; from async code, await :meth:`fetch`)."""
        try:
            return asyncio.run(self.fetch(quote))
        except RuntimeError as exc:  # asyncio.run inside a running loop
            raise AttesterError(
                "PccsCollateralSource was called from a running event loop",
                hint="Await PccsCollateralSource.fetch(quote) from async code.",
            ) from exc

    async def fetch(self, quote: bytes) -> bytes:
        try:
            collateral = await dcap_qvl.get_collateral(self.pccs_url, quote)
            document: str = collateral.to_json()  # dcap-qvl ships no types
            return document.encode()
        except (ValueError, RuntimeError, OSError) as exc:
            raise AttesterError(
                f"could not fetch TDX collateral from {self.pccs_url}: {exc}",
                hint="Check that the PCCS URL is reachable from the confidential VM.",
            ) from exc


class ConfigfsTdxAttester:
    tee_type = TeeType.TDX

    def __init__(
        self, collateral_source: CollateralSource, *, tsm: ConfigfsTsm | None = None
    ) -> None:
        self._collateral_source, self._tsm = collateral_source, tsm or ConfigfsTsm()

    def attest(self, report_data: bytes) -> Evidence:
        quote = self._tsm.report(report_data, tee_type=TeeType.TDX).outblob
        return Evidence(TeeType.TDX, quote, self._collateral_source(quote))


class ConfigfsSevSnpAttester:
    tee_type = TeeType.SEV_SNP

    def __init__(
        self,
        *,
        cert_chain_pem: bytes | None = None,
        tsm: ConfigfsTsm | None = None,
        privlevel: int | None = None,
    ) -> None:
        self._fallback_chain, self._tsm, self._privlevel = (
            cert_chain_pem,
            tsm or ConfigfsTsm(),
            privlevel,
        )

    def attest(self, report_data: bytes) -> Evidence:
        report = self._tsm.report(
            report_data, tee_type=TeeType.SEV_SNP, read_auxblob=True, privlevel=self._privlevel
        )
        vlek = len(report.outblob) >= 0x4C and report.outblob[0x48] >> 2 & 0x7 == 1
        chain = (
            snp_chain_from_cert_table(report.auxblob, vlek=vlek)
            if report.auxblob
            else self._fallback_chain
        )
        if not chain:
            raise AttesterError(
                "the host attached no SEV-SNP certificates and no VCEK chain was configured",
                hint="Configure the VCEK/ASK/ARK chain (from AMD KDS) or have the host provide it.",
            )
        return Evidence(TeeType.SEV_SNP, report.outblob, chain)


def snp_chain_from_cert_table(table: bytes, *, vlek: bool = False) -> bytes:
    """VCEK, ASK, ARK (``vlek``: VLEK, ASVK, ARK) as one PEM bundle, from the GUID-indexed
    certificate table in auxblob."""
    found: dict[uuid.UUID, bytes] = {}
    for offset in range(0, len(table) - _ENTRY.size + 1, _ENTRY.size):
        guid_le, start, length = _ENTRY.unpack_from(table, offset)
        guid = uuid.UUID(bytes_le=guid_le)
        if guid.int == 0:
            break
        if start + length > len(table):
            raise AttesterError("SEV-SNP certificate table entry points past the end of the table")
        found[guid] = table[start : start + length]
    pem = []
    leaf = (_VLEK_GUID, "VLEK") if vlek else (_VCEK_GUID, "VCEK")
    for guid, name in (leaf, (_ASK_GUID, "ASK"), (_ARK_GUID, "ARK")):
        if guid not in found:
            raise AttesterError(f"the host's SEV-SNP certificate table has no {name}")
        try:
            (cert,) = load_amd_certificates(found[guid], der=True)
        except EvidenceFormatError as exc:
            raise AttesterError(
                f"the {name} in the SEV-SNP certificate table is not a DER certificate"
            ) from exc
        pem.append(cert.public_bytes(serialization.Encoding.PEM))
    return b"".join(pem)
