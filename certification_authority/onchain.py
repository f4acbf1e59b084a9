"""Enclave registration on chain.

``registerEnclave`` needs the CA signer's EIP-712 signature, which the CA also
returns to the enclave so anyone could submit it; the CA submits it itself and pays the gas.
"""

from __future__ import annotations

from dataclasses import dataclass

from eth_account.messages import encode_typed_data
from eth_account.signers.local import LocalAccount
from web3 import Web3

from certification_authority.errors import RegistrationFailed
from enclava.chain import ChainClient
from enclava.chain.contracts import ContractSet
from enclava.errors import ChainError

__all__ = ["EnclaveRegistration", "certificate_typed_data", "EnclaveRegistrar"]


@dataclass(frozen=True)
class EnclaveRegistration:
    enclave: str
    tee_type: int
    measurement: bytes  # 32-byte digest
    provider: str
    expires_at: int


def certificate_typed_data(reg: EnclaveRegistration, *, chain_id: int, registry: str) -> dict:
    """The EIP-712 ``EnclaveCertificate`` message, exactly as AttestationRegistry hashes it."""
    return {
        "types": {
            "EIP712Domain": [
                {"name": "name", "type": "string"}, {"name": "version", "type": "string"},
                {"name": "chainId", "type": "uint256"}, {"name": "verifyingContract", "type": "address"},
            ],
            "EnclaveCertificate": [
                {"name": "enclave", "type": "address"}, {"name": "teeType", "type": "uint8"},
                {"name": "measurement", "type": "bytes32"}, {"name": "provider", "type": "address"},
                {"name": "expiresAt", "type": "uint64"},
            ],
        },
        "primaryType": "EnclaveCertificate",
        "domain": {"name": "Enclava AttestationRegistry", "version": "1", "chainId": chain_id,
                   "verifyingContract": Web3.to_checksum_address(registry)},
        "message": {"enclave": Web3.to_checksum_address(reg.enclave), "teeType": reg.tee_type,
                    "measurement": reg.measurement, "provider": Web3.to_checksum_address(reg.provider),
                    "expiresAt": reg.expires_at},
    }


class EnclaveRegistrar:
    """Signs ``EnclaveCertificate`` messages with the CA signer and submits them."""

    def __init__(self, chain: ChainClient, contracts: ContractSet, signer: LocalAccount) -> None:
        self._chain = chain
        self._registry = contracts.attestation_registry
        self._signer = signer
        self._chain_id = chain.chain_id()

    def sign(self, reg: EnclaveRegistration) -> bytes:
        typed = certificate_typed_data(reg, chain_id=self._chain_id, registry=self._registry.address)
        return bytes(self._signer.sign_message(encode_typed_data(full_message=typed)).signature)

    def submit(self, reg: EnclaveRegistration, signature: bytes) -> str:
        cert = (Web3.to_checksum_address(reg.enclave), reg.tee_type, reg.measurement,
                Web3.to_checksum_address(reg.provider), reg.expires_at)
        try:
            tx = self._registry.functions.registerEnclave(cert, signature).build_transaction(
                {"from": self._signer.address, "gas": 300_000})
            tx.pop("nonce", None)
            return self._chain.send(self._signer, tx).tx_hash
        except ChainError as exc:
            raise RegistrationFailed(f"registerEnclave failed: {exc.message}") from exc
