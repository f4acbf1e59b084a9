"""The loader's GPU side (unit tests of trusted_loader.enclave, .checks, .main and .settings with
stand-ins for the CA, the attester and the collector): the GPUs sign the CA nonce, their digest
joins the CPU report's binding, the evidence carries both, the credential keeps the certified GPU,
an order whose offer promises a GPU the certificate lacks is refused, and LOADER_GPU is checked."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.x509 import load_pem_x509_csr
from pydantic import ValidationError

from enclava.attestation import Evidence, bind_report_data
from enclava.attestation.gpu.evidence import GpuEvidence, gpu_evidence_digest
from enclava.errors import ConfigError
from enclava.protocol.engine.reasons import Reason
from enclava.protocol.tee import TeeType
from trusted_loader.checks import EnclaveGpuMismatch, guard_enclave_has_offer_gpu
from trusted_loader.enclave import EnclaveIdentity
from trusted_loader.errors import reason_code_of
from trusted_loader.main import _gpu_collector
from trusted_loader.settings import LoaderSettings

NONCE = "ab" * 32
PROVIDER = "0x" + "11" * 20


class _Ca:
    def __init__(self, gpu: dict[str, Any]) -> None:
        self.gpu, self.bodies = gpu, []

    def challenge(self) -> str:
        return NONCE

    def certify(self, body: dict[str, Any]) -> dict[str, Any]:
        self.bodies.append(body)
        return {
            "certificate_pem": "-----BEGIN CERTIFICATE-----",
            "tee_type": int(TeeType.SIMULATED),
            "measurement_digest": "0x" + "22" * 32,
            "expires_at": 2**40,
            "simulated": True,
            **self.gpu,
        }


class _Attester:
    tee_type = TeeType.SIMULATED

    def __init__(self) -> None:
        self.report_data: list[bytes] = []

    def attest(self, report_data: bytes) -> Evidence:
        self.report_data.append(report_data)
        return Evidence(TeeType.SIMULATED, b"quote:" + report_data, b"collateral")


class _Collector:
    def __init__(self) -> None:
        self.nonces: list[bytes] = []

    def collect(self, nonce: bytes) -> tuple[GpuEvidence, ...]:
        self.nonces.append(nonce)
        return (
            GpuEvidence(
                report=b"spdm:" + nonce,
                certificates=b"chain",
                driver_rim=b"<driver/>",
                vbios_rim=b"<vbios/>",
                ocsp=(b"ocsp",),
            ),
        )


def _spki(body: dict[str, Any]) -> bytes:
    csr = load_pem_x509_csr(body["csr_pem"].encode())
    return csr.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def test_the_gpus_sign_the_ca_nonce_and_their_digest_joins_the_binding():
    ca, attester, collector = _Ca({"gpu_class": "H100", "gpu_count": 1}), _Attester(), _Collector()
    identity = EnclaveIdentity(ca, attester, provider=PROVIDER, gpu_collector=collector)
    _, nonce = identity.begin()
    credential = identity.finish(nonce, "0xconsent")
    assert collector.nonces == [bytes.fromhex(NONCE)]
    (body,) = ca.bodies
    sent = Evidence.from_dict(body["evidence"])
    gpus = collector.collect(bytes.fromhex(NONCE))
    assert sent.gpus == gpus
    assert attester.report_data == [
        bind_report_data(bytes.fromhex(NONCE), _spki(body), gpu_evidence_digest(gpus))
    ]
    assert (credential.gpu_class, credential.gpu_count) == ("H100", 1)


def test_without_a_collector_the_binding_and_evidence_are_cpu_only():
    ca, attester = _Ca({}), _Attester()
    identity = EnclaveIdentity(ca, attester, provider=PROVIDER)
    credential = identity.finish(identity.begin()[1], "0xconsent")
    (body,) = ca.bodies
    assert "gpus" not in body["evidence"]
    assert attester.report_data == [bind_report_data(bytes.fromhex(NONCE), _spki(body))]
    assert (credential.gpu_class, credential.gpu_count) == ("", 0)


ORDER = SimpleNamespace(order_id="0x" + "cd" * 32)


@pytest.mark.parametrize(
    ("offer", "gpu_class", "gpu_count", "refused"),
    [
        ("cpu", "", 0, False),
        ("", "", 0, False),
        ("cpu", "H100", 1, False),  # a GPU enclave may serve a CPU offer
        ("H100", "H100", 2, False),
        ("H100", "", 0, True),
        ("H100", "H200", 1, True),
        ("H100", "H100", 0, True),
        ("none", "", 0, True),  # any label but "" and "cpu" promises a GPU
    ],
)
def test_an_offer_gpu_the_certificate_lacks_refuses_the_order(offer, gpu_class, gpu_count, refused):
    def check() -> None:
        guard_enclave_has_offer_gpu(
            ORDER, offer_gpu_class=offer, gpu_class=gpu_class, gpu_count=gpu_count
        )

    if not refused:
        check()
        return
    with pytest.raises(EnclaveGpuMismatch) as info:
        check()
    assert info.value.code == "enclave_gpu_mismatch"
    assert reason_code_of(info.value) == int(Reason.ENCLAVE_GPU_MISMATCH) == 17


def _settings(**values) -> LoaderSettings:
    base = dict(
        socket="/tmp/loader.sock",
        provider=PROVIDER,
        ipfs_api="http://127.0.0.1:5001",
        ca_url="https://127.0.0.1:8443",
        rpc_url="http://127.0.0.1:8545",
        chain_id=31337,
    )
    return LoaderSettings(**{**base, **values})


def test_loader_gpu_defaults_to_none_and_simulated_needs_the_insecure_simulated_tee():
    assert _gpu_collector(_settings()) is None
    for values in (
        {"gpu": "simulated"},
        {"gpu": "simulated", "insecure_allow_simulated_tee": True, "tee": "tdx"},
        {"gpu": "simulated", "tee": "simulated"},
    ):
        with pytest.raises(ConfigError, match="LOADER_GPU=simulated"):
            _gpu_collector(_settings(**values))


@pytest.mark.parametrize("values", [{"gpu": "cuda"}, {"simulated_gpu_class": "H 100"}])
def test_loader_gpu_settings_are_validated(values):
    with pytest.raises(ValidationError):
        _settings(**values)


def test_a_simulated_gpu_class_the_simulator_lacks_is_a_config_error():
    values = {"gpu": "simulated", "insecure_allow_simulated_tee": True, "tee": "simulated"}
    assert _gpu_collector(_settings(**values)) is not None  # H100 is simulated
    with pytest.raises(ConfigError, match="LOADER_SIMULATED_GPU_CLASS='B200'") as info:
        _gpu_collector(_settings(**values, simulated_gpu_class="B200"))
    assert "H100" in (info.value.hint or "")
