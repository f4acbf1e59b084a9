"""configfs-tsm producers against a fake kernel on a tmp folder (the one place a fake is allowed).

The fake does what the kernel does on configfs: mkdir populates the entry's attributes, writing
inblob bumps ``generation`` and prepares ``outblob``/``auxblob``, rmdir drops the entry. The TDX
outblob is a real-format quote from the simulated attester, so what the producer returns is
checked by dcap-qvl itself.
"""

from __future__ import annotations

import errno
import json
import struct
import uuid
from collections.abc import Callable
from pathlib import Path

import dcap_qvl
import pytest
from cryptography.hazmat.primitives import serialization

from enclava.attestation import (
    AttesterError,
    ConfigfsSevSnpAttester,
    ConfigfsTdxAttester,
    ConfigfsTsm,
    PccsCollateralSource,
    SimulatedTdxAttester,
    TsmFs,
    TsmGenerationError,
    TsmUnavailableError,
    development_root_der,
    load_amd_certificates,
    snp_chain_from_cert_table,
)
from enclava.protocol.tee import TeeType

VECTORS = Path(__file__).resolve().parents[1] / "fixtures" / "attestation"
SIMULATED = SimulatedTdxAttester(bytes(48))
ISSUED_AT = 1_790_000_000
GUIDS = {
    "vcek": "63da758d-e664-4564-adc5-f4b93be8accd",
    "ask": "4ab7b379-bbac-4fe4-a02f-05aef327c782",
    "ark": "c0b406a4-a803-4952-9743-3fb6014cd0ae",
}


def _vector_certs() -> dict[str, bytes]:
    (vcek,) = load_amd_certificates((VECTORS / "sev-snp" / "vcek.der").read_bytes(), der=True)
    ask, ark = load_amd_certificates((VECTORS / "sev-snp" / "ask_ark_milan.pem").read_bytes())
    return {
        name: cert.public_bytes(serialization.Encoding.DER)
        for name, cert in (("vcek", vcek), ("ask", ask), ("ark", ark))
    }


def cert_table(certs: dict[str, bytes]) -> bytes:
    """The GHCB extended-report certificate table: (GUID, offset, length) entries, a zero entry,
    blobs."""
    offset, entries, blobs = 24 * (len(certs) + 1), b"", b""
    for name, der in certs.items():
        entries += uuid.UUID(GUIDS[name]).bytes_le + struct.pack(
            "<II", offset + len(blobs), len(der)
        )
        blobs += der
    return entries + bytes(24) + blobs


class FakeTsmKernel(TsmFs):
    def __init__(
        self,
        provider: str,
        make_blobs: Callable[[bytes], tuple[bytes, bytes]],
        *,
        races: int = 0,
        fail_outblob: bool = False,
    ) -> None:
        self.provider, self._make_blobs, self._races, self._fail = (
            provider,
            make_blobs,
            races,
            fail_outblob,
        )
        self.inblobs: list[bytes] = []
        self.privlevels: list[bytes] = []
        self.entries_made = 0

    def mkdir(self, path: Path) -> None:
        super().mkdir(path)
        self.entries_made += 1
        for name, value in (
            ("provider", self.provider + "\n"),
            ("generation", "0\n"),
            ("inblob", ""),
            ("outblob", ""),
            ("auxblob", ""),
        ):
            (path / name).write_text(value)

    def rmdir(self, path: Path) -> None:
        for child in path.iterdir():
            child.unlink()
        super().rmdir(path)

    def write(self, path: Path, data: bytes) -> None:
        super().write(path, data)
        if path.name == "privlevel":
            self.privlevels.append(data)
        if path.name == "inblob":
            self.inblobs.append(data)
            self._bump(path.parent)
            outblob, auxblob = self._make_blobs(data)
            (path.parent / "outblob").write_bytes(outblob)
            (path.parent / "auxblob").write_bytes(auxblob)

    def read(self, path: Path) -> bytes:
        if path.name == "outblob":
            if self._fail:
                raise OSError(errno.EIO, "Input/output error")
            if self._races:  # another writer touches the entry while we read
                self._races -= 1
                self._bump(path.parent)
        return super().read(path)

    @staticmethod
    def _bump(entry: Path) -> None:
        generation = entry / "generation"
        generation.write_text(f"{int(generation.read_text()) + 1}\n")


def _tdx_kernel(**kwargs) -> FakeTsmKernel:
    return FakeTsmKernel(
        "tdx_guest", lambda inblob: (SIMULATED.quote(inblob) + bytes(70), b""), **kwargs
    )


def _snp_kernel(auxblob: bytes | None = None, **kwargs) -> FakeTsmKernel:
    report = (VECTORS / "sev-snp" / "attestation.bin").read_bytes()
    aux = cert_table(_vector_certs()) if auxblob is None else auxblob
    return FakeTsmKernel("sev_guest", lambda inblob: (report, aux), **kwargs)


@pytest.fixture
def root(tmp_path) -> Path:
    path = tmp_path / "config" / "tsm" / "report"
    path.mkdir(parents=True)
    return path


def _tdx_attester(root: Path, kernel: FakeTsmKernel, **kwargs) -> ConfigfsTdxAttester:
    return ConfigfsTdxAttester(
        lambda quote: SIMULATED.collateral(issued_at=ISSUED_AT),
        tsm=ConfigfsTsm(root=root, fs=kernel, **kwargs),
    )


def test_tdx_attester_returns_the_kernels_quote_with_collateral(root):
    kernel = _tdx_kernel()
    report_data = bytes(range(64))

    evidence = _tdx_attester(root, kernel).attest(report_data)

    assert evidence.tee_type is TeeType.TDX and kernel.inblobs == [report_data]
    collateral = dcap_qvl.QuoteCollateralV3.from_json(evidence.collateral.decode())
    verified = dcap_qvl.verify_with_root_ca(
        evidence.quote, collateral, development_root_der(), ISSUED_AT + 1
    )
    assert json.loads(verified.to_json())["report"]["TD10"]["report_data"] == report_data.hex()
    assert list(root.iterdir()) == []  # the entry was removed


def test_generation_race_is_retried_on_a_fresh_entry(root):
    kernel = _tdx_kernel(races=1)
    _tdx_attester(root, kernel).attest(bytes(64))
    assert kernel.entries_made == 2 and list(root.iterdir()) == []


def test_persistent_generation_race_fails_typed(root):
    kernel = _tdx_kernel(races=99)
    with pytest.raises(TsmGenerationError):
        _tdx_attester(root, kernel, max_attempts=3).attest(bytes(64))
    assert kernel.entries_made == 3 and list(root.iterdir()) == []


def test_missing_configfs_is_unavailable(tmp_path):
    with pytest.raises(TsmUnavailableError):
        _tdx_attester(tmp_path / "absent", _tdx_kernel()).attest(bytes(64))


def test_permission_denied_is_unavailable_with_a_hint(root):
    class Denied(FakeTsmKernel):
        def mkdir(self, path: Path) -> None:
            raise PermissionError(errno.EACCES, "Permission denied")

    with pytest.raises(TsmUnavailableError) as caught:
        _tdx_attester(root, Denied("tdx_guest", lambda _: (b"", b""))).attest(bytes(64))
    assert "root" in caught.value.hint


def test_provider_of_another_tee_is_refused(root):
    with pytest.raises(AttesterError, match="sev_guest"):
        _tdx_attester(root, _snp_kernel()).attest(bytes(64))
    assert list(root.iterdir()) == []


def test_kernel_io_error_fails_typed_and_cleans_up(root):
    with pytest.raises(AttesterError, match="Input/output error"):
        _tdx_attester(root, _tdx_kernel(fail_outblob=True)).attest(bytes(64))
    assert list(root.iterdir()) == []


@pytest.mark.parametrize("inblob", [b"", bytes(65), "x" * 64])
def test_inblob_must_be_1_to_64_bytes(root, inblob):
    with pytest.raises(AttesterError):
        _tdx_attester(root, _tdx_kernel()).attest(inblob)


def test_snp_attester_takes_the_chain_from_the_hosts_certificate_table(root):
    kernel = _snp_kernel()
    evidence = ConfigfsSevSnpAttester(tsm=ConfigfsTsm(root=root, fs=kernel), privlevel=0).attest(
        bytes(64)
    )

    assert evidence.tee_type is TeeType.SEV_SNP and kernel.privlevels == [b"0"]
    assert evidence.quote == (VECTORS / "sev-snp" / "attestation.bin").read_bytes()
    chain = [
        c.public_bytes(serialization.Encoding.DER)
        for c in load_amd_certificates(evidence.collateral)
    ]
    assert chain == list(_vector_certs().values())  # VCEK, ASK, ARK


def test_snp_attester_falls_back_to_the_configured_chain(root):
    fallback = b"-----BEGIN CERTIFICATE-----\n...configured...\n"
    evidence = ConfigfsSevSnpAttester(
        cert_chain_pem=fallback, tsm=ConfigfsTsm(root=root, fs=_snp_kernel(b""))
    ).attest(bytes(64))
    assert evidence.collateral == fallback


def test_snp_attester_without_any_chain_fails_typed(root):
    with pytest.raises(AttesterError, match="no VCEK chain"):
        ConfigfsSevSnpAttester(tsm=ConfigfsTsm(root=root, fs=_snp_kernel(b""))).attest(bytes(64))


@pytest.mark.parametrize(
    "table",
    [
        lambda certs: cert_table({k: v for k, v in certs.items() if k != "ark"}),
        lambda certs: cert_table(certs)[:200],  # entries point past the end
        lambda certs: cert_table({**certs, "vcek": b"not DER"}),
    ],
)
def test_malformed_certificate_table_fails_typed(table):
    with pytest.raises(AttesterError):
        snp_chain_from_cert_table(table(_vector_certs()))


def test_unreachable_pccs_fails_typed():
    quote = (VECTORS / "tdx" / "tdx_quote").read_bytes()
    with pytest.raises(AttesterError, match="could not fetch TDX collateral"):
        PccsCollateralSource("http://127.0.0.1:9")(quote)
