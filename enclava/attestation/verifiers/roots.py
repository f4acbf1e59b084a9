"""Vendor trust anchors the CA pins: Intel's SGX/TDX root certificate and AMD's ARK fingerprints.

Intel SGX Root CA: from https://certificates.trustedservices.intel.com/Intel_SGX_Provisioning_Certification_RootCA.cer
(the same certificate dcap-qvl compiles in); its SHA-256 fingerprint is pinned beside it and
checked by the tests.

AMD ARKs: AMD's SEV-SNP root per EPYC generation, pinned by the SHA-256 fingerprint of its DER
encoding as served by AMD KDS (``https://kdsintf.amd.com/vcek/v1/{Milan,Genoa,Turin}/cert_chain``;
the same ARK signs the ASK of the VCEK chain and the ASVK of the VLEK chain, ``.../vlek/v1/...``).
Checked against google/go-sev-guest ``verify/trust/ask_ark_{milan,genoa,turin_vcek}.pem`` and the
``*_vlek.pem`` chains, which end in the same three ARKs:

======  =====================================  ================  =================
ARK     validity                               CPUID family/mod  hwID (CHIP_ID)
======  =====================================  ================  =================
Milan   2020-10-22 .. 2045-10-22 (EPYC 7003)   19h / 01h         64 bytes
Genoa   2022-01-26 .. 2047-01-26 (EPYC 9004)   19h / 11h         64 bytes
Turin   2023-05-15 .. 2048-05-15 (EPYC 9005)   1Ah / 02h         first 8 bytes
======  =====================================  ================  =================

``AMD_SNP_ROOTS`` is the product table the SEV-SNP verifier uses: each pinned ARK with its
:class:`~enclava.attestation.sev_snp_report.SnpProduct` (CPUID, TCB layout, hwID length).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

from enclava.attestation.sev_snp_report import SNP_GENOA, SNP_MILAN, SNP_TURIN, SnpProduct

__all__ = [
    "INTEL_SGX_ROOT_CA_PEM",
    "INTEL_SGX_ROOT_CA_DER",
    "INTEL_SGX_ROOT_CA_SHA256",
    "AMD_ARK_MILAN_SHA256",
    "AMD_ARK_GENOA_SHA256",
    "AMD_ARK_TURIN_SHA256",
    "AmdSnpRoot",
    "AMD_SNP_ROOTS",
]

INTEL_SGX_ROOT_CA_PEM = """\
-----BEGIN CERTIFICATE-----
MIICjzCCAjSgAwIBAgIUImUM1lqdNInzg7SVUr9QGzknBqwwCgYIKoZIzj0EAwIw
aDEaMBgGA1UEAwwRSW50ZWwgU0dYIFJvb3QgQ0ExGjAYBgNVBAoMEUludGVsIENv
cnBvcmF0aW9uMRQwEgYDVQQHDAtTYW50YSBDbGFyYTELMAkGA1UECAwCQ0ExCzAJ
BgNVBAYTAlVTMB4XDTE4MDUyMTEwNDUxMFoXDTQ5MTIzMTIzNTk1OVowaDEaMBgG
A1UEAwwRSW50ZWwgU0dYIFJvb3QgQ0ExGjAYBgNVBAoMEUludGVsIENvcnBvcmF0
aW9uMRQwEgYDVQQHDAtTYW50YSBDbGFyYTELMAkGA1UECAwCQ0ExCzAJBgNVBAYT
AlVTMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEC6nEwMDIYZOj/iPWsCzaEKi7
1OiOSLRFhWGjbnBVJfVnkY4u3IjkDYYL0MxO4mqsyYjlBalTVYxFP2sJBK5zlKOB
uzCBuDAfBgNVHSMEGDAWgBQiZQzWWp00ifODtJVSv1AbOScGrDBSBgNVHR8ESzBJ
MEegRaBDhkFodHRwczovL2NlcnRpZmljYXRlcy50cnVzdGVkc2VydmljZXMuaW50
ZWwuY29tL0ludGVsU0dYUm9vdENBLmRlcjAdBgNVHQ4EFgQUImUM1lqdNInzg7SV
Ur9QGzknBqwwDgYDVR0PAQH/BAQDAgEGMBIGA1UdEwEB/wQIMAYBAf8CAQEwCgYI
KoZIzj0EAwIDSQAwRgIhAOW/5QkR+S9CiSDcNoowLuPRLsWGf/Yi7GSX94BgwTwg
AiEA4J0lrHoMs+Xo5o/sX6O9QWxHRAvZUGOdRQ7cvqRXaqI=
-----END CERTIFICATE-----
"""
INTEL_SGX_ROOT_CA_DER = base64.b64decode("".join(INTEL_SGX_ROOT_CA_PEM.strip().splitlines()[1:-1]))
INTEL_SGX_ROOT_CA_SHA256 = "44a0196b2b99f889b8e149e95b807a350e7424964399e885a7cbb8ccfab674d3"

AMD_ARK_MILAN_SHA256 = "69d063b45344d26a2e94e1f4210de49ef555308287d4c174445c95639a540bcd"
AMD_ARK_GENOA_SHA256 = "4c6598d19c18719c5dfd4a7d335f674e5bfe1d8f800cea2cf270c10d103db2f1"
AMD_ARK_TURIN_SHA256 = "1f084161a44bb6d93778a904877d4819cafa5d05ef4193b2ded9dd9c73dd3f6a"


@dataclass(frozen=True)
class AmdSnpRoot:
    """One row of the product table: a pinned ARK and the product whose chains end in it."""

    product: SnpProduct
    ark_sha256: str


AMD_SNP_ROOTS: tuple[AmdSnpRoot, ...] = (
    AmdSnpRoot(SNP_MILAN, AMD_ARK_MILAN_SHA256),
    AmdSnpRoot(SNP_GENOA, AMD_ARK_GENOA_SHA256),
    AmdSnpRoot(SNP_TURIN, AMD_ARK_TURIN_SHA256),
)
