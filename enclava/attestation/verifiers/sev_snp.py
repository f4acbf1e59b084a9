"""AMD SEV-SNP verification: ARK → ASK → VCEK (or ARK → ASVK → VLEK) → report, ARKs pinned.

Milan, Genoa and Turin; reports of version 2 to 5; signed by the chip's VCEK or by a VLEK (a key
AMD issues to a cloud provider and the provider loads into the firmware). Order of checks in
:meth:`SevSnpVerifier.verify_report`:

1. parse the report strictly (``SnpReport.parse``: version, reserved fields, signing key) and the
   chain, exactly endorsement key, intermediate, ARK (PEM);
2. the ARK's SHA-256 fingerprint is pinned, else ``UntrustedRootError``; the pin names the product
   (``AMD_SNP_ROOTS``); an extra pinned root (a test's) names its product in its subject,
   ``ARK-<product>``;
3. the product and the key kind, read from the chain and the report, agree: the intermediate is
   ``SEV-<product>`` (ASK, VCEK chains) or ``SEV-VLEK-<product>`` (ASVK, VLEK chains), the leaf is
   ``SEV-VCEK`` or ``SEV-VLEK`` with productName ``<product>[-stepping]``; the report's SIGNING_KEY
   names the same kind (``SnpSigningKeyMismatchError``), its CPUID (version 3+) the same product
   (``SnpProductMismatchError``; a version-2 report has no CPUID, its product is the chain's);
4. ARK self-signature, ARK → intermediate → leaf: RSASSA-PSS, SHA-384, MGF1-SHA-384, salt 48, names
   chained, CA flags set, every certificate valid at ``now`` (``SnpChainError``,
   ``CollateralExpiredError``);
5. the leaf was issued for this report: a VCEK for this chip (hwID = the first ``hwid_length``
   bytes of CHIP_ID, the rest zero; ``SnpChipMismatchError``), a VCEK or VLEK at this TCB (its SPL
   extensions, in the product's TCB layout, = REPORTED_TCB, reserved bytes zero;
   ``SnpTcbMismatchError``). A VLEK carries no hwID: it is bound to the cloud provider, whose
   identity (extension 1.3.6.1.4.1.3704.1.5) is returned in the claims' details;
6. the leaf's ECDSA P-384/SHA-384 signature over report bytes [0x000, 0x2A0)
   (``SnpReportSignatureError``).

SEV-SNP has no Intel-style TCB status; it is derived: ``UpToDate`` when REPORTED_TCB meets the
configured minimum (or none is configured), ``OutOfDate`` otherwise, for the common TCB guard. A
minimum names SPLs (``bl``, ``tee``, ``snp``, ``ucode``, Turin's ``fmc``); an SPL the product does
not have is not compared.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Mapping

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.x509.oid import NameOID

from enclava.attestation.errors import (
    CollateralExpiredError,
    EvidenceFormatError,
    UntrustedRootError,
)
from enclava.attestation.evidence import Evidence
from enclava.attestation.sev_snp_errors import (
    SnpChainError,
    SnpChipMismatchError,
    SnpProductMismatchError,
    SnpReportSignatureError,
    SnpSigningKeyMismatchError,
    SnpTcbMismatchError,
    SnpUnknownProductError,
)
from enclava.attestation.sev_snp_report import (
    SNP_SIGNING_KEY_VCEK,
    SNP_SIGNING_KEY_VLEK,
    SnpProduct,
    SnpReport,
    load_amd_certificates,
    snp_product_named,
)
from enclava.attestation.verifiers.base import TCB_UP_TO_DATE, VerifiedClaims
from enclava.attestation.verifiers.roots import AMD_SNP_ROOTS
from enclava.protocol.tee import TeeType

__all__ = ["SevSnpVerifier"]

_PSS = padding.PSS(mgf=padding.MGF1(hashes.SHA384()), salt_length=48)
_AMD_OID = "1.3.6.1.4.1.3704.1"
_PRODUCT_NAME_OID = f"{_AMD_OID}.2"
# SPL extensions of VCEK and VLEK certificates (AMD KDS spec, "VCEK/VLEK certificate extensions");
# 3.4 .. 3.7 are the reserved TCB bytes, present (as zero) in Milan/Genoa certificates.
_SPL_OIDS = {
    "bl": f"{_AMD_OID}.3.1",
    "tee": f"{_AMD_OID}.3.2",
    "snp": f"{_AMD_OID}.3.3",
    "ucode": f"{_AMD_OID}.3.8",
    "fmc": f"{_AMD_OID}.3.9",
}
_RESERVED_SPL_OIDS = tuple(f"{_AMD_OID}.3.{n}" for n in (4, 5, 6, 7))
_HWID_OID = f"{_AMD_OID}.4"
_CSP_ID_OID = f"{_AMD_OID}.5"
_KEY_NAMES = {SNP_SIGNING_KEY_VCEK: "VCEK", SNP_SIGNING_KEY_VLEK: "VLEK"}
_ALL_PINNED_ARKS = tuple(root.ark_sha256 for root in AMD_SNP_ROOTS)


def _der_small_int(value: bytes) -> int:
    """Decode the DER INTEGER AMD stores in each SPL extension (``02 01 xx`` or ``02 02 00 xx``)."""
    if len(value) < 3 or value[0] != 0x02 or value[1] != len(value) - 2 or value[1] > 2:
        raise EvidenceFormatError("an SEV-SNP endorsement key TCB extension is not a small INTEGER")
    number = int.from_bytes(value[2:], "big")
    if number > 0xFF or value[2] & 0x80:
        raise EvidenceFormatError("an SEV-SNP endorsement key TCB extension is out of range")
    return number


def _der_ia5(value: bytes) -> str:
    """Decode a short DER IA5String (productName, CSP id)."""
    if len(value) < 2 or value[0] != 0x16 or value[1] != len(value) - 2 or value[1] > 0x7F:
        raise EvidenceFormatError("an SEV-SNP endorsement key string extension is malformed")
    try:
        return value[2:].decode("ascii")
    except UnicodeDecodeError as exc:
        raise EvidenceFormatError("an SEV-SNP endorsement key string is not ASCII") from exc


def _extension(cert: x509.Certificate, oid: str, *, required: bool = True) -> bytes | None:
    try:
        value = cert.extensions.get_extension_for_oid(x509.ObjectIdentifier(oid)).value
    except x509.ExtensionNotFound as exc:
        if not required:
            return None
        raise EvidenceFormatError(f"the SEV-SNP endorsement key lacks extension {oid}") from exc
    if not isinstance(value, x509.UnrecognizedExtension):
        raise EvidenceFormatError(f"the SEV-SNP extension {oid} has an unexpected type")
    return value.value


def _required(cert: x509.Certificate, oid: str) -> bytes:
    value = _extension(cert, oid)
    assert value is not None  # required=True raises instead
    return value


def _common_name(cert: x509.Certificate) -> str:
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if len(names) != 1 or not isinstance(names[0].value, str):
        raise SnpChainError("an SEV-SNP chain certificate has no single common name")
    return names[0].value


class SevSnpVerifier:
    """Vendor verification of SEV-SNP evidence against pinned AMD ARK fingerprints.

    By default every product of ``AMD_SNP_ROOTS`` (Milan, Genoa, Turin) is trusted;
    ``trusted_ark_sha256`` narrows the set, or (tests, development) adds a root whose subject
    common name, ``ARK-<product>``, names its product.
    """

    tee_type = TeeType.SEV_SNP

    def __init__(
        self,
        *,
        trusted_ark_sha256: Iterable[str] = _ALL_PINNED_ARKS,
        minimum_tcb: Mapping[str, int] | None = None,
    ) -> None:
        self._trusted_arks = frozenset(fingerprint.lower() for fingerprint in trusted_ark_sha256)
        self._minimum_tcb = dict(minimum_tcb or {})

    def verify_evidence(self, evidence: Evidence, *, now: int) -> VerifiedClaims:
        if evidence.tee_type is not self.tee_type:
            raise EvidenceFormatError(
                f"the SEV-SNP verifier was given {evidence.tee_type.wire_name} evidence"
            )
        return self.verify_report(evidence.quote, evidence.collateral, now=now)

    def verify_report(self, report_bytes: bytes, chain_pem: bytes, *, now: int) -> VerifiedClaims:
        report = SnpReport.parse(report_bytes)
        certs = load_amd_certificates(chain_pem)
        if len(certs) != 3:
            raise EvidenceFormatError(
                "the SEV-SNP chain must be exactly VCEK, ASK, ARK or VLEK, ASVK, ARK (PEM)"
            )
        leaf, intermediate, ark = certs
        when = self._instant(now)
        # cryptography parses names and extensions lazily: a malformed one raises ValueError here
        try:
            product = self._pinned_product(ark)
            self._check_kind_and_product(report, product, leaf, intermediate)
            for cert, issuer, is_ca in ((ark, ark, True), (intermediate, ark, True)):
                self._check_issued(cert, issuer, is_ca, when)
            self._check_issued(leaf, intermediate, False, when)
            tcb = self._check_binding(report, product, leaf)
            self._check_report_signature(report, leaf)
            csp = _extension(leaf, _CSP_ID_OID, required=report.signed_by_vlek)
        except ValueError as exc:
            raise EvidenceFormatError("a certificate of the SEV-SNP chain is malformed") from exc
        outdated = any(
            tcb[part] < minimum for part, minimum in self._minimum_tcb.items() if part in tcb
        )
        details = {
            "product": product.name,
            "signing_key": _KEY_NAMES[report.signing_key],
            "report_version": str(report.version),
            "chip_id": report.chip_id.hex(),
            "reported_tcb": report.reported_tcb.hex(),
            "policy": f"{report.policy:#x}",
            "vmpl": str(report.vmpl),
            "guest_svn": str(report.guest_svn),
            "host_data": report.host_data.hex(),
            "id_key_digest": report.id_key_digest.hex(),
        }
        if report.cpuid is not None:
            details["cpuid_stepping"] = str(report.cpuid[2])
        if csp is not None and report.signed_by_vlek:
            details["csp_id"] = _der_ia5(csp)
        return VerifiedClaims(
            tee_type=self.tee_type,
            measurement=report.measurement,
            report_data=report.report_data,
            debug=report.debug,
            tcb_status="OutOfDate" if outdated else TCB_UP_TO_DATE,
            details=details,
        )

    def _pinned_product(self, ark: x509.Certificate) -> SnpProduct:
        fingerprint = hashlib.sha256(ark.public_bytes(serialization.Encoding.DER)).hexdigest()
        if fingerprint not in self._trusted_arks:
            raise UntrustedRootError(
                f"the SEV-SNP chain's ARK ({fingerprint}) is not a pinned AMD root"
            )
        for root in AMD_SNP_ROOTS:
            if root.ark_sha256 == fingerprint:
                return root.product
        name = _common_name(ark)
        if not name.startswith("ARK-"):
            raise SnpUnknownProductError("the pinned extra ARK does not name its product")
        return snp_product_named(name[4:])

    @staticmethod
    def _check_kind_and_product(
        report: SnpReport,
        product: SnpProduct,
        leaf: x509.Certificate,
        intermediate: x509.Certificate,
    ) -> None:
        vlek_chain = _common_name(intermediate) == f"SEV-VLEK-{product.name}"
        if not vlek_chain and _common_name(intermediate) != f"SEV-{product.name}":
            raise SnpProductMismatchError(
                f"the SEV-SNP intermediate {_common_name(intermediate)[:40]!r} is neither the ASK "
                f"nor the ASVK of {product.name}"
            )
        chain_kind = "VLEK" if vlek_chain else "VCEK"
        leaf_name = _common_name(leaf)
        if leaf_name != f"SEV-{chain_kind}":
            raise SnpChainError(
                f"the {chain_kind} chain's leaf is {leaf_name[:40]!r}, not SEV-{chain_kind}"
            )
        leaf_product = _der_ia5(_required(leaf, _PRODUCT_NAME_OID)).split("-", 1)[0]
        if leaf_product != product.name:
            raise SnpProductMismatchError(
                f"the {chain_kind} is for {leaf_product[:16]!r}, its chain for {product.name}"
            )
        if report.cpuid is not None and report.product is not product:
            assert report.product is not None
            raise SnpProductMismatchError(
                f"the report was made on {report.product.name}, the chain is {product.name}'s"
            )
        if _KEY_NAMES[report.signing_key] != chain_kind:
            raise SnpSigningKeyMismatchError(
                f"the report is signed by its {_KEY_NAMES[report.signing_key]}, the chain "
                f"endorses a {chain_kind}"
            )

    @staticmethod
    def _instant(now: int) -> dt.datetime:
        try:
            return dt.datetime.fromtimestamp(now, tz=dt.timezone.utc)
        except (TypeError, ValueError, OverflowError, OSError) as exc:
            raise EvidenceFormatError(
                "the verification time must be a Unix time in seconds"
            ) from exc

    @staticmethod
    def _check_issued(
        cert: x509.Certificate, issuer: x509.Certificate, is_ca: bool, when: dt.datetime
    ) -> None:
        name = cert.subject.rfc4514_string()[:80]
        issuer_key = issuer.public_key()
        if cert.issuer != issuer.subject or not isinstance(issuer_key, rsa.RSAPublicKey):
            raise SnpChainError(
                f"{name} is not issued by an RSA key of {issuer.subject.rfc4514_string()[:80]}"
            )
        try:
            issuer_key.verify(cert.signature, cert.tbs_certificate_bytes, _PSS, hashes.SHA384())
        except InvalidSignature as exc:
            raise SnpChainError(f"bad RSA-PSS signature on {name}") from exc
        if is_ca:
            try:
                constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
            except x509.ExtensionNotFound as exc:
                raise SnpChainError(f"{name} lacks basicConstraints") from exc
            if not constraints.ca:
                raise SnpChainError(f"{name} is not a CA certificate")
        if not cert.not_valid_before_utc <= when <= cert.not_valid_after_utc:
            raise CollateralExpiredError(f"{name} is not valid at {when.isoformat()}")

    @staticmethod
    def _check_binding(
        report: SnpReport, product: SnpProduct, leaf: x509.Certificate
    ) -> dict[str, int]:
        if not report.signed_by_vlek:
            hwid = _required(leaf, _HWID_OID)
            wrapped = len(hwid) == product.hwid_length + 2  # some wrap it in an OCTET STRING
            if wrapped and hwid[:2] == bytes([0x04, product.hwid_length]):
                hwid = hwid[2:]
            chip_id = report.chip_id
            if hwid != chip_id[: product.hwid_length] or any(chip_id[product.hwid_length :]):
                raise SnpChipMismatchError(
                    "the VCEK was issued for another chip than the report's CHIP_ID"
                )
        certified = bytearray(8)
        for index, part in enumerate(product.tcb_layout):
            if part is not None:
                certified[index] = _der_small_int(_required(leaf, _SPL_OIDS[part]))
        for oid in _RESERVED_SPL_OIDS:
            value = _extension(leaf, oid, required=False)
            if value is not None and _der_small_int(value) != 0:
                raise SnpTcbMismatchError(f"the endorsement key certifies reserved SPL {oid} != 0")
        if bytes(certified) != report.reported_tcb:
            raise SnpTcbMismatchError(
                f"the {_KEY_NAMES[report.signing_key]} certifies TCB "
                f"{product.tcb_parts(bytes(certified))}, the report claims "
                f"{product.tcb_parts(report.reported_tcb)} ({report.reported_tcb.hex()})"
            )
        for tcb in (report.current_tcb, report.committed_tcb, report.launch_tcb):
            if not product.tcb_reserved_clear(tcb):
                raise SnpTcbMismatchError(
                    f"a TCB_VERSION of the report ({tcb.hex()}) has reserved {product.name} bytes"
                )
        return product.tcb_parts(report.reported_tcb)

    @staticmethod
    def _check_report_signature(report: SnpReport, leaf: x509.Certificate) -> None:
        key = leaf.public_key()
        if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp384r1":
            raise SnpChainError("the SEV-SNP endorsement key is not an ECDSA P-384 key")
        try:
            signature = encode_dss_signature(report.signature_r, report.signature_s)
            key.verify(signature, report.signed_bytes, ec.ECDSA(hashes.SHA384()))
        except (InvalidSignature, ValueError) as exc:  # ValueError: r or s out of range
            raise SnpReportSignatureError(
                f"the SEV-SNP report signature does not verify with the "
                f"{_KEY_NAMES[report.signing_key]}"
            ) from exc
