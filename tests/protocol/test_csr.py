"""An enclave key is secp256k1: its CSR names the on-chain address derived from it."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from enclava.protocol.csr import enclave_address_of
from enclava.protocol.errors import EnclaveKeyInvalid


def test_enclave_keys_must_be_secp256k1():
    with pytest.raises(EnclaveKeyInvalid):
        enclave_address_of(ec.generate_private_key(ec.SECP256R1()).public_key())
