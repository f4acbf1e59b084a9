"""Development RIMs: SWID tags in NVIDIA's exact format, signed like NVIDIA signs them.

DEVELOPMENT ONLY (signed by the public development PKI of :mod:`.devpki`). A RIM (reference
integrity manifest) lists, for one driver or VBIOS version, the expected value of every SPDM
measurement index the component owns: ``Resource`` elements with ``active``, ``alternatives`` and
``Hash0..HashN`` in the ``xmlenc#sha384`` namespace, under a ``Meta`` whose ``colloquialVersion``
is the version the GPU reports. The layout, namespaces and attribute order copy NVIDIA's published
RIMs (``NV_GPU_DRIVER_GH100_550.90.07.xml`` in google/go-nvattest-tools, the ``*.swidtag`` samples
in NVIDIA/nvtrust), and so does the signature: an enveloped XML-DSig with C14N 1.1, ECDSA-SHA384
over a SHA-384 reference to the whole document, the signer's chain (signer first, root last) in
``X509Data``. Signing goes through ``signxml`` with an RFC 6979 signer, so the bytes are
deterministic.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from lxml import etree  # type: ignore[import-untyped,unused-ignore]
from signxml.algorithms import CanonicalizationMethod, DigestAlgorithm, SignatureMethod
from signxml.signer import XMLSigner

__all__ = ["RimMeasurement", "build_rim", "sign_rim", "SWID_NAMESPACE", "SHA384_NAMESPACE"]

SWID_NAMESPACE = "http://standards.iso.org/iso/19770/-2/2015/schema.xsd"
SHA384_NAMESPACE = "http://www.w3.org/2001/04/xmlenc#sha384"
_TCG_RIM_NAMESPACE = "https://trustedcomputinggroup.org/resource/tcg-reference-integrity-manifest-rim-information-model/"
_NVIDIA_PEN = "5703"  # NVIDIA's IANA private enterprise number, as in the real RIMs


@dataclass(frozen=True)
class RimMeasurement:
    """One ``Resource``: its 0-based index (SPDM block ``index + 1``) and its reference values."""

    index: int
    active: bool
    alternatives: tuple[bytes, ...]  # 48-byte SHA-384 values; the report must equal one of them


def build_rim(
    *, chip: str, version: str, tag_seed: bytes, measurements: Sequence[RimMeasurement]
) -> bytes:
    """The unsigned SWID tag, byte for byte in NVIDIA's layout."""
    tag_id = hashlib.sha384(tag_seed).hexdigest()
    lines = [
        f'<SoftwareIdentity xmlns="{SWID_NAMESPACE}" xmlns:ns0="{SWID_NAMESPACE}" '
        f'xmlns:ns2="{SHA384_NAMESPACE}" corpus="false" name="{chip}" patch="false" '
        f'supplemental="false" tagId="{tag_id}" version="1.0" tagVersion="0">',
        '    <ns0:Entity name="NVIDIA Corporation" role="softwareCreator tagCreator"/>',
        f'    <ns0:Meta xmlns:ns1="{_TCG_RIM_NAMESPACE}" colloquialVersion="{version}" '
        f'edition="GPU" product="{chip}" revision="r1" PayloadType="direct" '
        f'ns1:BindingSpec="RIMIM" ns1:BindingSpecVersion="1.01" '
        f'ns1:PlatformManufacturerId="{_NVIDIA_PEN}" '
        f'ns1:PlatformManufacturerStr="NVIDIA Corporation" ns1:PlatformModel="{chip}" '
        f'ns1:FirmwareManufacturer="NVIDIA Corporation" '
        f'ns1:FirmwareManufacturerId="{_NVIDIA_PEN}"/>',
        f'    <ns0:Payload xmlns:SHA384="{SHA384_NAMESPACE}">',
    ]
    for item in measurements:
        hashes_ = " ".join(
            f'ns2:Hash{i}="{value.hex()}"' for i, value in enumerate(item.alternatives)
        )
        lines.append(
            f'        <ns0:Resource type="Measurement" index="{item.index}" '
            f'active="{item.active}" alternatives="{len(item.alternatives)}" {hashes_} '
            f'name="Measurement_{item.index}" size="48"/>'
        )
    lines.append("    </ns0:Payload>")
    lines.append("</SoftwareIdentity>")
    return "\n".join(lines).encode("ascii")


class _Rfc6979Key:
    """What ``signxml`` needs of a key (``sign``, ``key_size``), signing deterministically."""

    def __init__(self, key: ec.EllipticCurvePrivateKey) -> None:
        self._key = key
        self.key_size = key.key_size

    def sign(self, data: bytes, signature_algorithm: ec.ECDSA) -> bytes:
        algorithm = ec.ECDSA(signature_algorithm.algorithm, deterministic_signing=True)
        return self._key.sign(data, algorithm)

    def public_key(self) -> ec.EllipticCurvePublicKey:
        return self._key.public_key()


def sign_rim(
    unsigned: bytes, key: ec.EllipticCurvePrivateKey, chain: Sequence[x509.Certificate]
) -> bytes:
    """Enveloped XML-DSig over ``unsigned`` by ``key``; ``chain`` (signer first) goes in KeyInfo."""
    if not isinstance(key.curve, ec.SECP384R1):
        raise ValueError("NVIDIA RIMs are signed with ECDSA P-384")
    root = etree.fromstring(unsigned)
    signer = XMLSigner(
        signature_algorithm=SignatureMethod.ECDSA_SHA384,
        digest_algorithm=DigestAlgorithm.SHA384,
        c14n_algorithm=CanonicalizationMethod.CANONICAL_XML_1_1,
    )
    signed = signer.sign(root, key=cast(Any, _Rfc6979Key(key)), cert=list(chain))
    return cast(bytes, etree.tostring(signed))
