"""The enclave's certificate request, and the address its key has on chain.

An enclave holds a secp256k1 key: the CA certifies it, and the same key signs integrity reports on
chain, so the enclave's Ethereum address is derived from the certified public key
(:func:`enclave_address_of`). The CSR (:func:`build_csr`) names that address and carries the
enclave's age (X25519) recipient as an extension under Enclava's arc (an OID derived from a UUID
under 2.25, which needs no registration); the CA copies both into the certificate, where they sit
beside the attested facts:

    .1 TEE type (1 byte)     .2 measurement        .3 enclave address (20 bytes)
    .4 provider address      .5 simulated (1 byte) .6 the enclave's age (X25519) recipient
    .7 GPU class (ASCII, 1-32 bytes, e.g. ``H100``)  .8 GPU count (1 byte, 1-255)

The GPU extensions are present only when the enclave was attested with confidential GPUs (all of
one class); a certificate without them, including every one issued before they existed, certifies
no GPU.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from eth_keys.datatypes import PublicKey

from enclava.protocol.errors import EnclaveKeyInvalid

__all__ = [
    "ENCLAVA_OID_ARC",
    "ENCLAVA_OIDS",
    "enclave_address_of",
    "build_csr",
]

ENCLAVA_OID_ARC = "2.25.137906042972484955005484010384731416971"
_EXTENSIONS = (
    "tee_type",
    "measurement",
    "enclave_address",
    "provider_address",
    "simulated",
    "age_recipient",
    "gpu_class",
    "gpu_count",
)
#: The certificate and CSR extensions of Enclava, by name.
ENCLAVA_OIDS: Mapping[str, x509.ObjectIdentifier] = MappingProxyType(
    {
        name: x509.ObjectIdentifier(f"{ENCLAVA_OID_ARC}.{n}")
        for n, name in enumerate(_EXTENSIONS, start=1)
    }
)


def enclave_address_of(public_key: ec.EllipticCurvePublicKey) -> str:
    """The checksummed Ethereum address of a secp256k1 public key (``EnclaveKeyInvalid`` else)."""
    if not isinstance(public_key.curve, ec.SECP256K1):
        raise EnclaveKeyInvalid("enclave keys must be secp256k1")
    raw = public_key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return str(PublicKey(raw[1:]).to_checksum_address())


def build_csr(key: ec.EllipticCurvePrivateKey, age_recipient: str) -> bytes:
    """The enclave's certificate request (PEM), carrying its age recipient."""
    address = enclave_address_of(key.public_key())
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, address)]))
        .add_extension(
            x509.UnrecognizedExtension(ENCLAVA_OIDS["age_recipient"], age_recipient.encode()),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    return csr.public_bytes(serialization.Encoding.PEM)
