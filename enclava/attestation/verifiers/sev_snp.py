"""AMD SEV-SNP verification: ARK → ASK → VCEK → report, with ``cryptography``, ARK pinned.

Order of checks in :meth:`SevSnpVerifier.verify_report`:

1. parse the report strictly (``SnpReport.parse``) and the chain, exactly VCEK, ASK, ARK (PEM);
2. the ARK's SHA-256 fingerprint is one we pin (AMD's Milan ARK by default), else
``UntrustedRootError``;
3. ARK self-signature, ARK → ASK, ASK → VCEK: RSASSA-PSS, SHA-384, MGF1-SHA-384, salt 48, names
   chained, CA flags set, every certificate valid at ``now``;
4. the VCEK's ECDSA P-384/SHA-384 signature over report bytes [0x000, 0x2A0);
5. the VCEK was issued for this chip (hwID = CHIP_ID) at this TCB (its SPL extensions =
REPORTED_TCB).

SEV-SNP has no Intel-style TCB status; it is derived: ``UpToDate`` when REPORTED_TCB meets the
configured minimum (or none is configured), ``OutOfDate`` otherwise, for the common TCB guard.
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

from enclava.attestation.errors import (
    CollateralExpiredError,
    EvidenceFormatError,
    EvidenceSignatureError,
    UntrustedRootError,
)
from enclava.attestation.evidence import Evidence
from enclava.attestation.sev_snp_report import SnpReport, load_amd_certificates
from enclava.attestation.verifiers.base import TCB_UP_TO_DATE, VerifiedClaims
from enclava.attestation.verifiers.roots import AMD_ARK_MILAN_SHA256
from enclava.protocol.tee import TeeType

__all__ = ["SevSnpVerifier"]

_PSS = padding.PSS(mgf=padding.MGF1(hashes.SHA384()), salt_length=48)
_AMD_OID = "1.3.6.1.4.1.3704.1"
_SPL_OIDS = {
    "bl": f"{_AMD_OID}.3.1",
    "tee": f"{_AMD_OID}.3.2",
    "snp": f"{_AMD_OID}.3.3",
    "ucode": f"{_AMD_OID}.3.8",
}
_HWID_OID = f"{_AMD_OID}.4"


def _der_small_int(value: bytes) -> int:
    """Decode the DER INTEGER AMD stores in each SPL extension (``02 01 xx`` or ``02 02 00 xx``)."""
    if len(value) < 3 or value[0] != 0x02 or value[1] != len(value) - 2 or value[1] > 2:
        raise EvidenceFormatError("a VCEK TCB extension is not a small DER INTEGER")
    return int.from_bytes(value[2:], "big")


def _extension(cert: x509.Certificate, oid: str) -> bytes:
    try:
        value = cert.extensions.get_extension_for_oid(x509.ObjectIdentifier(oid)).value
    except (x509.ExtensionNotFound, ValueError) as exc:
        raise EvidenceFormatError(f"the VCEK lacks extension {oid}") from exc
    if not isinstance(value, x509.UnrecognizedExtension):
        raise EvidenceFormatError(f"the VCEK extension {oid} has an unexpected type")
    return value.value


class SevSnpVerifier:
    """Vendor verification of SEV-SNP evidence against pinned AMD ARK fingerprints."""

    tee_type = TeeType.SEV_SNP

    def __init__(
        self,
        *,
        trusted_ark_sha256: Iterable[str] = (AMD_ARK_MILAN_SHA256,),
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
            raise EvidenceFormatError("the SEV-SNP chain must be exactly VCEK, ASK, ARK (PEM)")
        vcek, ask, ark = certs
        fingerprint = hashlib.sha256(ark.public_bytes(serialization.Encoding.DER)).hexdigest()
        if fingerprint not in self._trusted_arks:
            raise UntrustedRootError(
                f"the SEV-SNP chain's ARK ({fingerprint}) is not a pinned AMD root"
            )
        when = self._instant(now)
        # cryptography parses names and extensions lazily: a malformed one raises ValueError here
        try:
            for cert, issuer, is_ca in ((ark, ark, True), (ask, ark, True), (vcek, ask, False)):
                self._check_issued(cert, issuer, is_ca, when)
            self._check_report_signature(report, vcek)
            tcb = self._check_vcek_binding(report, vcek)
        except ValueError as exc:
            raise EvidenceFormatError("a certificate of the SEV-SNP chain is malformed") from exc
        outdated = any(tcb[part] < minimum for part, minimum in self._minimum_tcb.items())
        return VerifiedClaims(
            tee_type=self.tee_type,
            measurement=report.measurement,
            report_data=report.report_data,
            debug=report.debug,
            tcb_status="OutOfDate" if outdated else TCB_UP_TO_DATE,
            details={
                "chip_id": report.chip_id.hex(),
                "reported_tcb": report.reported_tcb.hex(),
                "policy": f"{report.policy:#x}",
                "vmpl": str(report.vmpl),
                "guest_svn": str(report.guest_svn),
                "host_data": report.host_data.hex(),
                "id_key_digest": report.id_key_digest.hex(),
            },
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
            raise EvidenceSignatureError(
                f"{name} is not issued by an RSA key of {issuer.subject.rfc4514_string()[:80]}"
            )
        try:
            issuer_key.verify(cert.signature, cert.tbs_certificate_bytes, _PSS, hashes.SHA384())
        except InvalidSignature as exc:
            raise EvidenceSignatureError(f"bad RSA-PSS signature on {name}") from exc
        if is_ca:
            try:
                constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
            except x509.ExtensionNotFound as exc:
                raise EvidenceSignatureError(f"{name} lacks basicConstraints") from exc
            if not constraints.ca:
                raise EvidenceSignatureError(f"{name} is not a CA certificate")
        if not cert.not_valid_before_utc <= when <= cert.not_valid_after_utc:
            raise CollateralExpiredError(f"{name} is not valid at {when.isoformat()}")

    @staticmethod
    def _check_report_signature(report: SnpReport, vcek: x509.Certificate) -> None:
        key = vcek.public_key()
        if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp384r1":
            raise EvidenceSignatureError("the VCEK is not an ECDSA P-384 key")
        try:
            signature = encode_dss_signature(report.signature_r, report.signature_s)
            key.verify(signature, report.signed_bytes, ec.ECDSA(hashes.SHA384()))
        except (InvalidSignature, ValueError) as exc:  # ValueError: r or s out of range
            raise EvidenceSignatureError(
                "the SEV-SNP report signature does not verify with the VCEK"
            ) from exc

    @staticmethod
    def _check_vcek_binding(report: SnpReport, vcek: x509.Certificate) -> dict[str, int]:
        hwid = _extension(vcek, _HWID_OID)
        if hwid[:2] == b"\x04\x40":  # some VCEKs wrap hwID in an OCTET STRING, most carry raw bytes
            hwid = hwid[2:]
        if hwid != report.chip_id:
            raise EvidenceSignatureError(
                "the VCEK was issued for another chip than the report's CHIP_ID"
            )
        reported = SnpReport.tcb_parts(report.reported_tcb)
        certified = {part: _der_small_int(_extension(vcek, oid)) for part, oid in _SPL_OIDS.items()}
        if certified != reported:
            raise EvidenceSignatureError(
                f"the VCEK certifies TCB {certified}, the report claims {reported}"
            )
        return reported
