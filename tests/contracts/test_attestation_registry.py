"""AttestationRegistry: governance over CA signers and measurements, CA-signed enclave
registration, revocation, and the non-reverting validity view."""

import os

import pytest
from support import (
    CPU,
    GPU,
    MEASUREMENT,
    NONE,
    OTHER_MEASUREMENT,
    SIMULATED,
    TDX,
    as_tuple,
    digest,
    gpu_label,
    new_key,
    reverts,
    sign,
    wallet,
)

ZERO = "0x" + "00" * 20
CA_NONE, CA_ACTIVE, CA_RETIRED, CA_REVOKED = range(4)


@pytest.fixture(scope="module")
def attestation_only(market, gov, ca_key):
    market.attestation.addCaSigner(ca_key.address, {"from": gov})
    market.attestation.allowMeasurement(SIMULATED, MEASUREMENT, {"from": gov})
    market.attestation.allowMeasurement(TDX, MEASUREMENT, {"from": gov})
    return market


@pytest.fixture
def registry(attestation_only):
    return attestation_only.attestation


@pytest.fixture
def enclave(attestation_only, enclave_key, provider):
    attestation_only.certify(enclave_key, provider)
    return enclave_key.address


def certificate(
    enclave_key,
    provider,
    expires_at,
    tee=SIMULATED,
    measurement=MEASUREMENT,
    nonce=None,
    gpu=b"",
    gpu_count=0,
):
    """A certificate message; without a GPU unless `gpu` and `gpu_count` say otherwise."""
    return {
        "enclave": enclave_key.address,
        "teeType": tee,
        "measurement": measurement,
        "provider": provider.address,
        "expiresAt": expires_at,
        "nonce": nonce or os.urandom(32),
        "gpuClass": gpu_label(gpu),
        "gpuCount": gpu_count,
    }


def consent(registry, cert, signer, **changes):
    """`signer`'s EIP-712 consent to the certificate's enclave, provider and nonce (or
    `changes`)."""
    message = {
        "enclave": cert["enclave"],
        "provider": cert["provider"],
        "nonce": cert["nonce"],
        **changes,
    }
    return sign(wallet(signer), "EnclaveConsent", registry, message)


def register(registry, cert, ca_key, consent_signature, sender):
    signature = sign(ca_key, "EnclaveCertificate", registry, cert)
    return registry.registerEnclave(
        as_tuple(cert, "EnclaveCertificate"), signature, consent_signature, {"from": sender}
    )


def test_add_ca_signer_activates_it(registry, gov):
    ca = new_key("second-ca").address
    tx = registry.addCaSigner(ca, {"from": gov})
    assert tx.events["CaSignerAdded"]["ca"] == ca
    assert registry.caStatus(ca) == CA_ACTIVE


def test_add_ca_signer_by_non_governance_reverts(registry, stranger):
    with reverts("OwnableUnauthorizedAccount"):
        registry.addCaSigner(stranger, {"from": stranger})


def test_add_zero_or_known_ca_signer_reverts(registry, gov, ca_key):
    with reverts("AttestationZeroAddress"):
        registry.addCaSigner(ZERO, {"from": gov})
    with reverts("AttestationCaAlreadyKnown"):
        registry.addCaSigner(ca_key.address, {"from": gov})


def test_retired_ca_certifies_nothing_new_but_its_enclaves_stay_valid(
    attestation_only, registry, enclave, gov, ca_key, provider
):
    tx = registry.retireCaSigner(ca_key.address, {"from": gov})
    assert tx.events["CaSignerRetired"]["ca"] == ca_key.address
    assert tuple(registry.checkEnclave(enclave)) == (True, "")
    with reverts("AttestationSignerNotCa"):
        attestation_only.certify(new_key("late-enclave"), provider)
    with reverts("AttestationCaNotActive"):
        registry.retireCaSigner(ca_key.address, {"from": gov})


def test_revoked_ca_invalidates_its_enclaves_for_good(registry, enclave, gov, ca_key):
    tx = registry.revokeCaSigner(ca_key.address, {"from": gov})
    assert tx.events["CaSignerRevoked"]["ca"] == ca_key.address
    assert tuple(registry.checkEnclave(enclave)) == (False, "CA revoked")
    with reverts("AttestationCaNotRevocable"):
        registry.revokeCaSigner(ca_key.address, {"from": gov})
    with reverts("AttestationCaAlreadyKnown"):
        registry.addCaSigner(ca_key.address, {"from": gov})


def test_allow_measurement_adds_it_to_the_allow_list(registry, gov):
    tx = registry.allowMeasurement(TDX, OTHER_MEASUREMENT, {"from": gov})
    assert tx.events["MeasurementAllowed"]["teeType"] == TDX
    assert registry.isMeasurementAllowed(TDX, OTHER_MEASUREMENT)
    assert not registry.isMeasurementAllowed(SIMULATED, OTHER_MEASUREMENT)


def test_allow_measurement_twice_or_without_tee_type_reverts(registry, gov):
    with reverts("AttestationMeasurementAlreadyAllowed"):
        registry.allowMeasurement(TDX, MEASUREMENT, {"from": gov})
    with reverts("AttestationInvalidTeeType"):
        registry.allowMeasurement(NONE, OTHER_MEASUREMENT, {"from": gov})


def test_allow_measurement_by_non_governance_reverts(registry, stranger):
    with reverts("OwnableUnauthorizedAccount"):
        registry.allowMeasurement(TDX, OTHER_MEASUREMENT, {"from": stranger})


def test_production_deployment_refuses_simulated_measurements(AttestationRegistry, gov):
    production = AttestationRegistry.deploy(gov, False, {"from": gov})
    assert not production.simulatedAllowed()
    with reverts("AttestationSimulatedDisabled"):
        production.allowMeasurement(SIMULATED, MEASUREMENT, {"from": gov})
    production.allowMeasurement(TDX, MEASUREMENT, {"from": gov})


def test_production_deployment_refuses_simulated_enclaves(
    AttestationRegistry, gov, ca_key, enclave_key, provider, chain
):
    production = AttestationRegistry.deploy(gov, False, {"from": gov})
    production.addCaSigner(ca_key.address, {"from": gov})
    cert = certificate(enclave_key, provider, chain.time() + 3600)
    with reverts("AttestationSimulatedDisabled"):
        register(production, cert, ca_key, consent(production, cert, provider), gov)


def test_revoke_measurement_invalidates_its_enclaves(registry, enclave, gov):
    tx = registry.revokeMeasurement(SIMULATED, MEASUREMENT, {"from": gov})
    assert tx.events["MeasurementRevoked"]["measurement"] == "0x" + MEASUREMENT.hex()
    assert tuple(registry.checkEnclave(enclave)) == (False, "measurement not allowed")
    with reverts("AttestationMeasurementNotAllowed"):
        registry.revokeMeasurement(SIMULATED, MEASUREMENT, {"from": gov})


def test_register_enclave_records_the_ca_certificate(
    attestation_only, registry, enclave_key, provider, ca_key, stranger, chain
):
    expires_at = chain.time() + 3600
    cert = certificate(enclave_key, provider, expires_at)
    tx = register(registry, cert, ca_key, consent(registry, cert, provider), stranger)
    event = tx.events["EnclaveRegistered"]
    assert event["enclave"] == enclave_key.address and event["ca"] == ca_key.address
    record = registry.getEnclave(enclave_key.address)
    assert record["provider"] == provider and record["teeType"] == SIMULATED
    assert record["expiresAt"] == expires_at and not record["revoked"]
    assert bytes(record["measurement"]) == MEASUREMENT
    assert tuple(registry.checkEnclave(enclave_key.address)) == (True, "")
    assert registry.consentUsed(
        registry.consentDigest(enclave_key.address, provider, cert["nonce"])
    )


# -- the GPUs certified together with the CPU ------------------------------------------------------


def test_an_enclave_registered_without_a_gpu_carries_none(
    registry, enclave_key, provider, ca_key, stranger, chain
):
    cert = certificate(enclave_key, provider, chain.time() + 3600)
    tx = register(registry, cert, ca_key, consent(registry, cert, provider), stranger)
    event = tx.events["EnclaveRegistered"]
    assert bytes(event["gpuClass"]) == bytes(32) and event["gpuCount"] == 0
    record = registry.getEnclave(enclave_key.address)
    assert bytes(record["gpuClass"]) == bytes(32) and record["gpuCount"] == 0


def test_an_enclave_registered_with_gpus_carries_their_class_and_count(
    registry, enclave_key, provider, ca_key, stranger, chain
):
    cert = certificate(enclave_key, provider, chain.time() + 3600, gpu=GPU, gpu_count=8)
    tx = register(registry, cert, ca_key, consent(registry, cert, provider), stranger)
    event = tx.events["EnclaveRegistered"]
    assert bytes(event["gpuClass"]) == gpu_label(GPU) and event["gpuCount"] == 8
    record = registry.getEnclave(enclave_key.address)
    assert bytes(record["gpuClass"]) == gpu_label(GPU) and record["gpuCount"] == 8
    status, viewed = registry.enclaveStatus(enclave_key.address)
    assert status == 0 and bytes(viewed["gpuClass"]) == gpu_label(GPU) and viewed["gpuCount"] == 8
    assert tuple(registry.checkEnclave(enclave_key.address)) == (True, "")


def test_a_renewal_replaces_the_gpus_and_may_drop_them(
    registry, enclave_key, provider, ca_key, gov, chain
):
    first = certificate(enclave_key, provider, chain.time() + 3600, gpu=GPU, gpu_count=2)
    register(registry, first, ca_key, consent(registry, first, provider), gov)
    renewal = certificate(enclave_key, provider, first["expiresAt"] + 60)
    register(registry, renewal, ca_key, consent(registry, renewal, provider), gov)
    record = registry.getEnclave(enclave_key.address)
    assert bytes(record["gpuClass"]) == bytes(32) and record["gpuCount"] == 0


@pytest.mark.parametrize(
    "gpu, gpu_count",
    [(GPU, 0), (b"", 1), (CPU, 1), (CPU, 0)],
    ids=["class-without-count", "count-without-class", "cpu-class", "cpu-class-no-count"],
)
def test_register_with_inconsistent_gpu_fields_reverts(
    registry, enclave_key, provider, ca_key, gov, chain, gpu, gpu_count
):
    """A class without a count, a count without a class, or the offers' "cpu" label: refused."""
    cert = certificate(enclave_key, provider, chain.time() + 3600, gpu=gpu, gpu_count=gpu_count)
    with reverts("AttestationGpuInvalid"):
        register(registry, cert, ca_key, consent(registry, cert, provider), gov)
    assert registry.getEnclave(enclave_key.address)["provider"] == ZERO


def test_the_ca_signs_the_gpu_fields(registry, enclave_key, provider, ca_key, gov, chain):
    """A certificate signed without GPUs cannot be submitted with some added."""
    cert = certificate(enclave_key, provider, chain.time() + 3600)
    signature = sign(ca_key, "EnclaveCertificate", registry, cert)
    forged = {**cert, "gpuClass": gpu_label(GPU), "gpuCount": 1}
    with reverts("AttestationSignerNotCa"):
        registry.registerEnclave(
            as_tuple(forged, "EnclaveCertificate"),
            signature,
            consent(registry, forged, provider),
            {"from": gov},
        )


def test_register_enclave_signed_by_a_non_ca_reverts(registry, enclave_key, provider, gov, chain):
    cert = certificate(enclave_key, provider, chain.time() + 3600)
    with reverts("AttestationSignerNotCa"):
        register(registry, cert, new_key("rogue-ca"), consent(registry, cert, provider), gov)


def test_register_enclave_with_a_tampered_certificate_reverts(
    registry, enclave_key, provider, other_provider, ca_key, gov, chain
):
    cert = certificate(enclave_key, provider, chain.time() + 3600)
    signature = sign(ca_key, "EnclaveCertificate", registry, cert)
    cert["provider"] = other_provider.address
    with reverts("AttestationSignerNotCa"):
        registry.registerEnclave(
            as_tuple(cert, "EnclaveCertificate"),
            signature,
            consent(registry, cert, other_provider),
            {"from": gov},
        )


# -- the provider's own consent, on chain ----------------------------------------------------------


def test_register_enclave_refuses_without_provider_consent(
    registry, enclave_key, provider, ca_key, stranger, chain
):
    """A CA's certificate alone no longer binds an enclave to a provider."""
    cert = certificate(enclave_key, provider, chain.time() + 3600)
    with reverts("AttestationProviderConsentInvalid"):
        register(registry, cert, ca_key, b"", stranger)
    assert registry.getEnclave(enclave_key.address)["provider"] == ZERO


def test_register_enclave_refuses_consent_signed_by_someone_else(
    registry, enclave_key, provider, stranger, ca_key, gov, chain
):
    """The CA (or anyone) signing in the provider's name does not count: only the provider's key."""
    cert = certificate(enclave_key, provider, chain.time() + 3600)
    for forger in (stranger, ca_key):
        with reverts("AttestationProviderConsentInvalid"):
            register(registry, cert, ca_key, consent(registry, cert, forger), gov)


def test_register_enclave_refuses_consent_for_another_enclave(
    registry, enclave_key, provider, ca_key, gov, chain
):
    cert = certificate(enclave_key, provider, chain.time() + 3600)
    other = consent(registry, cert, provider, enclave=new_key("other-enclave").address)
    with reverts("AttestationProviderConsentInvalid"):
        register(registry, cert, ca_key, other, gov)


def test_register_enclave_refuses_consent_for_another_nonce_or_registry(
    AttestationRegistry, registry, enclave_key, provider, ca_key, gov, chain
):
    cert = certificate(enclave_key, provider, chain.time() + 3600)
    elsewhere = AttestationRegistry.deploy(gov, True, {"from": gov})
    for wrong in (
        consent(registry, cert, provider, nonce=os.urandom(32)),
        consent(elsewhere, cert, provider),
    ):
        with reverts("AttestationProviderConsentInvalid"):
            register(registry, cert, ca_key, wrong, gov)


def test_register_enclave_refuses_replayed_consent(
    registry, enclave_key, provider, ca_key, gov, chain
):
    """A consent is for one certification: even a CA-signed renewal cannot reuse it."""
    cert = certificate(enclave_key, provider, chain.time() + 3600)
    signature = consent(registry, cert, provider)
    register(registry, cert, ca_key, signature, gov)
    renewal = {**cert, "expiresAt": cert["expiresAt"] + 600}
    with reverts("AttestationProviderConsentUsed"):
        register(registry, renewal, ca_key, signature, gov)
    renewal["nonce"] = os.urandom(32)
    register(registry, renewal, ca_key, consent(registry, renewal, provider), gov)
    assert registry.getEnclave(enclave_key.address)["expiresAt"] == renewal["expiresAt"]


def test_register_enclave_refuses_rebinding_to_another_provider_without_its_consent(
    attestation_only, registry, enclave, enclave_key, provider, other_provider, ca_key, gov, chain
):
    """The enclave's provider changes only with the new provider's own consent."""
    cert = certificate(enclave_key, other_provider, registry.getEnclave(enclave)["expiresAt"] + 600)
    with reverts("AttestationProviderConsentInvalid"):
        register(registry, cert, ca_key, consent(registry, cert, provider), gov)
    assert registry.getEnclave(enclave)["provider"] == provider


def test_consent_digest_matches_eth_account_typed_data(registry, enclave_key, provider):
    message = {"enclave": enclave_key.address, "provider": provider.address, "nonce": b"\x11" * 32}
    assert bytes(registry.consentDigest(*message.values())) == digest(
        "EnclaveConsent", registry, message
    )


@pytest.mark.parametrize(
    "changes, error",
    [
        ({"expiresAt": 1}, "AttestationCertificateExpired"),
        ({"measurement": OTHER_MEASUREMENT}, "AttestationMeasurementNotAllowed"),
        ({"teeType": NONE}, "AttestationInvalidTeeType"),
        ({"provider": ZERO}, "AttestationZeroAddress"),
        ({"enclave": ZERO}, "AttestationZeroAddress"),
    ],
)
def test_register_invalid_certificate_reverts(
    registry, enclave_key, provider, ca_key, gov, chain, changes, error
):
    cert = certificate(enclave_key, provider, chain.time() + 3600)
    cert.update(changes)
    with reverts(error):
        register(registry, cert, ca_key, consent(registry, cert, provider), gov)


def test_renewal_needs_a_later_expiry(
    attestation_only, registry, enclave, enclave_key, provider, chain
):
    current = registry.getEnclave(enclave)["expiresAt"]
    with reverts("AttestationCertificateStale"):
        attestation_only.certify(enclave_key, provider, expires_at=current)
    attestation_only.certify(enclave_key, provider, expires_at=current + 60)
    assert registry.getEnclave(enclave)["expiresAt"] == current + 60


def test_governance_revokes_an_enclave_for_good(
    attestation_only, registry, enclave, enclave_key, provider, gov
):
    tx = registry.revokeEnclave(enclave, {"from": gov})
    assert tx.events["EnclaveRevoked"]["by"] == gov
    assert tuple(registry.checkEnclave(enclave)) == (False, "enclave revoked")
    with reverts("AttestationEnclaveRevoked"):
        registry.revokeEnclave(enclave, {"from": gov})
    with reverts("AttestationEnclaveRevoked"):
        attestation_only.certify(
            enclave_key, provider, expires_at=registry.getEnclave(enclave)["expiresAt"] + 60
        )


def test_the_certifying_ca_revokes_its_enclave(registry, enclave, ca_key, gov, accounts):
    # The CA key is a local signer; give it an account funded to send the transaction.
    ca_account = accounts.add(ca_key.key.hex())
    gov.transfer(ca_account, 10**17)
    tx = registry.revokeEnclave(enclave, {"from": ca_account})
    assert tx.events["EnclaveRevoked"]["by"] == ca_key.address


def test_revoke_enclave_by_a_stranger_reverts(registry, enclave, stranger):
    with reverts("AttestationUnauthorizedRevoker"):
        registry.revokeEnclave(enclave, {"from": stranger})


def test_revoke_unknown_enclave_reverts(registry, gov, stranger):
    with reverts("AttestationUnknownEnclave"):
        registry.revokeEnclave(stranger, {"from": gov})


def test_check_enclave_reports_unknown_and_expired(registry, enclave, stranger, chain):
    assert tuple(registry.checkEnclave(stranger)) == (False, "unknown enclave")
    chain.sleep(40 * 24 * 3600)
    chain.mine()
    assert tuple(registry.checkEnclave(enclave)) == (False, "certificate expired")
    status, record = registry.enclaveStatus(enclave)
    assert status == 5 and record["provider"] != ZERO


def test_governance_moves_in_two_steps(registry, gov, stranger):
    registry.transferOwnership(stranger, {"from": gov})
    assert registry.owner() == gov
    registry.acceptOwnership({"from": stranger})
    assert registry.owner() == stranger


def test_domain_separator_is_exposed(registry):
    assert len(bytes(registry.DOMAIN_SEPARATOR())) == 32
