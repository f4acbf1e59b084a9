"""The GPU evidence collector of a real CVM: NVIDIA's driver (NVML) for the report and certificate
chain of each confidential GPU, and provider-supplied sources for what NVIDIA publishes about it.

Per GPU, :meth:`NvmlGpuCollector.collect` asks NVML (``pynvml``, the ``nvidia-ml-py`` package,
imported only when collecting) for

* ``nvmlDeviceGetConfComputeGpuAttestationReport(handle, nonce)``: the SPDM GET_MEASUREMENTS
  request ‖ signed response over the CA's 32-byte nonce (``GpuEvidence.report``);
* ``nvmlDeviceGetConfComputeGpuCertificate(handle)``: the attestation key's certificate chain
  (``attestationCertChain``, PEM, leaf first; ``GpuEvidence.certificates``);

then calls the two sources the provider supplies, because the CA never fetches anything:

* ``rim_source(RimQuery) -> (driver_rim, vbios_rim)``: the signed SWID tags. Default
  :class:`NvidiaRimService`, NVIDIA's RIM service (``https://rim.attestation.nvidia.com/v1/rim/``,
  the ``RIM_SERVICE_URL`` of NVIDIA/nvtrust ``guest_tools/gpu_verifiers/local_gpu_verifier/src/
  verifier/config.py`` @552b69109f0b), by the ids NVIDIA's verifiers derive from the report's
  opaque data (:func:`rim_ids`);
* ``ocsp_source(OcspQuery) -> tuple[DER, ...]``: OCSP responses for the device chain and both RIM
  signer chains. Default :class:`NvidiaOcspResponder`, NVIDIA's responder
  (``https://ocsp.ndis.nvidia.com/``, ``OCSP_SERVICE_URL`` in the same file), one RFC 6960 POST per
  (certificate, issuer) pair.

A provider behind an egress filter or with a caching proxy passes its own callables. Nothing
collected here is trusted: the CA verifies every byte (``GpuVerifier``). NVML needs the NVIDIA
driver >= 550 with the GPU in CC mode (``nvidia-smi conf-compute -srs 1`` once the CVM booted).
Every failure is an :class:`~enclava.attestation.errors.AttesterError` subclass with a hint.
"""

from __future__ import annotations

import base64
import binascii
import importlib
import json
import re
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp

from enclava.attestation.errors import AttesterError, EvidenceFormatError
from enclava.attestation.gpu.evidence import GpuEvidence
from enclava.attestation.gpu.spdm import OpaqueType, SpdmReport

__all__ = [
    "NVIDIA_OCSP_URL",
    "NVIDIA_RIM_SERVICE_URL",
    "GpuCollectionError",
    "NvidiaOcspResponder",
    "NvidiaRimService",
    "NvmlGpuCollector",
    "NvmlUnavailableError",
    "OcspQuery",
    "OcspSource",
    "RimQuery",
    "RimSource",
    "rim_ids",
]

NVIDIA_RIM_SERVICE_URL = "https://rim.attestation.nvidia.com/v1/rim/"
NVIDIA_OCSP_URL = "https://ocsp.ndis.nvidia.com/"
NONCE_SIZE = 32
_HTTP_TIMEOUT_S = 30
_MAX_HTTP_BYTES = 1024 * 1024
#: NVML's ``nvmlDeviceGetArchitecture`` values with confidential computing (nvml.h).
_ARCHITECTURES = {9: "HOPPER", 10: "BLACKWELL"}


class NvmlUnavailableError(AttesterError):
    """pynvml cannot be imported, or NVML cannot start (no driver, no GPU)."""

    code = "gpu_nvml_unavailable"
    hint = (
        "LOADER_GPU=nvml needs the NVIDIA driver >= 550 with confidential computing in the CVM and "
        "the Python package nvidia-ml-py (import name pynvml): pip install nvidia-ml-py. Use "
        "LOADER_GPU=none on a CVM without a confidential GPU."
    )


class GpuCollectionError(AttesterError):
    """NVML answered but the evidence could not be collected, or a RIM/OCSP source failed."""

    code = "gpu_collection_failed"
    hint = (
        "Turn the GPU's CC mode on (nvidia-smi conf-compute -srs 1; check nvidia-smi conf-compute "
        "-f), and check that the CVM reaches NVIDIA's RIM service and OCSP responder (or the "
        "provider's own sources)."
    )


@dataclass(frozen=True)
class RimQuery:
    """What a RIM source gets for one GPU: the ids NVIDIA's verifiers use, and the raw facts."""

    index: int
    architecture: str  # "HOPPER" | "BLACKWELL"
    driver_rim_id: str  # e.g. NV_GPU_DRIVER_GH100_550.54.15
    vbios_rim_id: str  # e.g. NV_GPU_VBIOS_G520_0280_895_9600D00003
    report: bytes
    certificates: bytes


@dataclass(frozen=True)
class OcspQuery:
    """What an OCSP source gets for one GPU: the three chains whose revocation the CA checks."""

    index: int
    certificates: bytes  # the device chain, PEM, leaf first
    driver_rim: bytes
    vbios_rim: bytes


RimSource = Callable[[RimQuery], tuple[bytes, bytes]]
OcspSource = Callable[[OcspQuery], tuple[bytes, ...]]


def _opaque_text(report: SpdmReport, field: int, what: str) -> str:
    value = report.response.opaque_value(field)
    if value is None:
        raise GpuCollectionError(f"the GPU's report has no {what} in its opaque data")
    text = value.split(b"\x00", 1)[0].decode("ascii", "replace").strip()
    if not re.fullmatch(r"[0-9A-Za-z._-]{1,64}", text):
        raise GpuCollectionError(f"the GPU's report has an odd {what}: {text!r}")
    return text


def rim_ids(report: bytes, architecture: str) -> tuple[str, str]:
    """(driver RIM id, VBIOS RIM id) as NVIDIA's verifiers derive them from the report's opaque
    data: ``NV_GPU_DRIVER_GH100_<driver>`` (Hopper; Blackwell: ``NV_GPU_CC_DRIVER_<chip>_<driver>``)
    and ``NV_GPU_VBIOS_<project>_<project sku>_<chip sku>_<VBIOS version without dots>``."""
    try:
        parsed = SpdmReport.parse(report)
    except EvidenceFormatError as exc:
        raise GpuCollectionError(f"NVML returned a report that does not parse: {exc}") from exc
    driver = _opaque_text(parsed, OpaqueType.DRIVER_VERSION, "driver version")
    if architecture == "HOPPER":
        driver_id = f"NV_GPU_DRIVER_GH100_{driver}"
    else:
        chip = (
            _opaque_text(parsed, OpaqueType.CHIP_INFO, "chip info")
            if parsed.response.opaque_value(OpaqueType.CHIP_INFO) is not None
            else "GB100"
        )
        driver_id = f"NV_GPU_CC_DRIVER_{chip}_{driver}"
    parts = [
        _opaque_text(parsed, OpaqueType.PROJECT, "project"),
        _opaque_text(parsed, OpaqueType.PROJECT_SKU, "project SKU"),
        _opaque_text(parsed, OpaqueType.CHIP_SKU, "chip SKU"),
    ]
    vbios = _opaque_text(parsed, OpaqueType.VBIOS_VERSION, "VBIOS version").replace(".", "")
    vbios_id = "NV_GPU_VBIOS_" + "_".join([*parts, vbios]).upper()
    return driver_id, vbios_id


def _fetch(request: urllib.request.Request, what: str) -> bytes:
    try:
        with urllib.request.urlopen(request, timeout=_HTTP_TIMEOUT_S) as answer:  # noqa: S310
            body: bytes = answer.read(_MAX_HTTP_BYTES + 1)
    except OSError as exc:
        raise GpuCollectionError(f"could not fetch {what} from {request.full_url}: {exc}") from exc
    if len(body) > _MAX_HTTP_BYTES:
        raise GpuCollectionError(f"{what} from {request.full_url} is over {_MAX_HTTP_BYTES} bytes")
    return body


class NvidiaRimService:
    """``rim_source`` over NVIDIA's RIM service: ``GET <base>/<id>`` answers JSON whose ``rim``
    is the base64 of the signed SWID tag."""

    def __init__(self, base_url: str = NVIDIA_RIM_SERVICE_URL) -> None:
        if not base_url.startswith("https://"):
            raise ValueError("the RIM service URL must be https://")
        self.base_url = base_url.rstrip("/") + "/"

    def fetch(self, rim_id: str) -> bytes:
        body = _fetch(urllib.request.Request(self.base_url + rim_id), f"RIM {rim_id}")
        try:
            document = json.loads(body)
            rim = base64.b64decode(document["rim"], validate=True)
        except (ValueError, KeyError, TypeError, binascii.Error) as exc:
            raise GpuCollectionError(f"the RIM service's answer for {rim_id} is malformed") from exc
        return rim

    def __call__(self, query: RimQuery) -> tuple[bytes, bytes]:
        return self.fetch(query.driver_rim_id), self.fetch(query.vbios_rim_id)


_PEM = re.compile(rb"-----BEGIN CERTIFICATE-----[A-Za-z0-9+/=\s]+-----END CERTIFICATE-----")
_XML_CERT = re.compile(rb"<(?:\w+:)?X509Certificate>([A-Za-z0-9+/=\s]+)</(?:\w+:)?X509Certificate>")


def _chain_pairs(chain: list[x509.Certificate]) -> list[tuple[x509.Certificate, x509.Certificate]]:
    return [(chain[i], chain[i + 1]) for i in range(len(chain) - 1)]


class NvidiaOcspResponder:
    """``ocsp_source`` over NVIDIA's OCSP responder: one request (SHA-384 ids, as nvtrust asks)
    per (certificate, issuer) pair of the device chain and of each RIM's embedded signer chain."""

    def __init__(self, url: str = NVIDIA_OCSP_URL) -> None:
        if not url.startswith(("https://", "http://")):
            raise ValueError("the OCSP responder URL must be http(s)://")
        self.url = url

    def query(self, cert: x509.Certificate, issuer: x509.Certificate) -> bytes:
        request = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, hashes.SHA384()).build()
        body = request.public_bytes(serialization.Encoding.DER)
        post = urllib.request.Request(
            self.url,
            data=body,
            headers={"Content-Type": "application/ocsp-request"},
            method="POST",
        )
        return _fetch(post, f"OCSP status of {cert.subject.rfc4514_string()}")

    def __call__(self, query: OcspQuery) -> tuple[bytes, ...]:
        try:
            device = [x509.load_pem_x509_certificate(m) for m in _PEM.findall(query.certificates)]
            rims = [
                [
                    x509.load_der_x509_certificate(base64.b64decode(b"".join(m.split())))
                    for m in _XML_CERT.findall(rim)
                ]
                for rim in (query.driver_rim, query.vbios_rim)
            ]
        except (ValueError, binascii.Error) as exc:
            raise GpuCollectionError(f"GPU {query.index}: a chain to check is malformed") from exc
        pairs = _chain_pairs(device) + [p for chain in rims for p in _chain_pairs(chain)]
        return tuple(self.query(cert, issuer) for cert, issuer in pairs)


def _import_pynvml() -> Any:
    try:
        return importlib.import_module("pynvml")
    except ImportError as exc:
        raise NvmlUnavailableError(
            "the NVML Python bindings (package nvidia-ml-py, module pynvml) are not installed"
        ) from exc


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


class NvmlGpuCollector:
    """``GpuCollector`` for a real CVM: every GPU NVML shows, in index order."""

    def __init__(
        self, rim_source: RimSource | None = None, ocsp_source: OcspSource | None = None
    ) -> None:
        self._rim_source: RimSource = rim_source or NvidiaRimService()
        self._ocsp_source: OcspSource = ocsp_source or NvidiaOcspResponder()

    def collect(self, nonce: bytes) -> tuple[GpuEvidence, ...]:
        if not isinstance(nonce, bytes) or len(nonce) != NONCE_SIZE:
            raise GpuCollectionError(f"the GPU nonce must be {NONCE_SIZE} bytes (the CA nonce)")
        nvml = _import_pynvml()
        try:
            nvml.nvmlInit()
        except nvml.NVMLError as exc:
            raise NvmlUnavailableError(f"NVML did not start: {exc}") from exc
        try:
            return self._collect(nvml, nonce)
        except nvml.NVMLError as exc:
            raise GpuCollectionError(f"NVML refused to attest: {exc}") from exc
        finally:
            try:
                nvml.nvmlShutdown()
            except nvml.NVMLError:
                pass

    def _collect(self, nvml: Any, nonce: bytes) -> tuple[GpuEvidence, ...]:
        state = nvml.nvmlSystemGetConfComputeState()
        if getattr(state, "ccFeature", 0) != 1:  # NVML_CC_SYSTEM_FEATURE_ENABLED
            raise GpuCollectionError("confidential computing is not enabled on this system")
        count = nvml.nvmlDeviceGetCount()
        if count < 1:
            raise GpuCollectionError("NVML shows no GPU")
        evidence: list[GpuEvidence] = []
        for index in range(count):
            handle = nvml.nvmlDeviceGetHandleByIndex(index)
            architecture = _ARCHITECTURES.get(nvml.nvmlDeviceGetArchitecture(handle))
            if architecture is None:
                raise GpuCollectionError(f"GPU {index} has no confidential-computing attestation")
            answer = nvml.nvmlDeviceGetConfComputeGpuAttestationReport(handle, nonce)
            report = bytes(answer.attestationReport[: answer.attestationReportSize])
            cert = nvml.nvmlDeviceGetConfComputeGpuCertificate(handle)
            chain = bytes(cert.attestationCertChain[: cert.attestationCertChainSize])
            driver_id, vbios_id = rim_ids(report, architecture)
            try:
                driver_rim, vbios_rim = self._rim_source(
                    RimQuery(index, architecture, driver_id, vbios_id, report, chain)
                )
                responses = self._ocsp_source(OcspQuery(index, chain, driver_rim, vbios_rim))
            except AttesterError:
                raise
            except Exception as exc:  # noqa: BLE001 - a provider's source: any failure is typed
                raise GpuCollectionError(
                    f"GPU {index}: the RIM or OCSP source failed ({type(exc).__name__}: {exc})"
                ) from exc
            try:
                evidence.append(
                    GpuEvidence(
                        report=report,
                        certificates=chain,
                        driver_rim=driver_rim,
                        vbios_rim=vbios_rim,
                        ocsp=tuple(responses),
                    )
                )
            except EvidenceFormatError as exc:
                raise GpuCollectionError(f"GPU {index}'s evidence is unusable: {exc}") from exc
        return tuple(evidence)
