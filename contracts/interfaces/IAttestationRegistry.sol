// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {TeeType} from "./EnclavaTypes.sol";

/**
 * @dev The on-chain trust anchor: certification-authority (CA) signer addresses, the allow-list of
 * measurements per TEE type, and the enclave signing keys the CAs certified.
 *
 * Governance (the owner; designed to become a multisig or timelock) manages CAs and measurements.
 * SIMULATED measurements and enclaves exist only on a deployment constructed with
 * `allowSimulated = true`.
 *
 * A CA certifies an enclave off-chain by signing an `EnclaveCertificate`; the provider named in it
 * consents by signing an `EnclaveConsent` for the same enclave and CA challenge nonce; anyone may
 * submit both with {registerEnclave}. EIP-712 domain: name "Enclava AttestationRegistry", version
 * "1", this chain's id, this contract. Types:
 *
 * - `EnclaveCertificate(address enclave,uint8 teeType,bytes32 measurement,address provider,uint64 expiresAt,bytes32 nonce,bytes32 gpuClass,uint8 gpuCount)`
 * - `EnclaveConsent(address enclave,address provider,bytes32 nonce)`
 *
 * `measurement` is a 32-byte digest of the TEE's launch measurement, computed off-chain by the CA
 * (the same digest is allow-listed here and signed into integrity reports). `nonce` is the CA's
 * single-use challenge that the enclave's evidence binds: a consent is for one certification, and
 * each consent registers at most once.
 *
 * `gpuClass` and `gpuCount` are the confidential GPUs the CA verified together with the CPU evidence
 * (their evidence is bound into the CPU report): the class label as TEE offers carry it (ASCII,
 * left-aligned, zero-padded; see {GpuClasses}) and how many. Both zero: certified without a GPU. A
 * class without a count, a count without a class, or the class "cpu" is refused
 * ({AttestationGpuInvalid}). The marketplace settles an order whose TEE offer promises a GPU only
 * with a report of an enclave certified with that class.
 */
interface IAttestationRegistry {
    /// @dev Why an enclave is (in)valid; `VALID` (0) is the only good answer.
    enum EnclaveStatus {
        VALID,
        UNKNOWN,
        REVOKED,
        CA_REVOKED,
        MEASUREMENT_NOT_ALLOWED,
        EXPIRED
    }

    /// @dev A CA signer's state: `RETIRED` certifies nothing new but its enclaves stay valid;
    /// `REVOKED` also invalidates every enclave it certified, and is final.
    enum CaStatus {
        NONE,
        ACTIVE,
        RETIRED,
        REVOKED
    }

    /// @dev What a CA signs to certify an enclave key.
    struct EnclaveCertificate {
        address enclave; // the enclave's signing address
        TeeType teeType;
        bytes32 measurement;
        address provider; // the provider whose machine runs the enclave
        uint64 expiresAt; // unix seconds
        bytes32 nonce; // the CA challenge the enclave's evidence binds; the provider's consent names it too
        bytes32 gpuClass; // the certified GPUs' class label (zero: no GPU)
        uint8 gpuCount; // how many GPUs of that class (zero: no GPU)
    }

    /// @dev A certified enclave, as returned by {IAttestationRegistry-getEnclave}.
    struct Enclave {
        address provider;
        TeeType teeType;
        uint40 expiresAt;
        bool revoked;
        address ca; // the CA signer that certified it
        bytes32 measurement;
        bytes32 gpuClass; // zero: certified without a GPU
        uint8 gpuCount;
    }

    event CaSignerAdded(address indexed ca);
    event CaSignerRetired(address indexed ca);
    event CaSignerRevoked(address indexed ca);
    event MeasurementAllowed(TeeType indexed teeType, bytes32 indexed measurement);
    event MeasurementRevoked(TeeType indexed teeType, bytes32 indexed measurement);
    event EnclaveRegistered(
        address indexed enclave,
        address indexed provider,
        address indexed ca,
        TeeType teeType,
        bytes32 measurement,
        uint256 expiresAt,
        bytes32 gpuClass,
        uint8 gpuCount
    );
    event EnclaveRevoked(address indexed enclave, address indexed by);

    error AttestationZeroAddress();
    error AttestationInvalidTeeType();
    error AttestationSimulatedDisabled();
    error AttestationCaAlreadyKnown(address ca, CaStatus status);
    error AttestationCaNotActive(address ca);
    error AttestationCaNotRevocable(address ca);
    error AttestationMeasurementAlreadyAllowed(TeeType teeType, bytes32 measurement);
    error AttestationMeasurementNotAllowed(TeeType teeType, bytes32 measurement);
    error AttestationSignerNotCa(address signer);
    error AttestationCertificateExpired(uint256 expiresAt);
    error AttestationCertificateStale(uint256 expiresAt, uint256 currentExpiresAt);
    error AttestationUnknownEnclave(address enclave);
    error AttestationEnclaveRevoked(address enclave);
    error AttestationUnauthorizedRevoker(address caller);
    error AttestationProviderConsentInvalid(address signer, address provider);
    error AttestationProviderConsentUsed(bytes32 consentDigest);
    error AttestationGpuInvalid(bytes32 gpuClass, uint8 gpuCount);

    /// @notice Authorises `ca` to certify enclaves. Governance only; a known address cannot be re-added.
    function addCaSigner(address ca) external;

    /// @notice Stops `ca` from certifying new enclaves; its enclaves stay valid. Governance only.
    function retireCaSigner(address ca) external;

    /// @notice Revokes `ca` for good and invalidates every enclave it certified. Governance only.
    function revokeCaSigner(address ca) external;

    /// @notice Adds `measurement` to the allow-list of `teeType`. Governance only.
    function allowMeasurement(TeeType teeType, bytes32 measurement) external;

    /// @notice Removes `measurement` from the allow-list of `teeType`; enclaves and reports with it
    /// become invalid. Governance only.
    function revokeMeasurement(TeeType teeType, bytes32 measurement) external;

    /**
     * @notice Records an enclave key certified by an active CA, with the consent of the provider it
     * names. Anyone may submit.
     * @dev Reverts unless `signature` is an active CA's EIP-712 signature of `cert`,
     * `providerSignature` is `cert.provider`'s EIP-712 `EnclaveConsent` to `cert.enclave` for
     * `cert.nonce` and was never used before, the measurement is allowed, the certificate has not
     * expired, the GPU fields are both zero or a class (not "cpu") with a non-zero count, and the
     * enclave is not revoked. A registered enclave is renewed by a certificate with a later expiry
     * and a fresh consent; the renewal's GPU fields replace the old ones.
     * @param cert the CA's certificate.
     * @param signature the CA signer's EIP-712 signature of `cert`.
     * @param providerSignature the provider's EIP-712 signature of
     * `EnclaveConsent(cert.enclave, cert.provider, cert.nonce)`.
     */
    function registerEnclave(
        EnclaveCertificate calldata cert,
        bytes calldata signature,
        bytes calldata providerSignature
    ) external;

    /// @notice Revokes an enclave key; by governance or by the CA that certified it.
    function revokeEnclave(address enclave) external;

    /// @notice The status of `enclave` and its record; never reverts.
    function enclaveStatus(address enclave) external view returns (EnclaveStatus status, Enclave memory record);

    /// @notice Whether `enclave` is valid now, and if not, why (a short English reason); never reverts.
    function checkEnclave(address enclave) external view returns (bool valid, string memory reason);

    /// @notice The enclave record of `enclave` (all zero when unknown).
    function getEnclave(address enclave) external view returns (Enclave memory);

    /// @notice Whether `measurement` is on the allow-list of `teeType`.
    function isMeasurementAllowed(TeeType teeType, bytes32 measurement) external view returns (bool);

    /// @notice The state of a CA signer address.
    function caStatus(address ca) external view returns (CaStatus);

    /// @notice Whether this deployment accepts SIMULATED measurements and enclaves.
    function simulatedAllowed() external view returns (bool);

    /// @notice The EIP-712 digest a provider signs to consent to `enclave` for the CA challenge `nonce`.
    function consentDigest(address enclave, address provider, bytes32 nonce) external view returns (bytes32);

    /// @notice Whether the consent with EIP-712 digest `digest` has already registered an enclave.
    function consentUsed(bytes32 digest) external view returns (bool);
}
