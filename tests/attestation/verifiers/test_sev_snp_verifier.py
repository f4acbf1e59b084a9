"""SevSnpVerifier against real Milan, Genoa and Turin reports (versions 2, 3, 5; VCEK and VLEK):
chain, signature, pinning, product and key binding, and every way it must fail, each with its own
typed error. Forged hierarchies (``ca_support.forge_amd``) cover what no public vector shows:
version 4, Genoa and Turin VLEKs, debug guests on each product."""

from __future__ import annotations

import hashlib

import pytest
from ca_support import (
    SNP_VALID_TIME,
    SNP_VECTOR,
    SNP_VECTORS,
    SNP_VLEK_2025_TIME,
    VECTORS,
    assert_every_bit_flip_refused,
    forge_amd,
    snp_leaf_pem,
    snp_report,
)
from cryptography.hazmat.primitives import serialization

from enclava.attestation import (
    CollateralExpiredError,
    Evidence,
    EvidenceFormatError,
    EvidenceSignatureError,
    UntrustedRootError,
    load_amd_certificates,
)
from enclava.attestation.errors import DebugEnclaveError
from enclava.attestation.sev_snp_errors import (
    SnpChainError,
    SnpChipMismatchError,
    SnpProductMismatchError,
    SnpReportSignatureError,
    SnpReservedFieldError,
    SnpSigningKeyMismatchError,
    SnpSigningKeyUnsupportedError,
    SnpTcbMismatchError,
    SnpUnknownProductError,
    SnpUnsupportedVersionError,
)
from enclava.attestation.verifiers import TCB_UP_TO_DATE, SevSnpVerifier, guard_debug_disabled
from enclava.attestation.verifiers.roots import (
    AMD_ARK_GENOA_SHA256,
    AMD_ARK_MILAN_SHA256,
    AMD_ARK_TURIN_SHA256,
    AMD_SNP_ROOTS,
)
from enclava.protocol.tee import TeeType

VCEK_NOT_AFTER = 1884905728  # 2029-09-24 00:55:28 UTC


def test_verify_real_report_against_vcek_and_milan_chain(snp_vector):
    claims = SevSnpVerifier().verify_evidence(snp_vector, now=SNP_VALID_TIME)

    assert claims.tee_type is TeeType.SEV_SNP and not claims.simulated
    assert claims.measurement.hex().startswith("b07af962") and len(claims.measurement) == 48
    assert claims.report_data == bytes([1, 2, 3, 4, 5]) + bytes(59)
    assert claims.debug is True  # the vector's guest policy 0xb0000 has bit 19 (DEBUG) set
    assert claims.tcb_status == "UpToDate"
    assert claims.details["chip_id"].startswith("3ac3fe21")


def test_every_single_bit_flip_of_real_report_is_refused(snp_vector):
    verifier = SevSnpVerifier()
    assert_every_bit_flip_refused(
        snp_vector.quote,
        lambda report: verifier.verify_report(report, snp_vector.collateral, now=SNP_VALID_TIME),
    )


@pytest.mark.parametrize(
    ("offset", "mask", "error"),
    [
        (0x90, 0x01, EvidenceSignatureError),  # measurement
        (0x2A0, 0x01, EvidenceSignatureError),  # signature r
        (0x2A0 + 60, 0x01, EvidenceFormatError),  # unused high bytes of r must be zero
        (0x00, 0x04, EvidenceFormatError),  # version 2 -> 6: unsupported
    ],
)
def test_flipped_byte_is_refused_with_its_error(snp_vector, offset, mask, error):
    flipped = bytearray(snp_vector.quote)
    flipped[offset] ^= mask
    with pytest.raises(error):
        SevSnpVerifier().verify_report(bytes(flipped), snp_vector.collateral, now=SNP_VALID_TIME)


def test_milan_ark_is_pinned_by_the_vectors_fingerprint(snp_vector):
    ark = load_amd_certificates(snp_vector.collateral)[-1]
    assert (
        hashlib.sha256(ark.public_bytes(serialization.Encoding.DER)).hexdigest()
        == AMD_ARK_MILAN_SHA256
    )


def test_self_consistent_chain_under_another_root_is_refused(snp_vector, forged_amd):
    report = snp_report(snp_vector.quote, forged_amd, report_data=bytes(64), measurement=bytes(48))
    with pytest.raises(UntrustedRootError):
        SevSnpVerifier().verify_report(report, forged_amd.chain_pem, now=SNP_VALID_TIME)
    # The same evidence passes once that root is pinned: the refusal above is the pin, nothing else.
    claims = SevSnpVerifier(trusted_ark_sha256=[forged_amd.ark_sha256]).verify_report(
        report, forged_amd.chain_pem, now=SNP_VALID_TIME
    )
    assert claims.debug is False


def test_real_report_with_a_forged_vcek_is_refused(snp_vector, forged_amd):
    forged_vcek = load_amd_certificates(forged_amd.chain_pem)[0].public_bytes(
        serialization.Encoding.PEM
    )
    real_ask_ark = snp_vector.collateral[
        snp_vector.collateral.index(b"-----END CERTIFICATE-----") + 26 :
    ]
    with pytest.raises(EvidenceSignatureError):
        SevSnpVerifier().verify_report(
            snp_vector.quote, forged_vcek + real_ask_ark, now=SNP_VALID_TIME
        )


def test_vcek_of_another_chip_is_refused(snp_vector, forged_amd):
    report = bytearray(
        snp_report(snp_vector.quote, forged_amd, report_data=bytes(64), measurement=bytes(48))
    )
    report[0x1A0] ^= 0xFF
    verifier = SevSnpVerifier(trusted_ark_sha256=[forged_amd.ark_sha256])
    with pytest.raises(EvidenceSignatureError, match="another chip"):
        verifier.verify_report(
            forged_amd.sign(bytes(report)), forged_amd.chain_pem, now=SNP_VALID_TIME
        )


def test_vcek_of_another_tcb_is_refused(snp_vector, forged_amd):
    report = bytearray(
        snp_report(snp_vector.quote, forged_amd, report_data=bytes(64), measurement=bytes(48))
    )
    report[0x187] = 0x45  # microcode SPL differs from what the VCEK certifies
    verifier = SevSnpVerifier(trusted_ark_sha256=[forged_amd.ark_sha256])
    with pytest.raises(EvidenceSignatureError, match="certifies TCB"):
        verifier.verify_report(
            forged_amd.sign(bytes(report)), forged_amd.chain_pem, now=SNP_VALID_TIME
        )


@pytest.mark.parametrize("now", [VCEK_NOT_AFTER + 1, 1_600_000_000])
def test_report_refused_outside_certificate_validity(snp_vector, now):
    with pytest.raises(CollateralExpiredError):
        SevSnpVerifier().verify_evidence(snp_vector, now=now)


def test_tcb_below_configured_minimum_is_out_of_date(snp_vector):
    claims = SevSnpVerifier(minimum_tcb={"snp": 8}).verify_evidence(snp_vector, now=SNP_VALID_TIME)
    assert claims.tcb_status == "OutOfDate"


@pytest.mark.parametrize(
    "chain",
    [
        b"",
        b"not a pem",
        lambda pem: pem.split(b"-----END CERTIFICATE-----\n", 1)[1],  # VCEK missing
        lambda pem: (
            pem + pem.split(b"-----END CERTIFICATE-----\n", 1)[0] + b"-----END CERTIFICATE-----\n"
        ),
    ],
)
def test_malformed_chain_is_refused(snp_vector, chain):
    chain = chain(snp_vector.collateral) if callable(chain) else chain
    with pytest.raises(EvidenceFormatError):
        SevSnpVerifier().verify_report(snp_vector.quote, chain, now=SNP_VALID_TIME)


def test_evidence_of_another_tee_type_is_refused(snp_vector):
    with pytest.raises(EvidenceFormatError):
        SevSnpVerifier().verify_evidence(
            Evidence(TeeType.TDX, snp_vector.quote, snp_vector.collateral), now=SNP_VALID_TIME
        )


# --- Milan, Genoa, Turin; VCEK and VLEK; report versions 2 to 5 -------------------------------


def _leaf_pem(vector) -> bytes:
    return snp_leaf_pem(vector.leaf_file)


def _chain(leaf_file: str, chain_file: str) -> bytes:
    return snp_leaf_pem(leaf_file) + (VECTORS / "sev-snp" / chain_file).read_bytes()


def _verify(report: bytes, chain: bytes, now: int, **kwargs):
    return SevSnpVerifier(**kwargs).verify_report(report, chain, now=now)


def _patched(report: bytes, offset: int, value: bytes) -> bytes:
    return report[:offset] + value + report[offset + len(value) :]


@pytest.mark.parametrize("vector", SNP_VECTORS, ids=lambda v: v.name)
def test_every_real_vector_verifies_with_its_product_and_key(vector):
    claims = _verify(vector.report, vector.chain, vector.now)
    assert claims.details["product"] == vector.product
    assert claims.details["signing_key"] == vector.kind
    assert claims.details["report_version"] == str(vector.version)
    assert claims.tcb_status == "UpToDate" and claims.report_data == vector.report[0x50:0x90]
    assert claims.debug is (vector.name == "milan-v2")
    assert ("csp_id" in claims.details) is (vector.kind == "VLEK")
    if vector.kind == "VLEK":
        assert claims.details["csp_id"] == "CN=cc-us-east-2.amazonaws.com"


def test_default_verifier_trusts_exactly_the_three_products():
    assert {root.product.name for root in AMD_SNP_ROOTS} == {"Milan", "Genoa", "Turin"}
    assert {AMD_ARK_MILAN_SHA256, AMD_ARK_GENOA_SHA256, AMD_ARK_TURIN_SHA256} == {
        root.ark_sha256 for root in AMD_SNP_ROOTS
    }


@pytest.mark.parametrize(
    ("chain_file", "fingerprint"),
    [
        ("ask_ark_milan.pem", AMD_ARK_MILAN_SHA256),
        ("ask_ark_milan_vlek.pem", AMD_ARK_MILAN_SHA256),
        ("ask_ark_genoa.pem", AMD_ARK_GENOA_SHA256),
        ("ask_ark_genoa_vlek.pem", AMD_ARK_GENOA_SHA256),
        ("ask_ark_turin.pem", AMD_ARK_TURIN_SHA256),
        ("ask_ark_turin_vlek.pem", AMD_ARK_TURIN_SHA256),
    ],
)
def test_pinned_fingerprints_are_those_of_amds_arks(chain_file, fingerprint):
    ark = load_amd_certificates((VECTORS / "sev-snp" / chain_file).read_bytes())[-1]
    assert hashlib.sha256(ark.public_bytes(serialization.Encoding.DER)).hexdigest() == fingerprint


@pytest.mark.parametrize("vector", SNP_VECTORS, ids=lambda v: v.name)
@pytest.mark.parametrize("offset", [0x90, 0x50, 0x2A0, 0x2A0 + 72])  # measurement, data, r, s
def test_flipped_signed_byte_or_signature_is_refused(vector, offset):
    flipped = bytearray(vector.report)
    flipped[offset] ^= 0x01
    with pytest.raises(SnpReportSignatureError):
        _verify(bytes(flipped), vector.chain, vector.now)


@pytest.mark.parametrize("name", ["genoa-v3", "turin-v5", "milan-v3-vlek"])
def test_every_single_bit_flip_of_each_new_product_is_refused(name):
    vector, verifier = SNP_VECTOR[name], SevSnpVerifier()
    assert_every_bit_flip_refused(
        vector.report, lambda report: verifier.verify_report(report, vector.chain, now=vector.now)
    )


@pytest.mark.parametrize("vector", SNP_VECTORS, ids=lambda v: v.name)
def test_expired_endorsement_key_is_refused(vector):
    (leaf,) = load_amd_certificates(_leaf_pem(vector))
    with pytest.raises(CollateralExpiredError):
        _verify(vector.report, vector.chain, int(leaf.not_valid_after_utc.timestamp()) + 1)


@pytest.mark.parametrize("name", ["milan-v2-vlek", "milan-v3-vlek"])
def test_vlek_vectors_have_expired_at_the_wall_clock(name):
    vector = SNP_VECTOR[name]
    with pytest.raises(CollateralExpiredError):
        _verify(vector.report, vector.chain, SNP_VALID_TIME)


@pytest.mark.parametrize("name", ["genoa-v3", "turin-v5", "milan-v3"])
def test_ark_not_pinned_is_refused(name):
    vector = SNP_VECTOR[name]
    others = [root.ark_sha256 for root in AMD_SNP_ROOTS if root.product.name != vector.product]
    with pytest.raises(UntrustedRootError):
        _verify(vector.report, vector.chain, vector.now, trusted_ark_sha256=others)


@pytest.mark.parametrize(
    ("report", "chain"),
    [
        ("milan-v3", "genoa-v3"),  # a Milan report (CPUID 19h/01h) with Genoa's VCEK chain
        ("genoa-v3", "milan-v3"),
        ("turin-v5", "genoa-v3-azure"),
        ("milan-v3-vlek", "genoa-v3"),  # checked before the key kind: CPUID names Milan
    ],
)
def test_report_of_one_product_with_the_chain_of_another_is_refused(report, chain):
    with pytest.raises(SnpProductMismatchError, match="was made on"):
        _verify(SNP_VECTOR[report].report, SNP_VECTOR[chain].chain, SNP_VALID_TIME)


@pytest.mark.parametrize(
    ("leaf_file", "chain_file", "match"),
    [
        ("genoa-v3-vcek.pem", "ask_ark_milan.pem", "its chain for Milan"),  # Genoa VCEK, Milan ASK
        ("turin-v5-vcek.pem", "ask_ark_genoa.pem", "its chain for Genoa"),
    ],
)
def test_endorsement_key_of_another_product_is_refused(leaf_file, chain_file, match):
    vector = SNP_VECTOR["milan-v2"]  # version 2: no CPUID, so only the chain can disagree
    with pytest.raises(SnpProductMismatchError, match=match):
        _verify(vector.report, _chain(leaf_file, chain_file), SNP_VALID_TIME)


def test_intermediate_of_another_product_is_refused():
    genoa_ask = (VECTORS / "sev-snp" / "ask_ark_genoa.pem").read_bytes().split(b"-----END")[0]
    milan_ark = load_amd_certificates((VECTORS / "sev-snp" / "ask_ark_milan.pem").read_bytes())[-1]
    chain = (
        _leaf_pem(SNP_VECTOR["milan-v3"])
        + genoa_ask
        + b"-----END CERTIFICATE-----\n"
        + milan_ark.public_bytes(serialization.Encoding.PEM)
    )
    with pytest.raises(SnpProductMismatchError, match="neither the ASK nor the ASVK"):
        _verify(SNP_VECTOR["milan-v3"].report, chain, SNP_VALID_TIME)


def test_version_2_report_takes_its_product_from_the_chain():
    # A Milan v2 report says nothing of its CPU: with Genoa's chain, the binding refuses it.
    with pytest.raises(SnpChipMismatchError):
        _verify(SNP_VECTOR["milan-v2"].report, SNP_VECTOR["genoa-v3"].chain, SNP_VALID_TIME)


@pytest.mark.parametrize(
    ("report", "chain"),
    [
        ("milan-v3-vlek", "milan-v3"),  # VLEK-signed report, VCEK chain
        ("milan-v2-vlek", "milan-v2"),
        ("milan-v3", "milan-v3-vlek"),  # VCEK-signed report, VLEK chain
    ],
)
def test_signing_key_and_chain_kind_must_agree(report, chain):
    now = SNP_VECTOR[chain].now
    with pytest.raises(SnpSigningKeyMismatchError):
        _verify(SNP_VECTOR[report].report, SNP_VECTOR[chain].chain, now)


def test_vlek_leaf_under_an_ask_is_refused():
    chain = _chain("milan-v3-vlek.der", "ask_ark_milan.pem")
    with pytest.raises(SnpChainError, match="not SEV-VCEK"):
        _verify(SNP_VECTOR["milan-v3"].report, chain, SNP_VLEK_2025_TIME)


@pytest.mark.parametrize("flags", [2 << 2, 3 << 2, 6 << 2, 7 << 2, 0x02, 1 << 5])
def test_unknown_signing_key_or_flags_are_refused(flags):
    vector = SNP_VECTOR["turin-v5"]
    error = SnpReservedFieldError if flags >> 5 else SnpSigningKeyUnsupportedError
    with pytest.raises(error):
        _verify(_patched(vector.report, 0x48, bytes([flags])), vector.chain, vector.now)


@pytest.mark.parametrize("version", [0, 1, 6, 7, 0x100])
def test_unsupported_report_versions_are_refused(version):
    vector = SNP_VECTOR["genoa-v3"]
    report = _patched(vector.report, 0, version.to_bytes(4, "little"))
    with pytest.raises(SnpUnsupportedVersionError):
        _verify(report, vector.chain, vector.now)


@pytest.mark.parametrize(
    ("report", "chain"),
    [("milan-v3", "milan-v2"), ("turin-v5", "turin-v5-b"), ("genoa-v3", "genoa-v3-azure")],
)
def test_real_vcek_of_another_chip_is_refused(report, chain):
    with pytest.raises(SnpChipMismatchError, match="another chip"):
        _verify(SNP_VECTOR[report].report, SNP_VECTOR[chain].chain, SNP_VALID_TIME)


@pytest.mark.parametrize("name", ["milan-v3", "genoa-v3", "turin-v5", "milan-v3-vlek"])
@pytest.mark.parametrize("offset", [0x180, 0x187])  # first and microcode SPL of REPORTED_TCB
def test_reported_tcb_other_than_certified_is_refused(name, offset):
    vector = SNP_VECTOR[name]
    flipped = bytearray(vector.report)
    flipped[offset] ^= 0x01
    with pytest.raises(SnpTcbMismatchError, match="certifies TCB"):
        _verify(bytes(flipped), vector.chain, vector.now)


@pytest.mark.parametrize(("name", "offset"), [("milan-v3", 0x3A), ("turin-v5", 0x3C)])
def test_reserved_byte_of_a_tcb_version_is_refused(name, offset):
    vector = SNP_VECTOR[name]  # CURRENT_TCB: Milan bytes 2..5 and Turin bytes 4..6 are reserved
    with pytest.raises(SnpTcbMismatchError, match="reserved"):
        _verify(_patched(vector.report, offset, b"\x01"), vector.chain, vector.now)


def test_turin_hwid_is_the_first_8_chip_id_bytes_and_the_rest_must_be_zero():
    vector = SNP_VECTOR["turin-v5"]
    assert vector.report[0x1A8:0x1E0] == bytes(56)
    with pytest.raises(SnpChipMismatchError):
        _verify(_patched(vector.report, 0x1B0, b"\x01"), vector.chain, vector.now)


def test_minimum_tcb_compares_only_the_products_spls():
    turin, milan = SNP_VECTOR["turin-v5"], SNP_VECTOR["milan-v3"]
    assert _verify(turin.report, turin.chain, turin.now, minimum_tcb={"fmc": 2}).tcb_status == (
        "OutOfDate"
    )
    assert _verify(milan.report, milan.chain, milan.now, minimum_tcb={"fmc": 2}).tcb_status == (
        TCB_UP_TO_DATE
    )


def test_debug_guest_is_refused_by_the_debug_guard():
    claims = _verify(SNP_VECTOR["milan-v2"].report, SNP_VECTOR["milan-v2"].chain, SNP_VALID_TIME)
    with pytest.raises(DebugEnclaveError):
        guard_debug_disabled(claims, None)  # the guard reads no context


# --- forged hierarchies: what no public vector shows (v4, Genoa/Turin VLEK, debug on each) ------


@pytest.mark.parametrize(
    ("product", "kind", "template", "version"),
    [
        ("Genoa", "VCEK", "genoa-v3", 4),
        ("Turin", "VCEK", "turin-v5", 4),
        ("Milan", "VLEK", "milan-v3-vlek", 4),
        ("Genoa", "VLEK", "genoa-v3", 3),
        ("Turin", "VLEK", "turin-v5", 5),
        ("Turin", "VCEK", "turin-v5", 5),
    ],
)
@pytest.mark.parametrize("debug", [False, True])
def test_forged_hierarchy_of_each_product_kind_and_version(product, kind, template, version, debug):
    forged = forge_amd(product, kind)
    report = snp_report(
        SNP_VECTOR[template].report,
        forged,
        report_data=bytes(range(64)),
        measurement=bytes(48),
        debug=debug,
        version=version,
    )
    verifier = SevSnpVerifier(trusted_ark_sha256=[forged.ark_sha256])
    claims = verifier.verify_report(report, forged.chain_pem, now=SNP_VALID_TIME)
    assert claims.details["product"] == product and claims.details["signing_key"] == kind
    assert claims.details["report_version"] == str(version) and claims.debug is debug
    if debug:
        with pytest.raises(DebugEnclaveError):
            guard_debug_disabled(claims, None)
    # the forged root is trusted only where pinned
    with pytest.raises(UntrustedRootError):
        SevSnpVerifier().verify_report(report, forged.chain_pem, now=SNP_VALID_TIME)


def test_forged_turin_tcb_mismatch_is_refused():
    forged = forge_amd("Turin")
    report = bytearray(
        snp_report(
            SNP_VECTOR["turin-v5"].report, forged, report_data=bytes(64), measurement=bytes(48)
        )
    )
    report[0x180] ^= 0x02  # FMC SPL: Turin's byte 0
    verifier = SevSnpVerifier(trusted_ark_sha256=[forged.ark_sha256])
    with pytest.raises(SnpTcbMismatchError, match="'fmc'"):
        verifier.verify_report(forged.sign(bytes(report)), forged.chain_pem, now=SNP_VALID_TIME)


def test_unknown_cpuid_is_refused():
    forged = forge_amd("Genoa")
    report = bytearray(
        snp_report(
            SNP_VECTOR["genoa-v3"].report, forged, report_data=bytes(64), measurement=bytes(48)
        )
    )
    report[0x189] = 0xA0  # family 19h model A0h (Bergamo/Siena): not a product this CA knows
    verifier = SevSnpVerifier(trusted_ark_sha256=[forged.ark_sha256])
    with pytest.raises(SnpUnknownProductError):
        verifier.verify_report(forged.sign(bytes(report)), forged.chain_pem, now=SNP_VALID_TIME)


def test_extra_pinned_root_must_name_a_known_product(snp_vector):
    forged = forge_amd("Milan")
    renamed = SevSnpVerifier(trusted_ark_sha256=["00" * 32])
    with pytest.raises(UntrustedRootError):
        renamed.verify_report(snp_vector.quote, forged.chain_pem, now=SNP_VALID_TIME)
