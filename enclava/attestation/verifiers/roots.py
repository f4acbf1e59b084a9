"""Vendor trust anchors the CA pins: Intel's SGX/TDX root certificate and AMD's ARK fingerprints.

Intel SGX Root CA: from https://certificates.trustedservices.intel.com/Intel_SGX_Provisioning_Certification_RootCA.cer
(the same certificate dcap-qvl compiles in); its SHA-256 fingerprint is pinned beside it and
checked by the tests. AMD ARK-Milan: AMD's root for Milan (EPYC 7003) SEV-SNP, pinned by the
SHA-256 fingerprint of its DER encoding as served by AMD KDS (https://kdsintf.amd.com/vcek/v1/Milan/cert_chain).
"""

from __future__ import annotations

import base64

__all__ = [
    "INTEL_SGX_ROOT_CA_PEM",
    "INTEL_SGX_ROOT_CA_DER",
    "INTEL_SGX_ROOT_CA_SHA256",
    "AMD_ARK_MILAN_SHA256",
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
