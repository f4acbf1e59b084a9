"""The certification step: evidence + CSR in, certificate + on-chain registration out.

Guards run in this fixed order, each raising its own typed error, and every decision is logged
without key material: parse the CSR → check the provider's consent → verify the evidence (vendor
chain, report_data binding to the CSR's key, nonce, debug, TCB, on-chain allow-list) → issue the
certificate → sign and submit ``registerEnclave``.

An enclave attested with confidential GPUs (``claims.gpus``, each verified and bound into the CPU
report) is certified with their class and count, in its certificate and its on-chain record; all
its GPUs must share one class (``GpuClassesMixed`` otherwise).

The provider's consent is its EIP-712 ``EnclaveConsent(enclave, provider, nonce)`` under the
attestation registry's domain (:mod:`enclava.protocol.consent`): checked here first, then passed
into ``registerEnclave``, which checks it again on chain and accepts it once.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Callable

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from certification_authority.certificates import issue_enclave_certificate
from certification_authority.errors import (
    CertificateInvalid,
    GpuClassesMixed,
    GpuClassInvalid,
    ProviderConsentRefused,
)
from certification_authority.onchain import EnclaveRegistrar, EnclaveRegistration
from certification_authority.sealing import CaKeys
from enclava.attestation.evidence import Evidence
from enclava.attestation.verifiers import EvidenceVerifier
from enclava.chain.types import measurement_digest
from enclava.logs import get_logger
from enclava.protocol.consent import ConsentInvalid, recover_consent_signer
from enclava.protocol.csr import enclave_address_of
from enclava.protocol.tee import CPU_GPU_CLASS, MAX_GPU_COUNT, is_gpu_class, onchain_tee

__all__ = ["CertificationAuthority", "CertifyResult", "certified_gpus"]

log = get_logger("enclava.ca.certify")


@dataclass(frozen=True)
class CertifyResult:
    certificate_pem: str
    enclave_address: str
    serial: int
    tee_type: int
    measurement_digest: str
    expires_at: int
    simulated: bool
    registry_signature: str
    registration_tx: str | None
    gpu_class: str = ""  # "" and 0: certified without a GPU
    gpu_count: int = 0


def certified_gpus(gpus: Sequence[Any]) -> tuple[str, int]:
    """``(gpu_class, gpu_count)`` of verified GPU claims: ``("", 0)`` without GPUs; their one
    class otherwise, or ``GpuClassesMixed``."""
    classes = sorted({str(gpu.gpu_class) for gpu in gpus})
    if not classes:
        return "", 0
    if len(classes) > 1:
        raise GpuClassesMixed(f"the enclave's GPUs are of different classes: {', '.join(classes)}")
    if not is_gpu_class(classes[0]) or classes[0] == CPU_GPU_CLASS or len(gpus) > MAX_GPU_COUNT:
        raise GpuClassInvalid(f"the GPUs' class {classes[0]!r} (x{len(gpus)}) cannot be certified")
    return classes[0], len(gpus)


class CertificationAuthority:
    def __init__(
        self,
        keys: CaKeys,
        ca_cert: x509.Certificate,
        verifier: EvidenceVerifier,
        *,
        registrar: EnclaveRegistrar | None,
        lifetime_s: int = 3600,
        clock: Callable[[], float] = time.time,
        on_issued: Callable[[CertifyResult, str], None] | None = None,
    ) -> None:
        self.keys = keys
        self.ca_cert = ca_cert
        self._verifier = verifier
        self._registrar = registrar
        self._lifetime_s = lifetime_s
        self._clock = clock
        self._on_issued = on_issued

    # -- guards, in order --------------------------------------------------------------------
    @staticmethod
    def guard_csr(csr_pem: str) -> tuple[x509.CertificateSigningRequest, bytes, str]:
        try:
            csr = x509.load_pem_x509_csr(csr_pem.encode())
        except ValueError as exc:
            raise CertificateInvalid("the CSR is not a PEM certificate request") from exc
        if not csr.is_signature_valid:
            raise CertificateInvalid("the CSR's signature does not verify")
        key = csr.public_key()
        if not isinstance(key, ec.EllipticCurvePublicKey):
            raise CertificateInvalid("the CSR key must be secp256k1")
        spki = key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return csr, spki, enclave_address_of(key)

    def guard_provider_consent(
        self, enclave: str, nonce: bytes, provider: str, signature: str
    ) -> None:
        """The provider named in the request signed ``EnclaveConsent(enclave, provider, nonce)``
        under the registry's EIP-712 domain, as ``registerEnclave`` will check again on chain."""
        if self._registrar is None:  # fail closed: no domain to check the consent under
            raise ProviderConsentRefused(
                "this CA has no attestation registry to check the provider's consent against",
                hint="Configure the CA with the chain (CA_MANIFEST).",
            )
        try:
            signer = recover_consent_signer(
                signature,
                enclave=enclave,
                provider=provider,
                nonce=nonce,
                chain_id=self._registrar.chain_id,
                registry=self._registrar.registry_address,
            )
        except ConsentInvalid as exc:
            raise ProviderConsentRefused(
                f"the provider's consent is malformed: {exc.message}", hint=exc.hint
            ) from exc
        if signer.lower() != provider.lower():
            raise ProviderConsentRefused("the consent is not signed by the named provider")

    # -- the operation -----------------------------------------------------------------------
    def certify(
        self,
        *,
        evidence: Evidence,
        csr_pem: str,
        nonce: bytes,
        provider: str,
        provider_signature: str,
    ) -> CertifyResult:
        csr, spki, enclave = self.guard_csr(csr_pem)
        self.guard_provider_consent(enclave, nonce, provider, provider_signature)
        now = int(self._clock())
        result = self._verifier.verify(evidence, nonce=nonce, enclave_public_key_der=spki, now=now)
        claims = result.claims
        gpu_class, gpu_count = certified_gpus(claims.gpus)
        tee = int(onchain_tee(claims.tee_type, simulated=claims.simulated))
        cert = issue_enclave_certificate(
            self.keys.cert_key,
            self.ca_cert,
            csr,
            tee_type=tee,
            measurement=claims.measurement,
            provider_address=provider,
            simulated=claims.simulated,
            now=now,
            lifetime_s=self._lifetime_s,
            gpu_class=gpu_class,
            gpu_count=gpu_count,
        )
        expires_at = now + self._lifetime_s
        digest = measurement_digest(claims.measurement)
        registration = EnclaveRegistration(
            enclave,
            tee,
            digest,
            provider,
            expires_at,
            nonce,
            gpu_class=gpu_class,
            gpu_count=gpu_count,
        )
        signature, tx = b"", None
        if self._registrar is not None:
            signature = self._registrar.sign(registration)
            tx = self._registrar.submit(registration, signature, provider_signature)
        issued = CertifyResult(
            certificate_pem=cert.public_bytes(serialization.Encoding.PEM).decode(),
            enclave_address=enclave,
            serial=cert.serial_number,
            tee_type=tee,
            measurement_digest="0x" + digest.hex(),
            expires_at=expires_at,
            simulated=claims.simulated,
            registry_signature="0x" + signature.hex(),
            registration_tx=tx,
            gpu_class=gpu_class,
            gpu_count=gpu_count,
        )
        log.info(
            "enclave certified",
            extra={
                "enclave": enclave,
                "provider": provider,
                "tee_type": tee,
                "simulated": claims.simulated,
                "gpu_class": gpu_class,
                "gpu_count": gpu_count,
                "serial": str(cert.serial_number),
                "checks": ",".join(result.checks),
            },
        )
        if self._on_issued:
            self._on_issued(issued, provider)
        return issued
