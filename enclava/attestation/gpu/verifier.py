"""``GpuVerifier``: an NVIDIA Hopper confidential GPU's evidence, verified offline by the CA.

Checks, in this order (each refusal is its own :mod:`.errors` leaf)::

   1  types: GpuEvidence, a 32-byte nonce, an int ``now``         GpuEvidenceFormatError
   2  the SPDM report parses (request ‖ response)                  SpdmFormatError
   3  the device chain ends in the pinned NVIDIA Device Identity   GpuCertificateFormatError,
      root, every link signed and a CA, every cert valid at now    GpuDeviceRootError,
                                                                   GpuCertificateChainError,
                                                                   GpuCertificateExpiredError
   4  the leaf names a supported chip (table below)                GpuUnsupportedError
   5  the leaf's P-384 key signed request ‖ response-minus-sig     GpuReportSignatureError
   6  the report's FWID is the one the leaf was issued for         GpuFwidMismatchError
   7  the signed request asked for all measurements over ``nonce`` GpuNonceMismatchError
   8  CC mode (see below)                                          GpuCcModeOffError
   9  both RIMs: XML-DSig, chain to the pinned RIM root, valid at  RimFormatError, RimRootError,
      now, for this chip and the report's driver/VBIOS versions    RimSignatureError,
                                                                   RimExpiredError,
                                                                   RimVersionMismatchError
  10  every active RIM measurement i equals one of its values in   GpuMeasurementMismatchError
      SPDM block i + 1
  11  OCSP, from the supplied responses: the device chain (not the OcspFormatError,
      firmware-made leaf, not the root) and both RIM signer chains OcspMissingError,
      (every cert but the root): good, signed by the issuer or its OcspSignatureError,
      delegated responder, this_update <= now <= next_update       GpuRevokedError, OcspStaleError

Step 10 is stricter than nvtrust's verifier, which skips measurement 35 when the opaque NVDEC0
status says "disabled": here every active measurement must match (NVIDIA's real H100 report does).

What the GPU signs: the request (with the CA's nonce) and the response (measurements, the GPU's
nonce, opaque data); the chain signs the leaf's chip name and FWID; NVIDIA's RIM signers sign the
golden values. Every claim comes from one of those, never from unsigned input.

**CC mode and debug.** Hopper's report has no "CC on" or "devtools" field. NVIDIA's verifiers
(nvtrust local_gpu_verifier, attestation-sdk) read both from NVML, which the host controls, and
NVIDIA's SDK claims ``secboot``/``dbgstat=disabled`` exactly when every measurement matches the
RIM. This verifier uses only signed data:

* ``cc_mode``: the signed opaque field PROTECTED_PCIE_STATUS must be present and 0x55 ("disabled":
  the GPU is in CC mode, not in protected-PCIe mode, where the GPU's own CC is off and protection
  is delegated to the NVSwitches); where the report carries OPAQUE_DATA_VERSION >= 1, its
  FEATURE_FLAG must be SPT or MPT (CC passthrough), not PPCIE. Otherwise ``GpuCcModeOffError``.
  (0x55/0xAA are NVIDIA's disabled/enabled status bytes; NVIDIA's real CC-mode report has 0x55.)
* ``debug``: False, established by step 10 as NVIDIA's SDK does — the RIM's golden values are
  those of the production CC configuration, which the FSP measures; a GPU in CC devtools mode (or
  with other firmware) measures differently and is refused with ``GpuMeasurementMismatchError``.
  No signed flag distinguishes "devtools" from "other firmware" on Hopper, so no separate error.

**gpu_class** comes from signed data only: the chip from the device chain (leaf SAN
``NVIDIA:<chip>:<ueid>``, chain-signed), refined by the board (signed opaque PROJECT and
PROJECT_SKU). Table (``_CHIPS``, ``_BOARDS``): chip GH100 → architecture HOPPER, class "H100";
board (G520, 0280) → "H200" (the development model's H200 board id; NVIDIA publishes no board
table, so a real H200 board not listed here is labelled by its chip, "H100"). Other chips are
refused (``GpuUnsupportedError``).
"""

from __future__ import annotations

from dataclasses import dataclass

from enclava.attestation.gpu import certs, ocsp, rim
from enclava.attestation.gpu.claims import GpuClaims
from enclava.attestation.gpu.errors import (
    GpuCcModeOffError,
    GpuEvidenceFormatError,
    GpuFwidMismatchError,
    GpuMeasurementMismatchError,
    GpuNonceMismatchError,
    GpuUnsupportedError,
    RimFormatError,
    RimVersionMismatchError,
    SpdmFormatError,
)
from enclava.attestation.gpu.evidence import GpuEvidence
from enclava.attestation.gpu.roots import NVIDIA_DEVICE_ROOT_DER, NVIDIA_RIM_ROOT_DER
from enclava.attestation.gpu.spdm import (
    ATTRIBUTE_SIGNATURE_REQUESTED,
    NONCE_SIZE,
    OPERATION_ALL_MEASUREMENTS,
    SPDM_VERSION_1_1,
    MeasurementResponse,
    OpaqueType,
    SpdmReport,
)

__all__ = ["GpuVerifier", "format_vbios_version"]


@dataclass(frozen=True)
class _Chip:
    architecture: str
    gpu_class: str


_CHIPS = {"GH100": _Chip("HOPPER", "H100")}
_BOARDS = {("GH100", "G520", "0280"): "H200"}
_STATUS_DISABLED = b"\x55"
_FEATURE_CC = {0: "SPT", 1: "MPT"}  # 2 = PPCIE: protected PCIe, the GPU's own CC off
_MAX_INT_FIELD = 8


def format_vbios_version(raw: bytes) -> str:
    """NVIDIA's dotted VBIOS version of the 8-byte opaque value: 009f009601.. is 96.00.9f.00.01."""
    if len(raw) != 8:
        raise SpdmFormatError(f"opaque VBIOS version is {len(raw)} bytes, not 8")
    return f"{raw[3]:02x}.{raw[2]:02x}.{raw[1]:02x}.{raw[0]:02x}.{raw[4]:02x}"


def _text(response: MeasurementResponse, field: int, what: str) -> str:
    raw = response.opaque_value(field)
    if raw is None:
        raise SpdmFormatError(f"SPDM opaque data has no {what}")
    text = raw.rstrip(b"\x00")
    if not text or not all(32 < byte < 127 for byte in text):
        raise SpdmFormatError(f"SPDM opaque {what} is not NUL-padded printable ASCII")
    return text.decode("ascii")


def _int(response: MeasurementResponse, field: int) -> int | None:
    raw = response.opaque_value(field)
    if raw is None:
        return None
    if not 0 < len(raw) <= _MAX_INT_FIELD:
        raise SpdmFormatError(f"SPDM opaque field {field} is {len(raw)} bytes, not 1..8")
    return int.from_bytes(raw, "little")


class GpuVerifier:
    """Verify one GPU's evidence against pinned NVIDIA roots (or the development roots)."""

    def __init__(
        self,
        *,
        device_root_der: bytes = NVIDIA_DEVICE_ROOT_DER,
        rim_root_der: bytes = NVIDIA_RIM_ROOT_DER,
        simulated: bool = False,
    ) -> None:
        if not isinstance(device_root_der, bytes) or not isinstance(rim_root_der, bytes):
            raise TypeError("pinned roots must be DER bytes")
        self._device_root = device_root_der
        self._rim_root = rim_root_der
        self._simulated = bool(simulated)

    def verify(self, evidence: GpuEvidence, *, nonce: bytes, now: int) -> GpuClaims:
        # 1 -- types
        if not isinstance(evidence, GpuEvidence):
            raise GpuEvidenceFormatError("GPU evidence must be a GpuEvidence")
        if not isinstance(nonce, bytes) or len(nonce) != NONCE_SIZE:
            raise GpuEvidenceFormatError(f"the expected GPU nonce must be {NONCE_SIZE} bytes")
        if type(now) is not int or now < 0:
            raise GpuEvidenceFormatError("now must be a non-negative int (Unix seconds)")
        # 2 -- SPDM structure
        report = SpdmReport.parse(evidence.report)
        request, response = report.request, report.response
        if request.version != SPDM_VERSION_1_1 or response.version != SPDM_VERSION_1_1:
            raise SpdmFormatError("SPDM request and response must be version 1.1")
        # 3 -- device chain
        chain = certs.load_pem_chain(evidence.certificates)
        leaf = certs.verify_device_chain(chain, self._device_root, now)
        # 4 -- chip
        chip_name = certs.leaf_chip(leaf)
        chip = _CHIPS.get(chip_name)
        if chip is None:
            raise GpuUnsupportedError(f"GPU chip {chip_name!r} is not a supported Hopper GPU")
        # 5 -- the GPU's signature
        certs.verify_spdm_signature(leaf, report.signed_bytes(), response.signature)
        # 6 -- FWID of the running firmware is the one the leaf certifies
        fwid = response.opaque_value(OpaqueType.FWID)
        if fwid is None or not certs.leaf_has_fwid(leaf, fwid):
            raise GpuFwidMismatchError("the report's FWID is not in the attestation certificate")
        # 7 -- the request the GPU signed carries the CA's nonce
        if (
            request.attributes & ATTRIBUTE_SIGNATURE_REQUESTED == 0
            or request.operation != OPERATION_ALL_MEASUREMENTS
        ):
            raise SpdmFormatError("SPDM request did not ask for all measurements, signed")
        if request.nonce != nonce:
            raise GpuNonceMismatchError("the GPU signed another nonce than the CA's")
        # 8 -- CC mode, from signed opaque data
        driver_version = _text(response, OpaqueType.DRIVER_VERSION, "driver version")
        vbios_raw = response.opaque_value(OpaqueType.VBIOS_VERSION)
        if vbios_raw is None:
            raise SpdmFormatError("SPDM opaque data has no VBIOS version")
        vbios_version = format_vbios_version(vbios_raw)
        self._check_cc_mode(response)
        project = _text(response, OpaqueType.PROJECT, "project").upper()
        project_sku = _text(response, OpaqueType.PROJECT_SKU, "project SKU").upper()
        chip_sku = _text(response, OpaqueType.CHIP_SKU, "chip SKU").upper()
        # 9 -- RIMs
        driver_rim = rim.verify_rim(evidence.driver_rim, self._rim_root, now, what="driver")
        vbios_rim = rim.verify_rim(evidence.vbios_rim, self._rim_root, now, what="VBIOS")
        for manifest, expected, what in (
            (driver_rim, driver_version, "driver"),
            (vbios_rim, vbios_version, "VBIOS"),
        ):
            if manifest.product != chip_name:
                raise RimVersionMismatchError(
                    f"the {what} RIM is for {manifest.product!r}, not {chip_name!r}"
                )
            if manifest.version.lower() != expected.lower():
                raise RimVersionMismatchError(
                    f"the {what} RIM is for version {manifest.version!r}, the GPU runs {expected!r}"
                )
        # 10 -- measurements
        active = self._compare(response, driver_rim, vbios_rim)
        # 11 -- revocation
        responses = ocsp.load_responses(evidence.ocsp)
        checked = ocsp.check_chain_status(chain, responses, now, skip_leaf=True, what="GPU device")
        for manifest, what in ((driver_rim, "driver RIM"), (vbios_rim, "VBIOS RIM")):
            checked += ocsp.check_chain_status(
                manifest.chain, responses, now, skip_leaf=False, what=what
            )
        gpu_class = _BOARDS.get((chip_name, project, project_sku), chip.gpu_class)
        return GpuClaims(
            gpu_class=gpu_class,
            architecture=chip.architecture,
            nonce=request.nonce,
            driver_version=driver_version,
            vbios_version=vbios_version,
            cc_mode=True,
            debug=False,
            simulated=self._simulated,
            details={
                "chip": chip_name,
                "project": project,
                "project_sku": project_sku,
                "chip_sku": chip_sku,
                "ueid": f"{leaf.serial_number:x}",
                "fwid": fwid.hex(),
                "measurements": str(len(response.blocks)),
                "measurements_compared": str(active),
                "ocsp_checked": str(checked),
            },
        )

    @staticmethod
    def _check_cc_mode(response: MeasurementResponse) -> None:
        pcie = response.opaque_value(OpaqueType.PROTECTED_PCIE_STATUS)
        if pcie != _STATUS_DISABLED:
            raise GpuCcModeOffError(
                "the GPU does not report CC mode (protected-PCIe status is "
                f"{pcie.hex() if pcie is not None else 'absent'}, CC mode needs 55)"
            )
        version = _int(response, OpaqueType.OPAQUE_DATA_VERSION)
        if version is not None and version >= 1:
            flag = _int(response, OpaqueType.FEATURE_FLAG)
            if flag not in _FEATURE_CC:
                raise GpuCcModeOffError(f"the GPU's feature flag {flag!r} is not SPT or MPT")

    @staticmethod
    def _compare(
        response: MeasurementResponse,
        driver_rim: rim.ReferenceManifest,
        vbios_rim: rim.ReferenceManifest,
    ) -> int:
        golden: dict[int, rim.RimMeasurement] = {}
        for manifest in (driver_rim, vbios_rim):
            for measurement in manifest.measurements:
                if not measurement.active:
                    continue
                if measurement.index in golden:
                    raise RimFormatError(
                        f"driver and VBIOS RIMs both claim measurement {measurement.index}"
                    )
                golden[measurement.index] = measurement
        if not golden:
            raise RimFormatError("the RIMs have no active measurement")
        for index, measurement in sorted(golden.items()):
            block = response.block(index + 1)
            if block is None or block.value not in measurement.alternatives:
                raise GpuMeasurementMismatchError(
                    f"GPU measurement {index} matches none of its {len(measurement.alternatives)} "
                    "reference values"
                )
        return len(golden)
