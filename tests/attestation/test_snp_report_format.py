"""SnpReport: the SEV-SNP report layout (versions 2 to 5; Milan, Genoa, Turin TCB layouts), parsed
strictly; AMD certificates loaded quietly."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from enclava.attestation import EvidenceFormatError, SnpReport, load_amd_certificates
from enclava.attestation.sev_snp_errors import (
    SnpReservedFieldError,
    SnpSigningKeyUnsupportedError,
    SnpUnknownProductError,
    SnpUnsupportedVersionError,
)
from enclava.attestation.sev_snp_report import (
    SNP_GENOA,
    SNP_MILAN,
    SNP_REPORT_LEN,
    SNP_SIGNED_LEN,
    SNP_TURIN,
    snp_product_for_cpuid,
    snp_product_named,
)

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
        (0x00, b"\x01", "version 1"),
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


def _vector(name: str) -> bytes:
    return (VECTORS / name).read_bytes()


def _patched(report: bytes, offset: int, value: bytes) -> bytes:
    return report[:offset] + value + report[offset + len(value) :]


@pytest.mark.parametrize(
    ("name", "version", "product", "signing_key", "tcb"),
    [
        ("attestation.bin", 2, None, 0, {"bl": 2, "tee": 0, "snp": 5, "ucode": 0x44}),
        ("milan-v3-report.bin", 3, SNP_MILAN, 0, {"bl": 4, "tee": 0, "snp": 0x18, "ucode": 0xDB}),
        (
            "genoa-v3-report.bin",
            3,
            SNP_GENOA,
            0,
            {"bl": 0x0A, "tee": 0, "snp": 0x17, "ucode": 0x54},
        ),
        (
            "turin-v5-report.bin",
            5,
            SNP_TURIN,
            0,
            {"fmc": 1, "bl": 1, "tee": 1, "snp": 4, "ucode": 0x51},
        ),
        ("milan-v2-vlek-report.bin", 2, None, 1, {"bl": 3, "tee": 0, "snp": 0x15, "ucode": 0xD1}),
        (
            "milan-v3-vlek-report.bin",
            3,
            SNP_MILAN,
            1,
            {"bl": 4, "tee": 0, "snp": 0x18, "ucode": 0xD9},
        ),
    ],
)
def test_parse_real_reports_of_each_version_and_product(name, version, product, signing_key, tcb):
    report = SnpReport.parse(_vector(name))
    assert report.version == version and report.signing_key == signing_key
    assert report.product is product
    assert (report.cpuid is None) is (version == 2)
    assert (product or SNP_MILAN).tcb_parts(report.reported_tcb) == tcb
    assert (report.launch_mit_vector is None) is (version < 5)
    if version == 5:
        assert report.launch_mit_vector == report.current_mit_vector == 0x3F


def test_product_table():
    assert (
        snp_product_for_cpuid(0x19, 0x01) is SNP_MILAN and snp_product_named("Genoa") is SNP_GENOA
    )
    assert snp_product_for_cpuid(0x1A, 0x02) is SNP_TURIN and SNP_TURIN.hwid_length == 8
    assert (
        SNP_MILAN.tcb_layout[6] == SNP_GENOA.tcb_layout[6] == "snp"
        and SNP_TURIN.tcb_layout[3] == "snp"
    )
    with pytest.raises(SnpUnknownProductError):
        snp_product_for_cpuid(0x19, 0xA0)
    with pytest.raises(SnpUnknownProductError):
        snp_product_named("Naples")


def test_version_4_has_the_version_3_layout():
    report = SnpReport.parse(_patched(_vector("genoa-v3-report.bin"), 0, b"\x04"))
    assert report.version == 4 and report.product is SNP_GENOA and report.launch_mit_vector is None


@pytest.mark.parametrize("version", [0, 1, 6, 0xFFFFFFFF])
def test_unsupported_versions_are_refused(version):
    with pytest.raises(SnpUnsupportedVersionError):
        SnpReport.parse(_patched(_vector("turin-v5-report.bin"), 0, version.to_bytes(4, "little")))


@pytest.mark.parametrize("flags", [2 << 2, 5 << 2, 7 << 2, 0x02, 0x03])
def test_signing_keys_other_than_vcek_and_vlek_are_refused(flags):
    with pytest.raises(SnpSigningKeyUnsupportedError):
        SnpReport.parse(_patched(_vector("milan-v3-report.bin"), 0x48, bytes([flags])))


@pytest.mark.parametrize(
    ("name", "offset", "value"),
    [
        ("milan-v3-report.bin", 0x48, b"\x20"),  # flags bit 5
        ("milan-v3-report.bin", 0x4B, b"\x80"),  # flags bit 31
        ("milan-v3-report.bin", 0x4C, b"\x01"),
        ("milan-v3-report.bin", 0x18B, b"\x01"),  # after the CPUID bytes
        ("attestation.bin", 0x188, b"\x19"),  # version 2: no CPUID, the bytes are reserved
        ("milan-v3-report.bin", 0x19F, b"\x01"),
        ("genoa-v3-report.bin", 0x1EB, b"\x01"),
        ("genoa-v3-report.bin", 0x1EF, b"\x01"),
        ("genoa-v3-report.bin", 0x1F8, b"\x01"),  # version 3: no mitigation vectors yet
        ("genoa-v3-report.bin", 0x207, b"\x01"),
        ("turin-v5-report.bin", 0x208, b"\x01"),
        ("turin-v5-report.bin", 0x29F, b"\x01"),
        ("turin-v5-report.bin", 0x0A, b"\x01"),  # policy bit 17 (reserved, must be one) cleared
        ("turin-v5-report.bin", 0x0B, b"\x04"),  # policy bit 26 (reserved, zero)
        ("turin-v5-report.bin", 0x0F, b"\x80"),  # policy bit 63
    ],
)
def test_reserved_fields_must_be_as_specified(name, offset, value):
    with pytest.raises(SnpReservedFieldError):
        SnpReport.parse(_patched(_vector(name), offset, value))


def test_version_5_mitigation_vectors_are_fields_not_reserved():
    report = SnpReport.parse(_patched(_vector("turin-v5-report.bin"), 0x200, b"\x7f"))
    assert report.current_mit_vector == 0x7F
