"""Intel TDX verification: DCAP v4 and v5 quotes checked by dcap-qvl against a pinned root.

Both quote versions take the same path: v4 (TDX 1.0 modules, a TD 1.0 report) and v5 (TDX 1.5
modules; a TD 1.0 or TD 1.5 report behind a body descriptor, see ``tdx_quote``). Order of checks
in :meth:`TdxVerifier.verify_quote`:

1. parse the quote strictly (``TdxQuote.parse``): exact sizes, no stray bytes, a v5 body type
   that is a TD report (an SGX enclave report in a v5 quote is refused);
2. the PCK chain in the quote and the issuer chains in the collateral must be canonical PEM and
   end in *our* root, byte for byte (anything else is ``UntrustedRootError``); a PCK chain attached
   to the collateral, which dcap-qvl would prefer, must be the quote's own;
3. ``dcap_qvl.verify_with_root_ca``: QE identity, TCB info, CRLs and every certificate valid at
   ``now``, the PCK key's signature on the QE report, the QE report binding the attestation key,
   the attestation key's signature on the TD report, the platform TCB level;
4. the claims are read from dcap-qvl's *verified* report (``{"TD10": ...}`` for a TD 1.0 report,
   ``{"TD15": {"base": ..., "tee_tcb_svn2", "mr_service_td"}}`` for TD 1.5) and every field is
   cross-checked with our parse, so the claims describe exactly the bytes that were signed.

TCB matching is dcap-qvl's (0.7.0, as Intel's QVL): the TCB level is chosen by ``tee_tcb_svn``
(the TDX module the TD was launched on) and, for a TD 1.5 report, also evaluated for
``tee_tcb_svn2`` (the module now running, after an in-place update); a TD launched on an outdated
module that has since been updated reports ``TDRelaunchAdvised``, which the CA's TCB policy judges
like any other status. A platform or module below every listed level, or a module the TCB info
does not know, is refused as ``TcbStatusRejectedError``. A TD 1.5 report with a non-zero
``mr_servicetd`` (a service TD, such as a migration TD, is bound to the TD and can export or
import its state) is refused as ``ServiceTdNotAllowedError``: dcap-qvl's default, and ours, since
the CA has no allow-list of service TDs to judge one by.

dcap-qvl reports failures as ``ValueError`` text; :func:`_translate` maps them onto typed errors.
The same class verifies simulated quotes (``simulated.py``), only with the development root.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import dcap_qvl
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from enclava.attestation.errors import (
    AttestationError,
    CollateralExpiredError,
    DebugEnclaveError,
    EvidenceFormatError,
    EvidenceRevokedError,
    EvidenceSignatureError,
    TcbStatusRejectedError,
    UntrustedRootError,
)
from enclava.attestation.evidence import Evidence
from enclava.attestation.tdx_quote import TdReport15, TdxQuote
from enclava.attestation.verifiers.base import VerifiedClaims
from enclava.attestation.verifiers.roots import INTEL_SGX_ROOT_CA_DER
from enclava.protocol.tee import TeeType

__all__ = ["TdxVerifier", "ServiceTdNotAllowedError"]


class ServiceTdNotAllowedError(AttestationError):
    """The TD 1.5 report names a bound service TD (``mr_servicetd`` non-zero)."""

    code = "tdx_service_td_bound"
    hint = (
        "Launch the TD without a bound service TD (migration TD): its MRSERVICETD must be zero; "
        "a service TD can read the TD's state and this CA cannot vouch for it."
    )


_MAX_UNIX_TIME = 2**63 - 1
_ISSUER_CHAINS = ("pck_crl_issuer_chain", "tcb_info_issuer_chain", "qe_identity_issuer_chain")
# (substrings of dcap-qvl's error text, error raised); first match wins, the default is a signature
# error.
_DCAP_ERRORS: tuple[tuple[tuple[str, ...], type[AttestationError]], ...] = (
    (("Debug mode is enabled",), DebugEnclaveError),
    (("Invalid MR service TD",), ServiceTdNotAllowedError),
    (("UnknownIssuer", "Failed to load root ca"), UntrustedRootError),
    (("Expired", "expired", "in the future", "NotValidYet"), CollateralExpiredError),
    (("Revoked",), EvidenceRevokedError),
    (
        (
            "No matching TCB level",
            "Failed to evaluate the current TDX TCB",
            "No TDX module identity",
            "is below minimum required from TDX module TCB levels",
        ),
        TcbStatusRejectedError,
    ),
    (
        ("Failed to decode", "Unsupported", "invalid utf-8", "Data length exceeds", "too short"),
        EvidenceFormatError,
    ),
)
_DETAIL_FIELDS = (
    "tee_tcb_svn",
    "mr_seam",
    "mr_signer_seam",
    "seam_attributes",
    "td_attributes",
    "xfam",
    "mr_config_id",
    "mr_owner",
    "mr_owner_config",
    "rt_mr0",
    "rt_mr1",
    "rt_mr2",
    "rt_mr3",
)
_TD15_DETAIL_FIELDS = ("tee_tcb_svn2", "mr_servicetd")
# our field name -> dcap-qvl's JSON key, where they differ
_DCAP_NAMES = {"mr_servicetd": "mr_service_td"}


def _translate(exc: BaseException) -> AttestationError:
    text = str(exc)
    detail = text.replace("\n", " ").replace("Caused by:", "caused by:")[:400]
    for needles, error_type in _DCAP_ERRORS:
        if any(needle in text for needle in needles):
            return error_type(f"TDX quote refused: {detail}")
    return EvidenceSignatureError(f"TDX quote refused: {detail}")


def _certificates(pem: bytes, what: str) -> list[x509.Certificate]:
    """Certificates of a PEM bundle that must be exactly their canonical encoding (+ one NUL, as in
    quotes)."""
    try:
        certs = x509.load_pem_x509_certificates(pem.removesuffix(b"\x00"))
    except (ValueError, x509.InvalidVersion) as exc:
        raise EvidenceFormatError(f"{what} is not a PEM certificate chain") from exc
    canonical = b"".join(cert.public_bytes(serialization.Encoding.PEM) for cert in certs)
    if pem not in (canonical, canonical + b"\x00"):
        raise EvidenceFormatError(f"{what} has bytes outside its certificates")
    if len(certs) < 2:
        raise EvidenceFormatError(f"{what} must hold at least a leaf and the root")
    return certs


class TdxVerifier:
    """Vendor verification of TDX evidence against ``root_ca_der`` (Intel's SGX Root CA by
    default)."""

    tee_type = TeeType.TDX

    def __init__(self, *, root_ca_der: bytes = INTEL_SGX_ROOT_CA_DER) -> None:
        self._root_der = root_ca_der

    def verify_evidence(self, evidence: Evidence, *, now: int) -> VerifiedClaims:
        if evidence.tee_type is not self.tee_type:
            raise EvidenceFormatError(
                f"the TDX verifier was given {evidence.tee_type.wire_name} evidence"
            )
        return self.verify_quote(evidence.quote, evidence.collateral, now=now)

    def verify_quote(self, quote: bytes, collateral_json: bytes, *, now: int) -> VerifiedClaims:
        """Verify a raw quote and its collateral JSON; return the claims of the verified TD
        report."""
        if type(now) is not int or not 0 <= now <= _MAX_UNIX_TIME:
            raise EvidenceFormatError(
                "the verification time must be a non-negative Unix time in seconds"
            )
        parsed = TdxQuote.parse(quote)
        pck_chain = _certificates(parsed.pck_chain_pem, "the quote's PCK certificate chain")
        self._check_root(pck_chain[-1], "PCK chain")
        collateral = self._load_collateral(collateral_json, pck_chain)
        try:
            verified = dcap_qvl.verify_with_root_ca(quote, collateral, self._root_der, now)
            document = json.loads(verified.to_json())
        except (
            Exception
        ) as exc:  # dcap-qvl raises ValueError; anything else is refused just the same
            raise _translate(exc) from exc
        except (
            BaseException
        ) as exc:  # a Rust panic surfaces as pyo3's PanicException (a BaseException)
            if type(exc).__name__ != "PanicException":
                raise
            raise EvidenceFormatError(
                "TDX quote refused: the verifier could not process it"
            ) from exc
        return self._claims(parsed, document)

    def _check_root(self, cert: x509.Certificate, what: str) -> None:
        der = cert.public_bytes(serialization.Encoding.DER)
        if der != self._root_der:
            raise UntrustedRootError(
                f"the {what} does not end in the trusted root "
                f"(it ends in a certificate with SHA-256 {hashlib.sha256(der).hexdigest()})"
            )

    def _load_collateral(
        self, collateral_json: bytes, pck_chain: list[x509.Certificate]
    ) -> dcap_qvl.QuoteCollateralV3:
        try:
            text = collateral_json.decode("utf-8")
            document = json.loads(text)
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            raise EvidenceFormatError("TDX collateral is not UTF-8 JSON") from exc
        if not isinstance(document, dict) or not all(
            isinstance(document.get(k), str) for k in _ISSUER_CHAINS
        ):
            raise EvidenceFormatError("TDX collateral lacks its issuer certificate chains")
        for key in _ISSUER_CHAINS:
            self._check_root(
                _certificates(document[key].encode(), f"collateral {key}")[-1], f"collateral {key}"
            )
        # dcap-qvl prefers a PCK chain in the collateral over the quote's own; allow only the same
        # chain,
        # so that the chain that is verified is the one the quote carries.
        attached = document.get("pck_certificate_chain")
        if attached is not None:
            certs = (
                _certificates(attached.encode(), "collateral pck_certificate_chain")
                if isinstance(attached, str)
                else None
            )
            if certs != pck_chain:
                raise EvidenceFormatError(
                    "the collateral's PCK certificate chain differs from the quote's"
                )
        try:
            return dcap_qvl.QuoteCollateralV3.from_json(text)
        except (ValueError, TypeError) as exc:
            raise EvidenceFormatError(f"TDX collateral is malformed: {str(exc)[:200]}") from exc

    def _claims(self, parsed: TdxQuote, document: dict[str, Any]) -> VerifiedClaims:
        td15 = isinstance(parsed.body, TdReport15)
        names: tuple[str, ...] = ("mr_td", "report_data", *_DETAIL_FIELDS)
        try:
            if td15:
                verified = document["report"]["TD15"]
                report = dict(verified["base"])
                report.update({n: verified[_DCAP_NAMES.get(n, n)] for n in _TD15_DETAIL_FIELDS})
                names += _TD15_DETAIL_FIELDS
            else:
                report = document["report"]["TD10"]
            fields = {name: bytes.fromhex(report[name]) for name in names}
            status, advisories = (
                str(document["status"]),
                tuple(str(a) for a in document["advisory_ids"]),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise EvidenceFormatError(
                f"dcap-qvl returned a report that is not the quote's TD {'1.5' if td15 else '1.0'}"
                " report"
            ) from exc
        if any(fields[name] != getattr(parsed.body, name) for name in names):
            raise EvidenceSignatureError("the verified TD report differs from the quote's body")
        details = {name: fields[name].hex() for name in names[2:]}
        details["quote_version"] = str(parsed.version)
        details["td_report_version"] = "1.5" if td15 else "1.0"
        return VerifiedClaims(
            tee_type=self.tee_type,
            measurement=fields["mr_td"],
            report_data=fields["report_data"],
            debug=bool(fields["td_attributes"][0] & 0x01),
            tcb_status=status,
            advisory_ids=advisories,
            details=details,
        )
