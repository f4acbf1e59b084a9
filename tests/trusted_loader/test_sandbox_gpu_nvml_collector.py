"""The real-host GPU collector (``enclava.attestation.gpu.nvml_collector``) without a GPU: typed
errors with hints where pynvml, NVML or a GPU is missing; RIM ids derived from an SPDM report as
NVIDIA's verifiers derive them; OCSP requests sent to a real local HTTP responder.

The collection through NVML itself needs a confidential GPU and is not exercised here."""

from __future__ import annotations

import datetime as dt
import http.server
import importlib.util
import sys
import threading

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import ocsp
from cryptography.x509.oid import NameOID
from hypothesis import given, settings
from hypothesis import strategies as st

from enclava.attestation.errors import AttesterError
from enclava.attestation.gpu.nvml_collector import (
    GpuCollectionError,
    NvidiaOcspResponder,
    NvidiaRimService,
    NvmlGpuCollector,
    NvmlUnavailableError,
    OcspQuery,
    rim_ids,
)
from enclava.attestation.gpu.spdm import (
    MeasurementRequest,
    MeasurementResponse,
    OpaqueField,
    OpaqueType,
    SpdmReport,
)

NONCE = bytes(range(32))


def _never(query):
    raise AssertionError("no source may be asked before NVML answered")


def test_without_pynvml_collecting_is_a_typed_error_with_a_hint(monkeypatch):
    """``sys.modules['pynvml'] = None`` makes the collector's real import fail, as on a host
    without nvidia-ml-py, whether or not this machine has it."""
    monkeypatch.setitem(sys.modules, "pynvml", None)
    with pytest.raises(NvmlUnavailableError) as caught:
        NvmlGpuCollector(_never, _never).collect(NONCE)
    error = caught.value
    assert isinstance(error, AttesterError) and error.code == "gpu_nvml_unavailable"
    assert "nvidia-ml-py" in error.hint and "LOADER_GPU=none" in error.hint


def test_on_this_machine_collecting_fails_typed():
    """No GPU here: without pynvml the import fails; with it, NVML cannot start."""
    with pytest.raises(AttesterError) as caught:
        NvmlGpuCollector(_never, _never).collect(NONCE)
    assert isinstance(caught.value, (NvmlUnavailableError, GpuCollectionError))
    if importlib.util.find_spec("pynvml") is None:
        assert caught.value.code == "gpu_nvml_unavailable"


@pytest.mark.parametrize("nonce", [b"", bytes(31), bytes(33), "00" * 32])
def test_a_nonce_that_is_not_32_bytes_is_refused_before_nvml(nonce):
    with pytest.raises(GpuCollectionError, match="32 bytes"):
        NvmlGpuCollector(_never, _never).collect(nonce)


def _report(**opaque: bytes) -> bytes:
    fields = {
        OpaqueType.DRIVER_VERSION: b"550.54.15\x00",
        OpaqueType.PROJECT: b"G520\x00",
        OpaqueType.PROJECT_SKU: b"0280\x00",
        OpaqueType.CHIP_SKU: b"895\x00",
        OpaqueType.VBIOS_VERSION: b"96.00.9f.00.04\x00",
    }
    fields.update({getattr(OpaqueType, k): v for k, v in opaque.items()})
    response = MeasurementResponse(
        blocks=(),
        nonce=NONCE,
        opaque=tuple(OpaqueField(t, v) for t, v in fields.items() if v),
    ).with_signature(bytes(96))
    return SpdmReport(MeasurementRequest(nonce=NONCE), response).encode()


def test_rim_ids_follow_nvidia_s_naming():
    assert rim_ids(_report(), "HOPPER") == (
        "NV_GPU_DRIVER_GH100_550.54.15",
        "NV_GPU_VBIOS_G520_0280_895_96009F0004",
    )
    assert rim_ids(_report(CHIP_INFO=b"GB100\x00"), "BLACKWELL")[0] == (
        "NV_GPU_CC_DRIVER_GB100_550.54.15"
    )


def test_rim_ids_refuse_a_report_without_versions_or_with_odd_ones():
    with pytest.raises(GpuCollectionError, match="driver version"):
        rim_ids(_report(DRIVER_VERSION=b""), "HOPPER")
    with pytest.raises(GpuCollectionError, match="odd project"):
        rim_ids(_report(PROJECT=b"../../x\x00"), "HOPPER")
    with pytest.raises(GpuCollectionError, match="does not parse"):
        rim_ids(b"\x11\xe0" + bytes(10), "HOPPER")


def _chain(names: list[str]) -> list[x509.Certificate]:
    """A real certificate chain, leaf first (P-384, as NVIDIA's)."""
    keys = [ec.generate_private_key(ec.SECP384R1()) for _ in names]
    now = dt.datetime.now(dt.timezone.utc)
    certs: list[x509.Certificate] = []
    for index, name in enumerate(names):
        issuer = min(index + 1, len(names) - 1)
        certs.append(
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[issuer])]))
            .public_key(keys[index].public_key())
            .serial_number(index + 1)
            .not_valid_before(now)
            .not_valid_after(now + dt.timedelta(days=1))
            .sign(keys[issuer], hashes.SHA384())
        )
    return certs


def test_ocsp_responder_asks_once_per_certificate_and_issuer_of_each_chain():
    device = _chain(["fmc leaf", "brom", "device root"])
    rim = _chain(["rim signer", "rim root"])
    seen: list[bytes] = []

    class Responder(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's name
            body = self.rfile.read(int(self.headers["Content-Length"]))
            seen.append(body)
            assert self.headers["Content-Type"] == "application/ocsp-request"
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"DER-%d" % len(seen))

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Responder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        pem = b"".join(c.public_bytes(serialization.Encoding.PEM) for c in device)
        xml = b"<SoftwareIdentity><ds:X509Data>%s</ds:X509Data></SoftwareIdentity>" % b"".join(
            b"<ds:X509Certificate>%s</ds:X509Certificate>"
            % c.public_bytes(serialization.Encoding.PEM).split(b"-----")[2].strip()
            for c in rim
        )
        answers = NvidiaOcspResponder(f"http://127.0.0.1:{server.server_port}/")(
            OcspQuery(0, pem, xml, xml)
        )
    finally:
        server.shutdown()
        server.server_close()
    assert answers == (b"DER-1", b"DER-2", b"DER-3", b"DER-4")
    asked = [ocsp.load_der_ocsp_request(body).serial_number for body in seen]
    assert asked == [1, 2, 1, 1]  # leaf, BROM; the driver RIM's signer; the VBIOS RIM's signer


def test_the_default_sources_refuse_plain_or_odd_urls():
    with pytest.raises(ValueError):
        NvidiaRimService("http://rim.attestation.nvidia.com/v1/rim/")
    with pytest.raises(ValueError):
        NvidiaOcspResponder("ftp://ocsp.ndis.nvidia.com/")


def test_an_unreachable_ocsp_responder_is_a_collection_error():
    device = _chain(["leaf", "root"])
    pem = b"".join(c.public_bytes(serialization.Encoding.PEM) for c in device)
    with pytest.raises(GpuCollectionError, match="could not fetch"):
        NvidiaOcspResponder("http://127.0.0.1:9/")(OcspQuery(0, pem, b"", b""))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=512))
def test_rim_ids_of_any_bytes_raise_only_the_collection_error(raw):
    try:
        rim_ids(raw, "HOPPER")
    except GpuCollectionError:
        pass
