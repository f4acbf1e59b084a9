"""Fixtures for the CA verifier tests (helpers live in ``ca_support``)."""

from __future__ import annotations

import pytest
from ca_support import VECTORS, ForgedAmd, forge_amd
from cryptography.hazmat.primitives import serialization

from enclava.attestation import Evidence, load_amd_certificates
from enclava.protocol.tee import TeeType


@pytest.fixture(scope="session")
def tdx_vector() -> Evidence:
    return Evidence(
        TeeType.TDX,
        (VECTORS / "tdx" / "tdx_quote").read_bytes(),
        (VECTORS / "tdx" / "tdx_quote_collateral.json").read_bytes(),
    )


@pytest.fixture(scope="session")
def snp_vector() -> Evidence:
    (vcek,) = load_amd_certificates((VECTORS / "sev-snp" / "vcek.der").read_bytes(), der=True)
    chain = (
        vcek.public_bytes(serialization.Encoding.PEM)
        + (VECTORS / "sev-snp" / "ask_ark_milan.pem").read_bytes()
    )
    return Evidence(TeeType.SEV_SNP, (VECTORS / "sev-snp" / "attestation.bin").read_bytes(), chain)


@pytest.fixture(scope="session")
def forged_amd() -> ForgedAmd:
    return forge_amd()
