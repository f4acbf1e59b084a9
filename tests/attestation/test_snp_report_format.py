"""SnpReport: the SEV-SNP report layout, parsed strictly; AMD certificates loaded quietly."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from enclava.attestation import EvidenceFormatError, SnpReport, load_amd_certificates
from enclava.attestation.sev_snp_report import SNP_REPORT_LEN, SNP_SIGNED_LEN

VECTORS = Path(__file__).resolve().parents[1] / "fixtures" / "attestation" / "sev-snp"
REPORT = (VECTORS / "attestation.bin").read_bytes()


def test_parse_real_report():
    report = SnpReport.parse(REPORT)
    assert report.version == 2 and report.signature_algo == 1 and report.vmpl == 0
    assert report.report_data == bytes([1, 2, 3, 4, 5]) + bytes(59)
    assert report.measurement.hex().startswith("b07af962") and len(report.measurement) == 48
    assert report.policy == 0xB0000 and report.debug is True
    assert SnpReport.tcb_parts(report.reported_tcb) == {"bl": 2, "tee": 0, "snp": 5, "ucode": 0x44}
    assert report.signed_bytes == REPORT[:SNP_SIGNED_LEN] and len(REPORT) == SNP_REPORT_LEN


def test_debug_is_policy_bit_19():
    cleared = bytearray(REPORT)
    cleared[0x0A] &= ~0x08  # bit 19 lives in byte 2 of the little-endian policy
    assert SnpReport.parse(bytes(cleared)).debug is False


@pytest.mark.parametrize("length", [0, SNP_SIGNED_LEN, SNP_REPORT_LEN - 1, SNP_REPORT_LEN + 1])
def test_wrong_length_is_refused(length):
    with pytest.raises(EvidenceFormatError):
        SnpReport.parse((REPORT * 2)[:length])


@pytest.mark.parametrize(
    ("offset", "value", "match"),
    [
        (0x00, b"\x01", "version"),
        (0x34, b"\x02", "signature algorithm"),
        (SNP_SIGNED_LEN + 50, b"\x01", "reserved"),  # unused high bytes of r
        (SNP_SIGNED_LEN + 72 + 60, b"\x01", "reserved"),  # unused high bytes of s
        (SNP_REPORT_LEN - 1, b"\x01", "reserved"),  # reserved tail of the signature area
    ],
)
def test_malformed_fields_are_refused(offset, value, match):
    bad = REPORT[:offset] + value + REPORT[offset + 1 :]
    with pytest.raises(EvidenceFormatError, match=match):
        SnpReport.parse(bad)


def test_amd_certificates_load_without_the_serial_zero_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        (vcek,) = load_amd_certificates((VECTORS / "vcek.der").read_bytes(), der=True)
        ask, ark = load_amd_certificates((VECTORS / "ask_ark_milan.pem").read_bytes())
    assert vcek.issuer == ask.subject and ask.issuer == ark.subject


@pytest.mark.parametrize(
    ("data", "der"), [(b"", False), (b"junk", True), (b"-----BEGIN CERTIFICATE-----\n", False)]
)
def test_malformed_certificates_are_refused(data, der):
    with pytest.raises(EvidenceFormatError):
        load_amd_certificates(data, der=der)
