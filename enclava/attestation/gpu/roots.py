"""The NVIDIA roots this CA pins for GPU attestation, each checked against its SHA-256 at import.

``NVIDIA_DEVICE_ROOT_DER``: "NVIDIA Device Identity CA" (self-signed, P-384, valid 2021-11-05 to
9999-12-31) — every Hopper GPU's attestation key chains to it. ``NVIDIA_RIM_ROOT_DER``: "NVIDIA
CoRIM signing Root CA" (2023-03-16 to 2053-03-08) — signs the chains of the RIM signers. Both are
the certificates NVIDIA ships with its local verifier (NVIDIA/nvtrust @028173093d43,
``guest_tools/gpu_verifiers/local_gpu_verifier/src/verifier/certs/verifier_device_root.pem`` and
``verifier_RIM_root.pem``; copies in tests/fixtures/attestation/nvidia/). A changed byte here fails
the import, so a root cannot be swapped silently.
"""

from __future__ import annotations

import base64
import hashlib

__all__ = [
    "NVIDIA_DEVICE_ROOT_DER",
    "NVIDIA_DEVICE_ROOT_SHA256",
    "NVIDIA_RIM_ROOT_DER",
    "NVIDIA_RIM_ROOT_SHA256",
]

NVIDIA_DEVICE_ROOT_SHA256 = "102bf659d5419614c9d8e6aecebc80454eb26b1df6a769ac720b9a690b167b48"
NVIDIA_RIM_ROOT_SHA256 = "12977b5115acb0381179279fffeb5a8c4d264971ebb32298023a465fa41df5d1"

NVIDIA_DEVICE_ROOT_DER = base64.b64decode(
    "MIICCzCCAZCgAwIBAgIQLTZwscoQBBHB/sDoKgZbVDAKBggqhkjOPQQDAzA1MSIwIAYDVQQDDBlOVklESUEgRGV2"
    "aWNlIElkZW50aXR5IENBMQ8wDQYDVQQKDAZOVklESUEwIBcNMjExMTA1MDAwMDAwWhgPOTk5OTEyMzEyMzU5NTla"
    "MDUxIjAgBgNVBAMMGU5WSURJQSBEZXZpY2UgSWRlbnRpdHkgQ0ExDzANBgNVBAoMBk5WSURJQTB2MBAGByqGSM49"
    "AgEGBSuBBAAiA2IABA5MFKM7+KViZljbQSlgfky/RRnEQScW9NDZF8SXgAW96r6u/Ve8ZggtcYpPi2BS4VFu6KfE"
    "IrhN6FcHG7WP05W+oM+hxj7nyA1r1jkB2Ry70YfThX3Ba1zOryOP+MJ9vaNjMGEwDwYDVR0TAQH/BAUwAwEB/zAO"
    "BgNVHQ8BAf8EBAMCAQYwHQYDVR0OBBYEFFeF/4PyY8xlfWi3Olv0jUrL+0lfMB8GA1UdIwQYMBaAFFeF/4PyY8xl"
    "fWi3Olv0jUrL+0lfMAoGCCqGSM49BAMDA2kAMGYCMQCPeFM3TASsKQVaT+8S0sO9u97PVGCpE9d/I42IT7k3UUOL"
    "SR/qvJynVOD1vQKVXf0CMQC+EY55WYoDBvs2wPAH1Gw4LbcwUN8QCff8bFmV4ZxjCRr4WXTLFHBKjbfneGSBWwA="
)
NVIDIA_RIM_ROOT_DER = base64.b64decode(
    "MIICKTCCAbCgAwIBAgIQRdrjoA5QN73fh1N17LXicDAKBggqhkjOPQQDAzBFMQswCQYDVQQGEwJVUzEPMA0GA1UE"
    "CgwGTlZJRElBMSUwIwYDVQQDDBxOVklESUEgQ29SSU0gc2lnbmluZyBSb290IENBMCAXDTIzMDMxNjE1MzczNFoY"
    "DzIwNTMwMzA4MTUzNzM0WjBFMQswCQYDVQQGEwJVUzEPMA0GA1UECgwGTlZJRElBMSUwIwYDVQQDDBxOVklESUEg"
    "Q29SSU0gc2lnbmluZyBSb290IENBMHYwEAYHKoZIzj0CAQYFK4EEACIDYgAEuECyi9vNM+Iw2lfUzyBldHAwaC1H"
    "F7TCgp12QcEyUTm3Tagxwr48d55+K2VIlWYIDk7NlAIQdcV/Ff7euGLI+Qauj93HsSI4WX298PpW54RTgz9tC+Q6"
    "84caR/BXWEeZo2MwYTAdBgNVHQ4EFgQUpaXrOPK4ZDAk08DBskn594zeZjAwHwYDVR0jBBgwFoAUpaXrOPK4ZDAk"
    "08DBskn594zeZjAwDwYDVR0TAQH/BAUwAwEB/zAOBgNVHQ8BAf8EBAMCAQYwCgYIKoZIzj0EAwMDZwAwZAIwHGDy"
    "scDP6ihHqRvZlI3eqZ4YkvjE1duaN84tAHRVgxVMvNrp5Tnom3idHYGW/dskAjATvjIx6VzHm/4e2GiZAyZEIUBD"
    "OKPzp5ei/A0iUZpdvngenDwV8Qa/wGdiTmJ7Bp4="
)

if hashlib.sha256(NVIDIA_DEVICE_ROOT_DER).hexdigest() != NVIDIA_DEVICE_ROOT_SHA256:
    raise RuntimeError("pinned NVIDIA device root does not match its SHA-256")  # pragma: no cover
if hashlib.sha256(NVIDIA_RIM_ROOT_DER).hexdigest() != NVIDIA_RIM_ROOT_SHA256:
    raise RuntimeError("pinned NVIDIA RIM root does not match its SHA-256")  # pragma: no cover
