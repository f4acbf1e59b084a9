"""The SEV-SNP attester's certificate-table reader picks the key that signed the report: the VCEK
chain, or on a VLEK cloud the VLEK with its ASVK (which the GHCB spec files under the ASK GUID)."""

from __future__ import annotations

import struct
import uuid

import pytest
from ca_support import SNP_VECTOR
from cryptography.hazmat.primitives import serialization

from enclava.attestation import AttesterError, load_amd_certificates
from enclava.attestation.hardware import snp_chain_from_cert_table
from enclava.attestation.verifiers import SevSnpVerifier

_GUIDS = {
    "vcek": "63da758d-e664-4564-adc5-f4b93be8accd",
    "vlek": "a8074bc2-a25a-483e-aae6-39c045a0b8a1",
    "ask": "4ab7b379-bbac-4fe4-a02f-05aef327c782",
    "ark": "c0b406a4-a803-4952-9743-3fb6014cd0ae",
}


def _table(certs: dict[str, bytes]) -> bytes:
    header_len = 24 * (len(certs) + 1)
    entries, blobs, offset = b"", b"", header_len
    for name, der in certs.items():
        entries += struct.pack("<16sII", uuid.UUID(_GUIDS[name]).bytes_le, offset, len(der))
        blobs, offset = blobs + der, offset + len(der)
    return entries + bytes(24) + blobs


def _ders(vector) -> list[bytes]:
    return [c.public_bytes(serialization.Encoding.DER) for c in load_amd_certificates(vector.chain)]


@pytest.mark.parametrize("name", ["milan-v3-vlek", "milan-v2-vlek"])
def test_vlek_chain_is_read_from_the_table_and_verifies(name):
    vector = SNP_VECTOR[name]
    vlek, asvk, ark = _ders(vector)
    chain = snp_chain_from_cert_table(_table({"vlek": vlek, "ask": asvk, "ark": ark}), vlek=True)
    claims = SevSnpVerifier().verify_report(vector.report, chain, now=vector.now)
    assert claims.details["signing_key"] == "VLEK"
    with pytest.raises(AttesterError, match="no VCEK"):
        snp_chain_from_cert_table(_table({"vlek": vlek, "ask": asvk, "ark": ark}))


def test_vcek_chain_is_read_for_a_vcek_report():
    vector = SNP_VECTOR["turin-v5"]
    vcek, ask, ark = _ders(vector)
    chain = snp_chain_from_cert_table(_table({"vcek": vcek, "ask": ask, "ark": ark}))
    claims = SevSnpVerifier().verify_report(vector.report, chain, now=vector.now)
    assert claims.details["product"] == "Turin"
    with pytest.raises(AttesterError, match="no VLEK"):
        snp_chain_from_cert_table(_table({"vcek": vcek, "ask": ask, "ark": ark}), vlek=True)
