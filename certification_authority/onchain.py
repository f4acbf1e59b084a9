"""Enclave registration and revocation on chain.

``registerEnclave`` needs the CA signer's EIP-712 ``EnclaveCertificate`` signature, which the CA
also returns to the enclave so anyone could submit it, and the provider's own EIP-712
``EnclaveConsent`` (:mod:`enclava.protocol.consent`) for the same enclave and CA nonce, which the
registry checks again and accepts once; the CA submits both itself and pays the gas.
``revokeEnclave`` may be sent by governance or by the (active) CA signer that certified the enclave;
the CA sends it when an admin revokes an enclave, so the marketplace refuses its reports too.

The certificate carries the GPUs the CA verified with the CPU evidence (``gpu_class``,
``gpu_count``; ``""`` and 0 without): the registry records them, and the marketplace settles an
order whose TEE offer promises a GPU only with a report of an enclave certified with that class.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_account.messages import encode_typed_data
from eth_account.signers.local import LocalAccount
from web3 import Web3

from certification_authority.errors import RegistrationFailed
from enclava.chain import ChainClient
from enclava.chain.contracts import ContractSet
from enclava.chain.types import EnclaveRecord
from enclava.errors import ChainError
from enclava.protocol.eip712 import typed_data
from enclava.protocol.tee import CPU_GPU_CLASS, encode_gpu_class

__all__ = ["EnclaveRegistration", "certificate_typed_data", "EnclaveRegistrar", "OnChainRevocation"]


@dataclass(frozen=True)
class EnclaveRegistration:
    """An ``EnclaveCertificate``. ``gpu_class``/``gpu_count``: the verified GPUs' class label and
    number, both empty without GPUs; the registry's rule is checked here first (``ValueError``):
    a class without a count, a count without a class, the offers' ``"cpu"`` label, or a class that
    does not fit a ``bytes32`` unchanged."""

    enclave: str
    tee_type: int
    measurement: bytes  # 32-byte digest
    provider: str
    expires_at: int
    nonce: bytes  # the CA challenge the evidence bound; the provider's consent names it too
    gpu_class: str = ""
    gpu_count: int = 0

    def __post_init__(self) -> None:
        encode_gpu_class(self.gpu_class)
        if not 0 <= self.gpu_count <= 255:
            raise ValueError(f"a GPU count is one byte, not {self.gpu_count}")
        if (self.gpu_class == "") != (self.gpu_count == 0) or self.gpu_class == CPU_GPU_CLASS:
            raise ValueError(
                f"GPU class {self.gpu_class!r} with count {self.gpu_count}: both empty, or a GPU "
                "class with a non-zero count"
            )

    @property
    def gpu_class_bytes(self) -> bytes:
        """``gpu_class`` as the certificate's ``bytes32``."""
        return encode_gpu_class(self.gpu_class)


def certificate_typed_data(
    reg: EnclaveRegistration, *, chain_id: int, registry: str
) -> dict[str, Any]:
    """The EIP-712 ``EnclaveCertificate`` message, exactly as AttestationRegistry hashes it."""
    message = {
        "enclave": Web3.to_checksum_address(reg.enclave),
        "teeType": reg.tee_type,
        "measurement": reg.measurement,
        "provider": Web3.to_checksum_address(reg.provider),
        "expiresAt": reg.expires_at,
        "nonce": reg.nonce,
        "gpuClass": reg.gpu_class_bytes,
        "gpuCount": reg.gpu_count,
    }
    return typed_data("EnclaveCertificate", message, chain_id=chain_id, contract=registry)


@dataclass(frozen=True)
class OnChainRevocation:
    """What happened on chain: ``revoked`` (with the tx), ``already_revoked``, ``not_registered``
    (the enclave was never registered there), or ``other_ca`` (registered by another CA signer,
    which only governance may revoke)."""

    status: str
    tx_hash: str | None = None


class EnclaveRegistrar:
    """Signs ``EnclaveCertificate`` messages with the CA signer and submits them with the provider's
    consent. Its chain id and registry address are the EIP-712 domain consents are checked under."""

    def __init__(self, chain: ChainClient, contracts: ContractSet, signer: LocalAccount) -> None:
        self._chain = chain
        self._registry = contracts.attestation_registry
        self._signer = signer
        self._chain_id = chain.chain_id()

    @property
    def chain_id(self) -> int:
        return self._chain_id

    @property
    def registry_address(self) -> str:
        return str(self._registry.address)

    def sign(self, reg: EnclaveRegistration) -> bytes:
        typed = certificate_typed_data(
            reg, chain_id=self._chain_id, registry=self._registry.address
        )
        return bytes(self._signer.sign_message(encode_typed_data(full_message=typed)).signature)

    def submit(
        self, reg: EnclaveRegistration, signature: bytes, provider_signature: str | bytes
    ) -> str:
        """``registerEnclave(cert, signature, provider_signature)``; the CA checked the consent."""
        cert = (
            Web3.to_checksum_address(reg.enclave),
            reg.tee_type,
            reg.measurement,
            Web3.to_checksum_address(reg.provider),
            reg.expires_at,
            reg.nonce,
            reg.gpu_class_bytes,
            reg.gpu_count,
        )
        consent = (
            bytes.fromhex(provider_signature.removeprefix("0x"))
            if isinstance(provider_signature, str)
            else bytes(provider_signature)
        )
        try:
            tx = self._registry.functions.registerEnclave(
                cert, signature, consent
            ).build_transaction({"from": self._signer.address, "gas": 300_000})
            tx.pop("nonce", None)
            return self._chain.send(self._signer, dict(tx)).tx_hash
        except ChainError as exc:
            raise RegistrationFailed(f"registerEnclave failed: {exc.message}") from exc

    def revoke(self, enclave: str) -> OnChainRevocation:
        """Revoke ``enclave`` in the attestation registry, if this CA signer registered it."""
        address = Web3.to_checksum_address(enclave)
        try:
            record = EnclaveRecord.from_abi(
                address, self._registry.functions.getEnclave(address).call()
            )
        except Exception as exc:  # noqa: BLE001 - any web3/RPC failure: the chain could not be read
            raise RegistrationFailed(
                f"reading enclave {address} failed ({type(exc).__name__})"
            ) from exc
        if not record.registered:
            return OnChainRevocation("not_registered")
        if record.revoked:
            return OnChainRevocation("already_revoked")
        if record.ca.lower() != self._signer.address.lower():
            return OnChainRevocation("other_ca")
        try:
            tx = self._registry.functions.revokeEnclave(address).build_transaction(
                {"from": self._signer.address, "gas": 200_000}
            )
            tx.pop("nonce", None)
            return OnChainRevocation("revoked", self._chain.send(self._signer, dict(tx)).tx_hash)
        except ChainError as exc:
            raise RegistrationFailed(f"revokeEnclave failed: {exc.message}") from exc
