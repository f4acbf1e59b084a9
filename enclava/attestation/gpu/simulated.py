"""The simulated NVIDIA confidential GPU: real-format GPU evidence from the development PKI.

DEVELOPMENT ONLY. It stands in for ``nvmlDeviceGetConfComputeGpuAttestationReport`` plus NVIDIA's
RIM and OCSP services on machines without a Hopper GPU. Each :class:`GpuEvidence` it emits has
every byte real evidence has: the SPDM 1.1 GET_MEASUREMENTS request and response (encoded by
:mod:`.spdm`, signed by the GPU's attestation key over request ‖ response-without-signature), the
attestation key's five-certificate chain, a driver RIM and a VBIOS RIM (SWID tags with enveloped
XML signatures) whose reference values the report's measurements match, and the OCSP responses of
the device and RIM chains. So the CA checks it with the very same :class:`GpuVerifier` code path
as real evidence; only the roots differ (:data:`DEV_GPU_DEVICE_ROOT_DER`,
:data:`DEV_GPU_RIM_ROOT_DER`), which :func:`simulated_gpu_verifier` pins and nothing else trusts.

``debug=True`` and ``cc_mode=False`` make the GPU report what such a GPU would, so the verifier's
refusals can be shown: a debug (CC devtools) GPU's FSP measures a configuration the production RIMs
do not list (Hopper signs no "devtools" flag, so it is refused as a measurement mismatch), and a
GPU whose own CC is off reports protected PCIe enabled (0xAA) in the signed opaque data. The
output is a function of the nonce and the clock alone: the same inputs give the same bytes on
every machine. The classes are "H100" and "H200" (board G520/0280), both GH100 chips.
"""

from __future__ import annotations

import functools
import hashlib
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass

from enclava.attestation.errors import AttesterError
from enclava.attestation.gpu.dev_rim import RimMeasurement, build_rim, sign_rim
from enclava.attestation.gpu.devpki import (
    DEV_GPU_PKI_SEED,
    DevGpuDevice,
    development_gpu_device_root_der,
    development_gpu_pki,
    development_gpu_rim_root_der,
    spdm_sign,
)
from enclava.attestation.gpu.evidence import GpuEvidence
from enclava.attestation.gpu.spdm import (
    NONCE_SIZE,
    MeasurementBlock,
    MeasurementRequest,
    MeasurementResponse,
    OpaqueField,
    OpaqueType,
    SpdmReport,
)
from enclava.attestation.gpu.verifier import GpuVerifier

__all__ = [
    "DEV_GPU_DEVICE_ROOT_DER",
    "DEV_GPU_RIM_ROOT_DER",
    "SIMULATED_GPU_MODELS",
    "SimulatedGpuModel",
    "SimulatedGpuAttester",
    "simulated_gpu_verifier",
]

DEV_GPU_DEVICE_ROOT_DER = development_gpu_device_root_der()
DEV_GPU_RIM_ROOT_DER = development_gpu_rim_root_der()
MAX_SIMULATED_GPUS = 8

_BLOCKS = 64  # a Hopper GPU reports 64 measurement blocks (indices 1..64)
# Which RIM owns which (0-based) index, and how many reference values each has: the split of
# NVIDIA's 550.90.07 driver RIM and 96.00.9F.00.01 VBIOS RIM for GH100.
_VBIOS_ALTERNATIVES = {**{i: 1 for i in (*range(7), *range(8, 12))}, 12: 4}
_DRIVER_ALTERNATIVES = {
    **{i: 1 for i in (7, 21, 22, *range(25, 32), 33, *range(37, 41))},
    **{i: 2 for i in (23, 24, 32, 34, 36)},
    35: 4,
}
# NVIDIA's opaque status bytes: 0x55 "disabled", 0xAA "enabled". A GPU in CC mode reports
# protected PCIe (PPCIe, where the GPU's own CC is off) disabled, as NVIDIA's real report does.
_STATUS_DISABLED = b"\x55"
_STATUS_ENABLED = b"\xaa"


@dataclass(frozen=True)
class SimulatedGpuModel:
    """The identity a simulated GPU class reports; values are development stand-ins."""

    gpu_class: str
    chip: str
    architecture: str
    project: str
    project_sku: str
    chip_sku: str
    board_id: int
    driver_version: str
    vbios_version: str  # "96.00.9F.00.01": NVIDIA's dotted form of the 8-byte opaque value


_HOPPER = {
    "chip": "GH100",
    "architecture": "HOPPER",
    "project": "G520",
    "driver_version": "550.90.07",
}
SIMULATED_GPU_MODELS = {
    model.gpu_class: model
    for model in (
        SimulatedGpuModel(
            gpu_class="H100",
            project_sku="0200",
            chip_sku="885",
            board_id=0x3B1,
            vbios_version="96.00.9F.00.01",
            **_HOPPER,
        ),
        SimulatedGpuModel(
            gpu_class="H200",  # GpuVerifier labels board G520/0280 "H200"
            project_sku="0280",
            chip_sku="886",
            board_id=0x3C2,
            vbios_version="96.00.A5.00.01",
            **_HOPPER,
        ),
    )
}


def _vbios_bytes(version: str) -> bytes:
    """Inverse of NVIDIA's VBIOS formatting: "96.00.9F.00.01" is the u64 0x01_96009F00, LE."""
    parts = [int(part, 16) for part in version.split(".")]
    low = parts[0] << 24 | parts[1] << 16 | parts[2] << 8 | parts[3]
    return struct.pack("<Q", parts[4] << 32 | low)


def _value(model: SimulatedGpuModel, kind: str, index: int, alternative: int) -> bytes:
    label = f"/measurement/{model.gpu_class}/{kind}/{index}/{alternative}".encode()
    return hashlib.sha384(DEV_GPU_PKI_SEED + label).digest()


def _rim_measurements(model: SimulatedGpuModel, kind: str) -> tuple[RimMeasurement, ...]:
    owned = _DRIVER_ALTERNATIVES if kind == "driver" else _VBIOS_ALTERNATIVES
    return tuple(
        RimMeasurement(
            index,
            index in owned,
            tuple(_value(model, kind, index, alt) for alt in range(owned[index]))
            if index in owned
            else (bytes(48),),
        )
        for index in range(_BLOCKS)
    )


def _measured(model: SimulatedGpuModel, index: int, *, debug: bool) -> bytes:
    """What the GPU measures at RIM index ``index``: one of the reference values, or zeros."""
    for kind, owned in (("driver", _DRIVER_ALTERNATIVES), ("vbios", _VBIOS_ALTERNATIVES)):
        if index in owned:
            value = _value(model, kind, index, index % owned[index])
            if debug and kind == "vbios" and index == 0:
                # CC devtools mode: the FSP measures another configuration than the production
                # one NVIDIA's RIMs list (Hopper has no signed "devtools" flag; see verifier.py)
                value = hashlib.sha384(b"devtools" + value).digest()
            return value
    return bytes(48)


@functools.cache
def _rims(model: SimulatedGpuModel, day: int) -> tuple[bytes, bytes]:
    """(driver RIM, VBIOS RIM) of ``model``, signed by signers valid around UTC day ``day``."""
    pki = development_gpu_pki()
    rims: list[bytes] = []
    for kind, version in (("driver", model.driver_version), ("vbios", model.vbios_version)):
        signer, chain = pki.rim_signer(model.chip, kind, day)
        unsigned = build_rim(
            chip=model.chip,
            version=version,
            tag_seed=DEV_GPU_PKI_SEED + f"/rim/{model.gpu_class}/{kind}/{version}".encode(),
            measurements=_rim_measurements(model, kind),
        )
        rims.append(sign_rim(unsigned, signer.key, chain))
    return rims[0], rims[1]


class SimulatedGpuAttester:
    """Emits simulated evidence for ``count`` GPUs of class ``gpu_class`` ("H100" or "H200")."""

    def __init__(
        self,
        gpu_class: str = "H100",
        *,
        debug: bool = False,
        cc_mode: bool = True,
        count: int = 1,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if gpu_class not in SIMULATED_GPU_MODELS:
            raise AttesterError(
                f"no simulated GPU of class {gpu_class!r}; choose one of "
                f"{sorted(SIMULATED_GPU_MODELS)}"
            )
        if type(count) is not int or not 1 <= count <= MAX_SIMULATED_GPUS:
            raise AttesterError(f"a simulated host has 1 to {MAX_SIMULATED_GPUS} GPUs")
        self.model = SIMULATED_GPU_MODELS[gpu_class]
        self._debug, self._cc_mode, self._count, self._clock = debug, cc_mode, count, clock

    def collect(self, nonce: bytes) -> tuple[GpuEvidence, ...]:
        """One :class:`GpuEvidence` per GPU, each over ``nonce`` (the CA's 32 bytes)."""
        if not isinstance(nonce, bytes) or len(nonce) != NONCE_SIZE:
            raise AttesterError(f"the GPU nonce must be exactly {NONCE_SIZE} bytes")
        now = int(self._clock())
        day = now // 86_400
        driver_rim, vbios_rim = _rims(self.model, day)
        pki = development_gpu_pki()
        rim_ocsp = self._rim_ocsp(day, now)
        out = []
        for index in range(self._count):
            device = pki.device(self.model.chip, index, day)
            chain = device.chain
            device_ocsp = tuple(
                pki.ocsp_response(chain[i], chain[i + 1], produced_at=now)
                for i in range(1, len(chain) - 1)
            )
            out.append(
                GpuEvidence(
                    report=self._report(device, nonce),
                    certificates=device.chain_pem,
                    driver_rim=driver_rim,
                    vbios_rim=vbios_rim,
                    ocsp=device_ocsp + rim_ocsp,
                )
            )
        return tuple(out)

    def _rim_ocsp(self, day: int, now: int) -> tuple[bytes, ...]:
        """OCSP for both RIM signers, then their shared L3 and L2 (each certificate once)."""
        pki = development_gpu_pki()
        driver = pki.rim_signer(self.model.chip, "driver", day)[1]
        vbios = pki.rim_signer(self.model.chip, "vbios", day)[1]
        pairs = [
            (driver[0], driver[1]),
            (vbios[0], vbios[1]),
            (driver[1], driver[2]),
            (driver[2], driver[3]),
        ]
        return tuple(pki.ocsp_response(c, i, produced_at=now) for c, i in pairs)

    def _opaque(self, device: DevGpuDevice) -> tuple[OpaqueField, ...]:
        """The opaque fields of the real Hopper sample, in its order, for this GPU."""
        model = self.model
        counts = b"".join(
            struct.pack("<I", 1 if (i in _DRIVER_ALTERNATIVES or i in _VBIOS_ALTERNATIVES) else 0)
            for i in range(_BLOCKS)
        )
        pcie = _STATUS_DISABLED if self._cc_mode else _STATUS_ENABLED
        return (
            OpaqueField(OpaqueType.VBIOS_VERSION, _vbios_bytes(model.vbios_version)),
            OpaqueField(OpaqueType.BOARD_ID, struct.pack("<I", model.board_id)),
            OpaqueField(OpaqueType.CHIP_SKU, model.chip_sku.encode().ljust(9, b"\x00")),
            OpaqueField(OpaqueType.CHIP_SKU_MOD, b"0".ljust(5, b"\x00")),
            OpaqueField(OpaqueType.PROJECT, model.project.encode() + b"\x00"),
            OpaqueField(OpaqueType.PROJECT_SKU, model.project_sku.encode() + b"\x00"),
            OpaqueField(OpaqueType.PROJECT_SKU_MOD, b"\x00\x00"),
            OpaqueField(OpaqueType.DRIVER_VERSION, model.driver_version.encode() + b"\x00"),
            OpaqueField(OpaqueType.GPU_INFO, bytes.fromhex("8001000000000000")),
            OpaqueField(OpaqueType.MSRSCNT, counts),
            OpaqueField(OpaqueType.CPRINFO, bytes.fromhex("00c00100")),
            OpaqueField(OpaqueType.NVDEC0_STATUS, _STATUS_DISABLED),
            OpaqueField(OpaqueType.FWID, device.fwid),
            OpaqueField(OpaqueType.PROTECTED_PCIE_STATUS, pcie),
        )

    def _report(self, device: DevGpuDevice, nonce: bytes) -> bytes:
        blocks = tuple(
            MeasurementBlock(index + 1, _measured(self.model, index, debug=self._debug))
            for index in range(_BLOCKS)
        )
        # the GPU's own SPDM nonce: fresh per exchange on hardware, derived here (deterministic)
        gpu_nonce = hashlib.sha256(DEV_GPU_PKI_SEED + b"/responder-nonce/" + device.ueid + nonce)
        unsigned = SpdmReport(
            MeasurementRequest(nonce),
            MeasurementResponse(blocks, gpu_nonce.digest(), self._opaque(device)),
        )
        signature = spdm_sign(device.attestation_key, unsigned.signed_bytes())
        return SpdmReport(unsigned.request, unsigned.response.with_signature(signature)).encode()


def simulated_gpu_verifier() -> GpuVerifier:
    """The verifier of simulated GPU evidence: the development roots, ``simulated=True`` claims."""
    return GpuVerifier(
        device_root_der=DEV_GPU_DEVICE_ROOT_DER,
        rim_root_der=DEV_GPU_RIM_ROOT_DER,
        simulated=True,
    )
