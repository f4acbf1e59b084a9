"""GPU classes off chain: the one rule for "this TEE offer has a GPU" (the contracts' twin), the
``bytes32`` round trip, the enclave record's GPU fields, and the CA's certificate carrying them."""

from __future__ import annotations

import pytest
from eth_abi.abi import encode
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils.crypto import keccak

from certification_authority.onchain import EnclaveRegistration, certificate_typed_data
from enclava.chain.revert import HINTS, decode_revert
from enclava.chain.types import EnclaveRecord, EnclaveStatus
from enclava.protocol.tee import (
    CPU_GPU_CLASS,
    decode_gpu_class,
    encode_gpu_class,
    offer_requires_gpu,
)

H100 = b"H100".ljust(32, b"\0")
CPU = b"cpu".ljust(32, b"\0")
REGISTRY = "0x" + "ab" * 20


@pytest.mark.parametrize("label", ["", "cpu", b"", bytes(32), CPU, b"cpu"])
def test_an_offer_of_no_class_or_cpu_promises_no_gpu(label):
    assert not offer_requires_gpu(label)


@pytest.mark.parametrize(
    "label", ["H100", "H100-80GB", H100, "CPU", "none", "sim-gpu", b"\0cpu", "cpu ", "\ufffd"]
)
def test_any_other_class_promises_a_gpu(label):
    """Byte for byte as the contract compares: "CPU", "none" or a padded "cpu " are GPU classes
    (that no CA certifies), not the absence of one."""
    assert offer_requires_gpu(label)


def test_a_label_round_trips_through_bytes32():
    for label in ("", CPU_GPU_CLASS, "H100", "B200-192GB", "x" * 32):
        raw = encode_gpu_class(label)
        assert len(raw) == 32 and decode_gpu_class(raw) == label
    assert encode_gpu_class("H100") == H100


@pytest.mark.parametrize("label", ["x" * 33, "H100\0", "Ħ100"])
def test_a_label_the_chain_would_change_is_refused(label):
    with pytest.raises(ValueError):
        encode_gpu_class(label)


def test_decoding_needs_32_bytes_and_never_yields_a_certifiable_label_from_junk():
    with pytest.raises(ValueError):
        decode_gpu_class(b"H100")
    junk = decode_gpu_class(b"\xffH100".ljust(32, b"\0"))
    assert junk == "\ufffdH100" and offer_requires_gpu(junk)


def test_the_enclave_record_decodes_its_gpus():
    provider, ca = "0x" + "11" * 20, "0x" + "22" * 20
    record = EnclaveRecord.from_abi(
        "0x" + "33" * 20, (provider, 3, 1_900_000_000, False, ca, b"\xaa" * 32, H100, 8)
    )
    assert (record.gpu_class, record.gpu_count, record.has_gpu) == ("H100", 8, True)
    assert record.registered and record.tee_type == 3 and record.measurement == b"\xaa" * 32
    none = EnclaveRecord.from_abi(
        "0x" + "33" * 20, ("0x" + "00" * 20, 0, 0, False, "0x" + "00" * 20, bytes(32), bytes(32), 0)
    )
    assert (none.gpu_class, none.gpu_count, none.has_gpu, none.registered) == ("", 0, False, False)
    with pytest.raises(ValueError):
        EnclaveRecord.from_abi("0x" + "33" * 20, (provider, 3, 1, False, ca, b"\xaa" * 32))
    assert EnclaveStatus(5) is EnclaveStatus.EXPIRED


def _registration(gpu_class: str = "", gpu_count: int = 0) -> EnclaveRegistration:
    return EnclaveRegistration(
        "0x" + "33" * 20,
        3,
        b"\xaa" * 32,
        "0x" + "11" * 20,
        1_900_000_000,
        b"\x05" * 32,
        gpu_class=gpu_class,
        gpu_count=gpu_count,
    )


def test_a_registration_without_gpus_keeps_its_old_call_shape():
    reg = _registration()
    assert (reg.gpu_class, reg.gpu_count, reg.gpu_class_bytes) == ("", 0, bytes(32))
    message = certificate_typed_data(reg, chain_id=31337, registry=REGISTRY)["message"]
    assert message["gpuClass"] == bytes(32) and message["gpuCount"] == 0


def test_the_ca_signs_the_gpus_into_the_certificate():
    """The signed message carries the class as bytes32 and the count; changing either changes
    what the CA signed (so the registry recovers another signer, as the contract tests show)."""
    ca = Account.from_key(keccak(text="gpu-classes-ca"))
    reg = _registration(gpu_class="H100", gpu_count=8)
    typed = certificate_typed_data(reg, chain_id=31337, registry=REGISTRY)
    assert typed["message"]["gpuClass"] == H100 and typed["message"]["gpuCount"] == 8
    assert [f["name"] for f in typed["types"]["EnclaveCertificate"]][-2:] == [
        "gpuClass",
        "gpuCount",
    ]
    signed = ca.sign_message(encode_typed_data(full_message=typed)).signature
    other = certificate_typed_data(
        _registration(gpu_class="H100", gpu_count=1), chain_id=31337, registry=REGISTRY
    )
    assert ca.sign_message(encode_typed_data(full_message=other)).signature != signed


@pytest.mark.parametrize(
    "gpu_class, gpu_count",
    [("H100", 0), ("", 1), ("cpu", 1), ("H100", 256), ("x" * 33, 1)],
    ids=["class-without-count", "count-without-class", "cpu", "count-over-a-byte", "too-long"],
)
def test_a_registration_the_registry_would_refuse_is_refused_first(gpu_class, gpu_count):
    with pytest.raises(ValueError):
        _registration(gpu_class, gpu_count)


def test_the_gpu_mismatch_revert_decodes_with_both_classes():
    selector = keccak(text="MarketplaceEnclaveGpuMismatch(bytes32,bytes32)")[:4]
    decoded = decode_revert(selector + encode(["bytes32", "bytes32"], [H100, bytes(32)]))
    assert decoded is not None and decoded.name == "MarketplaceEnclaveGpuMismatch"
    assert decoded.args == {"offered": H100, "certified": bytes(32)}
    assert decoded.hint == HINTS["MarketplaceEnclaveGpuMismatch"]
    selector = keccak(text="AttestationGpuInvalid(bytes32,uint8)")[:4]
    invalid = decode_revert(selector + encode(["bytes32", "uint8"], [CPU, 1]))
    assert invalid is not None and invalid.args == {"gpuClass": CPU, "gpuCount": 1}
