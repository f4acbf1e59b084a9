"""NVIDIA Reference Integrity Manifests: signed SWID tags listing each measurement's golden values.

A RIM is ISO 19770-2 SWID XML, enveloped XML-DSig (ECDSA-SHA384, SHA-384 digests, C14N 1.1),
``KeyInfo`` carrying the signer chain (signer first, NVIDIA CoRIM signing root last). Verified
here, in order: the XML parses with a hardened parser (``RimFormatError``); the embedded chain
ends in the pinned RIM root (``RimRootError``), each link's signature verifies
(``RimSignatureError``) and each certificate is valid at ``now`` (``RimExpiredError``: NVIDIA
re-signs RIMs before their signer expires, so an expired signer means a stale RIM); the XML
signature verifies with the signer's key (signxml 5.2.0, only the ECDSA-SHA384 / SHA-384
algorithms NVIDIA uses accepted). Every field is then read from the *signed* tree signxml returns,
never from the document as sent.

``Meta/@colloquialVersion`` is the version (driver "550.90.07"; VBIOS "96.00.9F.00.01"), and each
``Payload/Resource`` is one measurement: ``index`` (0-based: RIM index *i* is SPDM measurement
block *i* + 1 — checked against NVIDIA's real report and RIMs), ``active``, ``size`` (bytes) and
``alternatives`` golden values ``Hash0..HashN-1`` (hex, SHA-384 namespace).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from dataclasses import dataclass, replace

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from lxml import etree  # type: ignore[import-untyped,unused-ignore]
from signxml.algorithms import DigestAlgorithm, SignatureMethod
from signxml.exceptions import InvalidInput, InvalidSignature, SignXMLException
from signxml.verifier import SignatureConfiguration, VerifyResult, XMLVerifier

from enclava.attestation.gpu.certs import MAX_CHAIN_LENGTH, check_decodable, verify_chain
from enclava.attestation.gpu.errors import (
    RimExpiredError,
    RimFormatError,
    RimRootError,
    RimSignatureError,
)

__all__ = ["RimMeasurement", "ReferenceManifest", "verify_rim", "SWID_NS", "SHA384_NS"]

SWID_NS = "http://standards.iso.org/iso/19770/-2/2015/schema.xsd"
SHA384_NS = "http://www.w3.org/2001/04/xmlenc#sha384"
_DS_NS = "http://www.w3.org/2000/09/xmldsig#"
MAX_MEASUREMENTS = 256
MAX_ALTERNATIVES = 16

_CONFIG = SignatureConfiguration(
    require_x509=True,
    location="./",
    expect_references=1,
    signature_methods=frozenset({SignatureMethod.ECDSA_SHA384}),
    digest_algorithms=frozenset({DigestAlgorithm.SHA384}),
)


@dataclass(frozen=True)
class RimMeasurement:
    index: int  # RIM index: SPDM measurement block index - 1
    active: bool
    size: int
    alternatives: tuple[bytes, ...]


@dataclass(frozen=True)
class ReferenceManifest:
    version: str  # Meta/@colloquialVersion, as NVIDIA wrote it
    product: str  # SoftwareIdentity/@name, e.g. "GH100"
    measurements: tuple[RimMeasurement, ...]
    chain: tuple[x509.Certificate, ...]  # signer first, RIM root last


def _parse(xml: bytes) -> etree._Element:
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, huge_tree=False, remove_comments=False
    )
    try:
        root = etree.fromstring(xml, parser=parser)
    except (etree.XMLSyntaxError, ValueError) as exc:
        raise RimFormatError(f"RIM is not well-formed XML: {exc}") from exc
    if root is None or root.tag != f"{{{SWID_NS}}}SoftwareIdentity":
        raise RimFormatError("RIM root element is not a SWID SoftwareIdentity")
    return root


def _embedded_chain(root: etree._Element) -> tuple[x509.Certificate, ...]:
    texts = root.findall(f"{{{_DS_NS}}}Signature/{{{_DS_NS}}}KeyInfo//{{{_DS_NS}}}X509Certificate")
    if not 2 <= len(texts) <= MAX_CHAIN_LENGTH:
        raise RimFormatError(f"RIM carries {len(texts)} signer certificates, not 2..8")
    chain = []
    for element in texts:
        try:
            der = base64.b64decode("".join((element.text or "").split()), validate=True)
            cert = x509.load_der_x509_certificate(der)
            check_decodable(cert)
            chain.append(cert)
        except (binascii.Error, ValueError, TypeError, UnsupportedAlgorithm) as exc:
            raise RimFormatError("RIM signer certificate is not valid base64 DER") from exc
    return tuple(chain)


def _measurements(payload: etree._Element) -> tuple[RimMeasurement, ...]:
    resources = payload.findall(f"{{{SWID_NS}}}Resource")
    if not resources or len(resources) > MAX_MEASUREMENTS:
        raise RimFormatError(f"RIM has {len(resources)} measurements, not 1..{MAX_MEASUREMENTS}")
    seen: set[int] = set()
    out = []
    for resource in resources:
        try:
            index = int(resource.get("index", ""), 10)
            size = int(resource.get("size", ""), 10)
            count = int(resource.get("alternatives", ""), 10)
        except ValueError as exc:
            raise RimFormatError("RIM measurement lacks a decimal index/size/alternatives") from exc
        active = resource.get("active")
        if active not in ("True", "False"):
            raise RimFormatError(f"RIM measurement {index}: active is {active!r}")
        if not 0 <= index < MAX_MEASUREMENTS or index in seen:
            raise RimFormatError(f"RIM measurement index {index} is out of range or repeated")
        if not 0 < size <= 64 or not 0 < count <= MAX_ALTERNATIVES:
            raise RimFormatError(f"RIM measurement {index}: size {size}, {count} alternatives")
        seen.add(index)
        values = []
        for position in range(count):
            text = resource.get(f"{{{SHA384_NS}}}Hash{position}")
            try:
                value = bytes.fromhex(text or "")
            except ValueError as exc:
                raise RimFormatError(f"RIM measurement {index}: Hash{position} not hex") from exc
            if len(value) != size:
                raise RimFormatError(f"RIM measurement {index}: Hash{position} is not {size} bytes")
            values.append(value)
        hashes = [key for key in resource.attrib if str(key).startswith(f"{{{SHA384_NS}}}Hash")]
        if len(hashes) != count:
            raise RimFormatError(f"RIM measurement {index}: {len(hashes)} hashes, not {count}")
        out.append(RimMeasurement(index, active == "True", size, tuple(values)))
    return tuple(out)


def verify_rim(xml: bytes, root_der: bytes, now: int, *, what: str) -> ReferenceManifest:
    """Verify one RIM (chain, validity, XML-DSig) and read its version and measurements."""
    if not isinstance(xml, bytes):
        raise RimFormatError(f"{what} RIM must be bytes")
    document = _parse(xml)
    chain = _embedded_chain(document)
    verify_chain(
        chain,
        root_der,
        now,
        what=f"{what} RIM signer",
        root_error=RimRootError,
        chain_error=RimSignatureError,
        expired_error=RimExpiredError,
    )
    try:
        result = XMLVerifier().verify(
            document,
            x509_cert=chain[0],
            expect_config=replace(
                _CONFIG, verification_time=dt.datetime.fromtimestamp(now, tz=dt.timezone.utc)
            ),
            ignore_ambiguous_key_info=True,
        )
    except InvalidSignature as exc:
        raise RimSignatureError(f"{what} RIM's XML signature does not verify: {exc}") from exc
    except (
        InvalidInput,
        SignXMLException,
        ValueError,
        TypeError,
        KeyError,
        etree.LxmlError,
    ) as exc:
        raise RimFormatError(f"{what} RIM's signature cannot be processed: {exc}") from exc
    if not isinstance(result, VerifyResult):  # one expected reference: never a list
        raise RimSignatureError(f"{what} RIM carries more than one signed reference")
    signed = result.signed_xml
    if not isinstance(signed, etree._Element) or signed.tag != document.tag:
        raise RimSignatureError(f"{what} RIM's signature does not cover the SoftwareIdentity")
    meta = signed.findall(f"{{{SWID_NS}}}Meta")
    payload = signed.findall(f"{{{SWID_NS}}}Payload")
    if len(meta) != 1 or len(payload) != 1:
        raise RimFormatError(f"{what} RIM must have exactly one Meta and one Payload")
    version = meta[0].get("colloquialVersion")
    product = signed.get("name")
    if not version or not product or not version.isascii() or not product.isascii():
        raise RimFormatError(f"{what} RIM lacks its colloquialVersion or name")
    return ReferenceManifest(version, product, _measurements(payload[0]), chain)
