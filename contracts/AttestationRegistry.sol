// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

import {GpuClasses, TeeType} from "./interfaces/EnclavaTypes.sol";
import {IAttestationRegistry} from "./interfaces/IAttestationRegistry.sol";

/**
 * @title AttestationRegistry
 * @notice CA signers, measurement allow-lists and CA-certified enclave keys. Holds no funds.
 * @dev Governance is the owner (two-step transfer, so it can move to a multisig or timelock safely).
 * Enclaves are stored in a layout of their own ({StoredEnclave}) so that a CPU-only enclave uses
 * no more storage than before GPUs were recorded: the GPU count packs into the first slot, and the
 * GPU class slot is written and read only for an enclave that has (or had) GPUs.
 */
contract AttestationRegistry is IAttestationRegistry, Ownable2Step, EIP712 {
    bytes32 private constant _CERTIFICATE_TYPEHASH = keccak256(
        "EnclaveCertificate(address enclave,uint8 teeType,bytes32 measurement,address provider,uint64 expiresAt,bytes32 nonce,bytes32 gpuClass,uint8 gpuCount)"
    );
    bytes32 private constant _CONSENT_TYPEHASH =
        keccak256("EnclaveConsent(address enclave,address provider,bytes32 nonce)");

    /// @dev An enclave as stored. Invariant: `gpuCount == 0` implies `gpuClass == 0`, so the class is
    /// read only when the count (in the first slot, already loaded) is non-zero.
    struct StoredEnclave {
        address provider;
        TeeType teeType;
        uint40 expiresAt;
        bool revoked;
        uint8 gpuCount;
        address ca;
        bytes32 measurement;
        bytes32 gpuClass;
    }

    bool private immutable _allowSimulated;

    mapping(address ca => CaStatus) private _caStatus;
    mapping(TeeType teeType => mapping(bytes32 measurement => bool)) private _allowed;
    mapping(address enclave => StoredEnclave) private _enclaves;
    mapping(bytes32 consentDigest => bool) private _consentUsed;

    /**
     * @param governance the owner that manages CAs and measurements.
     * @param allowSimulated_ whether SIMULATED measurements may be allowed (development deployments only).
     */
    constructor(address governance, bool allowSimulated_)
        Ownable(governance)
        EIP712("Enclava AttestationRegistry", "1")
    {
        _allowSimulated = allowSimulated_;
    }

    // ----------------------------------------------------------------------------- CAs

    /// @inheritdoc IAttestationRegistry
    function addCaSigner(address ca) external onlyOwner {
        if (ca == address(0)) revert AttestationZeroAddress();
        CaStatus status = _caStatus[ca];
        if (status != CaStatus.NONE) revert AttestationCaAlreadyKnown(ca, status);
        _caStatus[ca] = CaStatus.ACTIVE;
        emit CaSignerAdded(ca);
    }

    /// @inheritdoc IAttestationRegistry
    function retireCaSigner(address ca) external onlyOwner {
        if (_caStatus[ca] != CaStatus.ACTIVE) revert AttestationCaNotActive(ca);
        _caStatus[ca] = CaStatus.RETIRED;
        emit CaSignerRetired(ca);
    }

    /// @inheritdoc IAttestationRegistry
    function revokeCaSigner(address ca) external onlyOwner {
        CaStatus status = _caStatus[ca];
        if (status != CaStatus.ACTIVE && status != CaStatus.RETIRED) revert AttestationCaNotRevocable(ca);
        _caStatus[ca] = CaStatus.REVOKED;
        emit CaSignerRevoked(ca);
    }

    // --------------------------------------------------------------------- measurements

    /// @inheritdoc IAttestationRegistry
    function allowMeasurement(TeeType teeType, bytes32 measurement) external onlyOwner {
        _requireTeeType(teeType);
        if (_allowed[teeType][measurement]) revert AttestationMeasurementAlreadyAllowed(teeType, measurement);
        _allowed[teeType][measurement] = true;
        emit MeasurementAllowed(teeType, measurement);
    }

    /// @inheritdoc IAttestationRegistry
    function revokeMeasurement(TeeType teeType, bytes32 measurement) external onlyOwner {
        if (!_allowed[teeType][measurement]) revert AttestationMeasurementNotAllowed(teeType, measurement);
        _allowed[teeType][measurement] = false;
        emit MeasurementRevoked(teeType, measurement);
    }

    // -------------------------------------------------------------------------- enclaves

    /// @inheritdoc IAttestationRegistry
    function registerEnclave(
        EnclaveCertificate calldata cert,
        bytes calldata signature,
        bytes calldata providerSignature
    ) external {
        if (cert.enclave == address(0) || cert.provider == address(0)) revert AttestationZeroAddress();
        _requireTeeType(cert.teeType);
        _requireGpu(cert.gpuClass, cert.gpuCount);
        // solhint-disable-next-line not-rely-on-time
        if (cert.expiresAt <= block.timestamp) revert AttestationCertificateExpired(cert.expiresAt);
        if (!_allowed[cert.teeType][cert.measurement]) {
            revert AttestationMeasurementNotAllowed(cert.teeType, cert.measurement);
        }
        address signer = _recoverCertificateSigner(cert, signature);
        if (_caStatus[signer] != CaStatus.ACTIVE) revert AttestationSignerNotCa(signer);
        bytes32 consent = _consentDigest(cert.enclave, cert.provider, cert.nonce);
        address consenter = _recover(consent, providerSignature);
        if (consenter != cert.provider) revert AttestationProviderConsentInvalid(consenter, cert.provider);
        if (_consentUsed[consent]) revert AttestationProviderConsentUsed(consent);

        StoredEnclave storage e = _enclaves[cert.enclave];
        if (e.revoked) revert AttestationEnclaveRevoked(cert.enclave);
        if (cert.expiresAt <= e.expiresAt) revert AttestationCertificateStale(cert.expiresAt, e.expiresAt);

        _consentUsed[consent] = true;
        _store(e, cert, signer);
    }

    /// @inheritdoc IAttestationRegistry
    function revokeEnclave(address enclave) external {
        StoredEnclave storage e = _enclaves[enclave];
        if (e.provider == address(0)) revert AttestationUnknownEnclave(enclave);
        if (msg.sender != owner() && !(msg.sender == e.ca && _caStatus[msg.sender] == CaStatus.ACTIVE)) {
            revert AttestationUnauthorizedRevoker(msg.sender);
        }
        if (e.revoked) revert AttestationEnclaveRevoked(enclave);
        e.revoked = true;
        emit EnclaveRevoked(enclave, msg.sender);
    }

    // ----------------------------------------------------------------------------- views

    /// @inheritdoc IAttestationRegistry
    function enclaveStatus(address enclave) public view returns (EnclaveStatus status, Enclave memory record) {
        record = _record(enclave);
        if (record.provider == address(0)) return (EnclaveStatus.UNKNOWN, record);
        if (record.revoked) return (EnclaveStatus.REVOKED, record);
        if (_caStatus[record.ca] == CaStatus.REVOKED) return (EnclaveStatus.CA_REVOKED, record);
        if (!_allowed[record.teeType][record.measurement]) return (EnclaveStatus.MEASUREMENT_NOT_ALLOWED, record);
        // solhint-disable-next-line not-rely-on-time
        if (record.expiresAt <= block.timestamp) return (EnclaveStatus.EXPIRED, record);
        return (EnclaveStatus.VALID, record);
    }

    /// @inheritdoc IAttestationRegistry
    function checkEnclave(address enclave) external view returns (bool valid, string memory reason) {
        (EnclaveStatus status,) = enclaveStatus(enclave);
        if (status == EnclaveStatus.VALID) return (true, "");
        if (status == EnclaveStatus.UNKNOWN) return (false, "unknown enclave");
        if (status == EnclaveStatus.REVOKED) return (false, "enclave revoked");
        if (status == EnclaveStatus.CA_REVOKED) return (false, "CA revoked");
        if (status == EnclaveStatus.MEASUREMENT_NOT_ALLOWED) return (false, "measurement not allowed");
        return (false, "certificate expired");
    }

    /// @inheritdoc IAttestationRegistry
    function getEnclave(address enclave) external view returns (Enclave memory) {
        return _record(enclave);
    }

    /// @inheritdoc IAttestationRegistry
    function isMeasurementAllowed(TeeType teeType, bytes32 measurement) external view returns (bool) {
        return _allowed[teeType][measurement];
    }

    /// @inheritdoc IAttestationRegistry
    function caStatus(address ca) external view returns (CaStatus) {
        return _caStatus[ca];
    }

    /// @inheritdoc IAttestationRegistry
    function simulatedAllowed() external view returns (bool) {
        return _allowSimulated;
    }

    /// @inheritdoc IAttestationRegistry
    function consentDigest(address enclave, address provider, bytes32 nonce) external view returns (bytes32) {
        return _consentDigest(enclave, provider, nonce);
    }

    /// @inheritdoc IAttestationRegistry
    function consentUsed(bytes32 digest) external view returns (bool) {
        return _consentUsed[digest];
    }

    /// @notice The EIP-712 domain separator of this contract.
    // solhint-disable-next-line func-name-mixedcase
    function DOMAIN_SEPARATOR() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    // -------------------------------------------------------------------------- internal

    function _requireTeeType(TeeType teeType) private view {
        if (teeType == TeeType.NONE) revert AttestationInvalidTeeType();
        if (teeType == TeeType.SIMULATED && !_allowSimulated) revert AttestationSimulatedDisabled();
    }

    /// @dev Writes the checked certificate `cert`, signed by `ca`, into `e` and announces it.
    function _store(StoredEnclave storage e, EnclaveCertificate calldata cert, address ca) private {
        e.provider = cert.provider;
        e.teeType = cert.teeType;
        e.expiresAt = SafeCast.toUint40(cert.expiresAt);
        e.ca = ca;
        e.measurement = cert.measurement;
        // A renewal without GPUs clears the class of one with GPUs; CPU-only stays off that slot.
        if (cert.gpuCount != 0 || e.gpuCount != 0) e.gpuClass = cert.gpuClass;
        e.gpuCount = cert.gpuCount;
        emit EnclaveRegistered(
            cert.enclave,
            cert.provider,
            ca,
            cert.teeType,
            cert.measurement,
            cert.expiresAt,
            cert.gpuClass,
            cert.gpuCount
        );
    }

    /// @dev Both GPU fields zero (no GPU), or a class other than "cpu" with a non-zero count.
    function _requireGpu(bytes32 gpuClass, uint8 gpuCount) private pure {
        if ((gpuClass == bytes32(0)) != (gpuCount == 0) || gpuClass == GpuClasses.CPU) {
            revert AttestationGpuInvalid(gpuClass, gpuCount);
        }
    }

    /// @dev The public record of `enclave` (all zero when unknown).
    function _record(address enclave) private view returns (Enclave memory record) {
        StoredEnclave storage e = _enclaves[enclave];
        record.provider = e.provider;
        record.teeType = e.teeType;
        record.expiresAt = e.expiresAt;
        record.revoked = e.revoked;
        record.ca = e.ca;
        record.measurement = e.measurement;
        record.gpuCount = e.gpuCount;
        if (record.gpuCount != 0) record.gpuClass = e.gpuClass;
    }

    function _recoverCertificateSigner(EnclaveCertificate calldata cert, bytes calldata signature)
        private
        view
        returns (address signer)
    {
        bytes32 structHash = keccak256(
            abi.encode(
                _CERTIFICATE_TYPEHASH,
                cert.enclave,
                uint8(cert.teeType),
                cert.measurement,
                cert.provider,
                cert.expiresAt,
                cert.nonce,
                cert.gpuClass,
                cert.gpuCount
            )
        );
        return _recover(_hashTypedDataV4(structHash), signature);
    }

    function _consentDigest(address enclave, address provider, bytes32 nonce) private view returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(_CONSENT_TYPEHASH, enclave, provider, nonce)));
    }

    /// @dev The signer of `digest`, or the zero address for a malformed signature. Zero is never an
    /// active CA, and never a provider (registration refuses a zero provider first), so the error
    /// values add nothing to the callers' checks (unused-return).
    function _recover(bytes32 digest, bytes calldata signature) private pure returns (address signer) {
        // slither-disable-next-line unused-return
        (signer,,) = ECDSA.tryRecoverCalldata(digest, signature);
    }
}
