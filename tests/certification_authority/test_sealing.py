"""The CA's keys are sealed at rest: 0600 files, and only the right sealing key opens them."""

from __future__ import annotations

import stat

import pytest

from certification_authority.errors import SealingError
from certification_authority.sealing import FileSealingKey, load_or_create_keys

DEV_CA_KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"


def test_keys_survive_a_restart_and_files_are_private(tmp_path):
    source = FileSealingKey(tmp_path / "sealing.key")
    first = load_or_create_keys(tmp_path / "ca-keys.sealed", source, signer_key=DEV_CA_KEY)
    second = load_or_create_keys(tmp_path / "ca-keys.sealed", source)
    assert (
        first.signer.address
        == second.signer.address
        == "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
    )
    assert str(first.age_identity.to_public()) == str(second.age_identity.to_public())
    assert first.cert_key.private_numbers() == second.cert_key.private_numbers()
    for name in ("sealing.key", "ca-keys.sealed"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600
    assert DEV_CA_KEY[2:].encode() not in (tmp_path / "ca-keys.sealed").read_bytes()


def test_another_sealing_key_cannot_unseal(tmp_path):
    load_or_create_keys(tmp_path / "ca-keys.sealed", FileSealingKey(tmp_path / "a.key"))
    with pytest.raises(SealingError):
        load_or_create_keys(tmp_path / "ca-keys.sealed", FileSealingKey(tmp_path / "b.key"))


def test_a_tampered_sealed_file_is_refused(tmp_path):
    source = FileSealingKey(tmp_path / "s.key")
    load_or_create_keys(tmp_path / "ca-keys.sealed", source)
    blob = bytearray((tmp_path / "ca-keys.sealed").read_bytes())
    blob[20] ^= 1
    (tmp_path / "ca-keys.sealed").write_bytes(bytes(blob))
    with pytest.raises(SealingError):
        load_or_create_keys(tmp_path / "ca-keys.sealed", source)


def test_the_tls_key_is_sealed_too_and_added_to_keys_sealed_before_it_existed(tmp_path):
    import json

    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    source = FileSealingKey(tmp_path / "sealing.key")
    first = load_or_create_keys(tmp_path / "ca-keys.sealed", source)
    assert (
        first.tls_key.private_numbers()
        == load_or_create_keys(tmp_path / "ca-keys.sealed", source).tls_key.private_numbers()
    )
    aead, blob = AESGCM(source.sealing_key()), (tmp_path / "ca-keys.sealed").read_bytes()
    fields = json.loads(aead.decrypt(blob[:12], blob[12:], b"enclava-ca-sealed-keys-v1"))
    del fields["tls_key"]  # what an older CA sealed
    (tmp_path / "ca-keys.sealed").write_bytes(
        blob[:12]
        + aead.encrypt(blob[:12], json.dumps(fields).encode(), b"enclava-ca-sealed-keys-v1")
    )
    upgraded = load_or_create_keys(tmp_path / "ca-keys.sealed", source)
    assert upgraded.signer.address == first.signer.address
    again = load_or_create_keys(tmp_path / "ca-keys.sealed", source)
    assert (
        again.tls_key.private_numbers() == upgraded.tls_key.private_numbers()
    )  # sealed once, then kept
    assert stat.S_IMODE((tmp_path / "ca-keys.sealed").stat().st_mode) == 0o600
