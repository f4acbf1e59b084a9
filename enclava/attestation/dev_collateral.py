"""Collateral for simulated TDX quotes, in exactly the shape Intel's PCS serves and dcap-qvl reads.

DEVELOPMENT ONLY (signed by the public development PKI, see ``devpki``). The collateral JSON is
what ``dcap_qvl.QuoteCollateralV3.from_json`` takes: PEM issuer chains, CRLs as hex DER, the TCB
info and QE identity as the exact JSON text that was signed, and their signatures as hex r‖s
(ECDSA P-256 over those exact bytes). Its validity window starts at ``issued_at``, so freshness
and expiry behave as they do with Intel's collateral. The same collateral serves v4 (TD 1.0) and
v5 (TD 1.5) quotes, as Intel's does: the simulated TD 1.5 report's ``tee_tcb_svn2`` equals its
``tee_tcb_svn``, so dcap-qvl's evaluation of the current module lands on the same TCB level.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from enclava.attestation.devpki import DevPki, ecdsa_raw_sign

__all__ = ["build_dev_collateral", "DEFAULT_COLLATERAL_VALIDITY_S", "DEV_ADVISORY_ID"]

DEFAULT_COLLATERAL_VALIDITY_S = 30 * 24 * 3600  # Intel's TCB info and PCK CRL also live ~30 days
DEV_ADVISORY_ID = "ENCLAVA-DEV-SA-0001"
_TCB_EVALUATION_DATA_NUMBER = 17


def _rfc3339(unix: int) -> str:
    return dt.datetime.fromtimestamp(unix, tz=dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _compact(document: dict[str, Any]) -> str:
    return json.dumps(document, separators=(",", ":"))


def _components(svns: bytes) -> list[dict[str, int]]:
    return [{"svn": svn} for svn in svns]


def _tcb_info(pki: DevPki, issued_at: int, validity_s: int) -> str:
    platform = pki.platform
    up_to_date, outdated = platform.tee_tcb_svn, platform.outdated_tee_tcb_svn
    module = {
        "mrsigner": platform.tdx_module_mr_signer.hex().upper(),
        "attributes": "0000000000000000",
        "attributesMask": "FFFFFFFFFFFFFFFF",
    }
    module_identity = dict(
        module,
        id=f"TDX_{up_to_date[1]:02X}",
        tcbLevels=[
            {
                "tcb": {"isvsvn": up_to_date[0]},
                "tcbDate": "2024-03-13T00:00:00Z",
                "tcbStatus": "UpToDate",
            },
            {
                "tcb": {"isvsvn": outdated[0]},
                "tcbDate": "2023-08-09T00:00:00Z",
                "tcbStatus": "OutOfDate",
                "advisoryIDs": [DEV_ADVISORY_ID],
            },
        ],
    )
    levels = [
        {
            "tcb": {
                "sgxtcbcomponents": _components(platform.cpu_svn),
                "pcesvn": platform.pce_svn,
                "tdxtcbcomponents": _components(up_to_date),
            },
            "tcbDate": "2024-03-13T00:00:00Z",
            "tcbStatus": "UpToDate",
        },
        {
            "tcb": {
                "sgxtcbcomponents": _components(platform.cpu_svn),
                "pcesvn": platform.pce_svn,
                "tdxtcbcomponents": _components(outdated),
            },
            "tcbDate": "2023-08-09T00:00:00Z",
            "tcbStatus": "OutOfDate",
            "advisoryIDs": [DEV_ADVISORY_ID],
        },
    ]
    return _compact(
        {
            "id": "TDX",
            "version": 3,
            "issueDate": _rfc3339(issued_at),
            "nextUpdate": _rfc3339(issued_at + validity_s),
            "fmspc": platform.fmspc.hex().upper(),
            "pceId": platform.pce_id.hex().upper(),
            "tcbType": 0,
            "tcbEvaluationDataNumber": _TCB_EVALUATION_DATA_NUMBER,
            "tdxModule": module,
            "tdxModuleIdentities": [module_identity],
            "tcbLevels": levels,
        }
    )


def _qe_identity(pki: DevPki, issued_at: int, validity_s: int) -> str:
    platform = pki.platform
    return _compact(
        {
            "id": "TD_QE",
            "version": 2,
            "issueDate": _rfc3339(issued_at),
            "nextUpdate": _rfc3339(issued_at + validity_s),
            "tcbEvaluationDataNumber": _TCB_EVALUATION_DATA_NUMBER,
            "miscselect": "00000000",
            "miscselectMask": "FFFFFFFF",
            "attributes": "11000000000000000000000000000000",
            "attributesMask": "FBFFFFFFFFFFFFFF0000000000000000",
            "mrsigner": platform.qe_mr_signer.hex().upper(),
            "isvprodid": platform.qe_isv_prod_id,
            "tcbLevels": [
                {
                    "tcb": {"isvsvn": platform.qe_isv_svn},
                    "tcbDate": "2024-03-13T00:00:00Z",
                    "tcbStatus": "UpToDate",
                }
            ],
        }
    )


def build_dev_collateral(
    pki: DevPki, *, issued_at: int, validity_s: int = DEFAULT_COLLATERAL_VALIDITY_S
) -> bytes:
    """Collateral JSON (UTF-8) valid from ``issued_at`` for ``validity_s`` seconds."""
    tcb_info = _tcb_info(pki, issued_at, validity_s)
    qe_identity = _qe_identity(pki, issued_at, validity_s)
    document = {
        "pck_crl_issuer_chain": pki.pck_crl_issuer_chain_pem,
        "root_ca_crl": pki.crl("root", issued_at=issued_at, validity_s=validity_s).hex(),
        "pck_crl": pki.crl("pck", issued_at=issued_at, validity_s=validity_s).hex(),
        "tcb_info_issuer_chain": pki.tcb_signing_chain_pem,
        "tcb_info": tcb_info,
        "tcb_info_signature": ecdsa_raw_sign(pki.tcb_signing_key, tcb_info.encode()).hex(),
        "qe_identity_issuer_chain": pki.tcb_signing_chain_pem,
        "qe_identity": qe_identity,
        "qe_identity_signature": ecdsa_raw_sign(pki.tcb_signing_key, qe_identity.encode()).hex(),
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()
