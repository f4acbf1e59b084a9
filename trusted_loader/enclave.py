"""The enclave's identity: keys born inside the (simulated) TEE, attested, and certified by the CA.

Two keys, both generated in enclave memory and never written anywhere: a secp256k1 signing key
(its Ethereum address is what the attestation registry certifies and what signs integrity
reports and key requests) and an X25519 age identity (what the key broker wraps keys to). The
evidence binds the signing key's SPKI and the CA's nonce in ``report_data``; the provider vouches
for the enclave with a consent signature, so a certificate always names the machine's provider.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from eth_account import Account
from pyrage import x25519

from certification_authority.certificates import build_csr, enclave_address_of
from enclava.attestation import bind_report_data
from enclava.attestation.evidence import Attester
from enclava.logs import get_logger
from trusted_loader.ca_client import CaClient

__all__ = ["CertifiedEnclave", "certify_enclave", "ConsentSigner"]

log = get_logger("trusted_loader.enclave")

#: Signs ``provider_consent_message(enclave_address, nonce_hex)`` with the provider's wallet.
ConsentSigner = Callable[[str, str], str]


@dataclass
class CertifiedEnclave:
    """A certified enclave identity. ``account`` signs; ``age_identity`` opens wrapped keys."""

    account: object = field(repr=False)
    age_identity: x25519.Identity = field(repr=False)
    address: str
    certificate_pem: str
    tee_type: int
    measurement: bytes
    expires_at: int
    simulated: bool
    provider: str

    def fresh(self, margin_s: int = 120, *, now: float | None = None) -> bool:
        return (time.time() if now is None else now) + margin_s < self.expires_at


def certify_enclave(ca: CaClient, attester: Attester, *, provider: str, consent: ConsentSigner) -> CertifiedEnclave:
    """Generate the enclave keys, attest with a fresh CA nonce, and get certified (and registered)."""
    key = ec.generate_private_key(ec.SECP256K1())
    age_identity = x25519.Identity.generate()
    address = enclave_address_of(key.public_key())
    spki = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    nonce = ca.challenge()
    evidence = attester.attest(bind_report_data(bytes.fromhex(nonce), spki))
    body = {"evidence": json.loads(evidence.to_json()), "nonce": nonce, "provider": provider,
            "csr_pem": build_csr(key, str(age_identity.to_public())).decode(),
            "provider_signature": consent(address, nonce)}
    result = ca.certify(body)
    secret = key.private_numbers().private_value.to_bytes(32, "big")
    account = Account.from_key(secret)
    log.info("enclave certified", extra={"enclave": address, "tee_type": result["tee_type"],
                                         "simulated": result["simulated"], "expires_at": result["expires_at"]})
    return CertifiedEnclave(account=account, age_identity=age_identity, address=address,
                            certificate_pem=result["certificate_pem"], tee_type=int(result["tee_type"]),
                            measurement=bytes.fromhex(result["measurement_digest"].removeprefix("0x")),
                            expires_at=int(result["expires_at"]), simulated=bool(result["simulated"]),
                            provider=provider)
