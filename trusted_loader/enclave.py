"""The enclave's identity: keys born inside the loader process (the CVM), attested, certified by the
CA.

Two keys, both generated in this process's memory and never written anywhere or sent to the host:
a secp256k1 signing key (its Ethereum address is what the attestation registry certifies and what
signs integrity reports and key requests) and an X25519 age identity (what the key broker wraps
keys to). Certification takes two steps because the provider's wallet lives outside the enclave:

1. :meth:`EnclaveIdentity.begin` makes fresh keys and asks the CA for a nonce; the host is told
   only the enclave's address and that nonce, and signs its consent (that this enclave runs on its
   machine) with its own wallet.
2. :meth:`EnclaveIdentity.finish` attests (report_data binds the key's SPKI and the nonce), sends
   evidence, CSR and the provider's consent to the CA, and keeps the certificate.

A CVM with confidential GPUs has a :class:`~enclava.attestation.evidence.GpuCollector`: at step 2
each GPU signs the CA nonce in its own SPDM report, the CPU report's report_data binds the digest
of that GPU evidence too, and the one ``Evidence`` carries both. The certificate then names the GPU
class and count, which the credential keeps.

The host can refuse to consent (then nothing is certified); it cannot obtain or choose the keys.
"""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from eth_account import Account
from pyrage import x25519

from enclava.attestation import bind_report_data
from enclava.attestation.evidence import Attester, GpuCollector
from enclava.attestation.gpu.evidence import gpu_evidence_digest
from enclava.logs import get_logger
from enclava.protocol.csr import build_csr, enclave_address_of
from trusted_loader.errors import CertificationFailed, CertificationRequired

__all__ = [
    "EnclaveCredential",
    "EnclaveIdentity",
    "ConsentSigner",
    "CertifyingCa",
    "certify_enclave",
]

log = get_logger("trusted_loader.enclave")

#: Signs the consent for ``(enclave_address, nonce_hex)`` with the provider's wallet (outside the
#: enclave).
ConsentSigner = Callable[[str, str], str]


class CertifyingCa(Protocol):
    def challenge(self) -> str: ...

    def certify(self, body: dict[str, Any]) -> dict[str, Any]: ...


@dataclass
class EnclaveCredential:
    """The loader's certified identity: its keys (``account`` signs, ``age_identity`` opens wrapped
    keys) and the facts its CA certificate vouches for."""

    account: Any = field(repr=False)
    age_identity: x25519.Identity = field(repr=False)
    address: str
    certificate_pem: str
    tee_type: int
    measurement: bytes
    expires_at: int
    simulated: bool
    provider: str
    gpu_class: str = ""  # "" and 0: certified without a GPU
    gpu_count: int = 0

    def fresh(self, margin_s: int = 120, *, now: float | None = None) -> bool:
        return (time.time() if now is None else now) + margin_s < self.expires_at


@dataclass
class _Pending:
    key: ec.EllipticCurvePrivateKey = field(repr=False)
    age_identity: x25519.Identity = field(repr=False)
    address: str
    nonce: str


class EnclaveIdentity:
    """The one identity of this loader process: at most one pending certification, one current
    certificate."""

    def __init__(
        self,
        ca: CertifyingCa,
        attester: Attester,
        *,
        provider: str,
        gpu_collector: GpuCollector | None = None,
    ) -> None:
        self._ca = ca
        self._attester = attester
        self._gpu_collector = gpu_collector
        self.provider = provider
        self._lock = threading.Lock()
        self._pending: _Pending | None = None
        self.current: EnclaveCredential | None = None

    def begin(self) -> tuple[str, str]:
        """Fresh keys and a CA nonce; returns ``(enclave_address, nonce_hex)`` for the host's
        consent."""
        key = ec.generate_private_key(ec.SECP256K1())
        age_identity = x25519.Identity.generate()
        nonce = self._ca.challenge()
        with self._lock:
            self._pending = _Pending(
                key=key,
                age_identity=age_identity,
                address=enclave_address_of(key.public_key()),
                nonce=nonce,
            )
            return self._pending.address, nonce

    def finish(self, nonce: str, provider_signature: str) -> EnclaveCredential:
        """Attest the pending keys for ``nonce`` and get certified with the host's consent
        signature."""
        with self._lock:
            pending = self._pending
            if pending is None or pending.nonce != nonce:
                raise CertificationFailed(
                    "no certification is pending for that nonce",
                    hint="Ask for a consent request first, then certify with its nonce.",
                )
            self._pending = None
        spki = pending.key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        raw_nonce = bytes.fromhex(nonce)
        gpus = self._gpu_collector.collect(raw_nonce) if self._gpu_collector is not None else ()
        gpu_digest = gpu_evidence_digest(gpus) if gpus else None
        evidence = self._attester.attest(bind_report_data(raw_nonce, spki, gpu_digest))
        if gpus:
            evidence = dataclasses.replace(evidence, gpus=tuple(gpus))
        body = {
            "evidence": json.loads(evidence.to_json()),
            "nonce": nonce,
            "provider": self.provider,
            "csr_pem": build_csr(pending.key, str(pending.age_identity.to_public())).decode(),
            "provider_signature": provider_signature,
        }
        result = self._ca.certify(body)
        account = Account.from_key(pending.key.private_numbers().private_value.to_bytes(32, "big"))
        enclave = EnclaveCredential(
            account=account,
            age_identity=pending.age_identity,
            address=pending.address,
            certificate_pem=result["certificate_pem"],
            tee_type=int(result["tee_type"]),
            measurement=bytes.fromhex(result["measurement_digest"].removeprefix("0x")),
            expires_at=int(result["expires_at"]),
            simulated=bool(result["simulated"]),
            provider=self.provider,
            gpu_class=str(result.get("gpu_class", "")),
            gpu_count=int(result.get("gpu_count", 0)),
        )
        log.info(
            "enclave certified",
            extra={
                "enclave": enclave.address,
                "tee_type": enclave.tee_type,
                "simulated": enclave.simulated,
                "gpu_class": enclave.gpu_class,
                "gpu_count": enclave.gpu_count,
                "expires_at": enclave.expires_at,
            },
        )
        with self._lock:
            self.current = enclave
        return enclave

    def certified(self) -> EnclaveCredential:
        """The current certificate, or :class:`CertificationRequired` when none is fresh (the host
        renews it)."""
        enclave = self.current
        if enclave is None or not enclave.fresh(margin_s=30):
            raise CertificationRequired("the enclave has no fresh certificate")
        return enclave


def certify_enclave(
    ca: CertifyingCa,
    attester: Attester,
    *,
    provider: str,
    consent: ConsentSigner,
    gpu_collector: GpuCollector | None = None,
) -> EnclaveCredential:
    """Both steps in one call, for a consent signer that lives in the same trust domain (tests,
    tools)."""
    identity = EnclaveIdentity(ca, attester, provider=provider, gpu_collector=gpu_collector)
    address, nonce = identity.begin()
    return identity.finish(nonce, consent(address, nonce))
