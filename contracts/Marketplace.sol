// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Address} from "@openzeppelin/contracts/utils/Address.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

import {GpuClasses, ResourceKind, TeeType} from "./interfaces/EnclavaTypes.sol";
import {IAttestationRegistry} from "./interfaces/IAttestationRegistry.sol";
import {IMarketplace} from "./interfaces/IMarketplace.sol";
import {IResourceRegistry} from "./interfaces/IResourceRegistry.sol";
import {IProviderRegistry} from "./interfaces/IProviderRegistry.sol";

/**
 * @title Marketplace
 * @notice Orders for confidential AI jobs: escrow, acceptance, settlement by enclave-signed
 * integrity reports checked against the attestation registry, and pull payments.
 * @dev Holds exactly the escrow of open and accepted orders plus all credited balances. No
 * external call happens before an order's state and credits are settled; the only calls out are
 * to the provider registry (set at construction), the customer's refund at the very end of a
 * settlement (stipend-only, see {_refund}) and the final transfer in {withdraw}.
 */
contract Marketplace is IMarketplace, EIP712 {
    using SafeCast for uint256;

    /// @notice The most model/dataset resources one order may use.
    uint256 public constant MAX_RESOURCES = 16;
    /// @notice The most customer inputs one order may carry.
    uint256 public constant MAX_INPUTS = 32;

    bytes32 private constant _REPORT_TYPEHASH = keccak256(
        "IntegrityReport(bytes32 orderId,bytes32 engineHash,bytes32 inputsHash,bytes32 outputHash,string outputCid,uint8 teeType,bytes32 measurement,address enclave,uint64 startedAt,uint64 finishedAt)"
    );
    bytes32 private constant _FAILURE_TYPEHASH =
        keccak256("OrderFailure(bytes32 orderId,address enclave,uint32 reasonCode,string detailCid)");

    IProviderRegistry private immutable _providers;
    IResourceRegistry private immutable _resources;
    IAttestationRegistry private immutable _attestation;
    uint256 private immutable _reportGracePeriod;

    mapping(bytes32 orderId => OrderState) private _orders;
    mapping(bytes32 orderId => bytes32) private _reportHashes;
    mapping(address account => uint256) private _credits;

    /**
     * @param providers the provider registry (stakes and TEE offers); it must name this contract
     * as its marketplace.
     * @param resources the resource registry (engines, models, datasets).
     * @param attestation the attestation registry (CAs, measurements, enclaves).
     * @param reportGracePeriod_ seconds after `acceptedAt + maxDuration` before a timeout is allowed.
     */
    constructor(
        IProviderRegistry providers,
        IResourceRegistry resources,
        IAttestationRegistry attestation,
        uint256 reportGracePeriod_
    ) EIP712("Enclava Marketplace", "1") {
        if (
            address(providers) == address(0) || address(resources) == address(0)
                || address(attestation) == address(0)
        ) {
            revert MarketplaceZeroAddress();
        }
        // The registry fixes its marketplace at construction (deploy predicts this address); a
        // registry made for another address would refuse every slot this contract reserves.
        if (providers.marketplace() != address(this)) revert MarketplaceRegistryMismatch(providers.marketplace());
        _providers = providers;
        _resources = resources;
        _attestation = attestation;
        _reportGracePeriod = reportGracePeriod_;
    }

    // ------------------------------------------------------------------------------ orders

    /// @inheritdoc IMarketplace
    function createOrder(
        uint256 engineId,
        uint256[] calldata resourceIds,
        uint256 teeOfferId,
        Input[] calldata inputs,
        bytes calldata recipientKey,
        uint32 maxDuration
    ) external payable returns (bytes32 orderId) {
        if (maxDuration == 0) revert MarketplaceZeroDuration();
        if (resourceIds.length > MAX_RESOURCES) revert MarketplaceTooManyResources(resourceIds.length, MAX_RESOURCES);
        if (inputs.length > MAX_INPUTS) revert MarketplaceTooManyInputs(inputs.length, MAX_INPUTS);
        if (recipientKey.length == 0) revert MarketplaceEmptyRecipientKey();

        (OrderTerms memory terms, bytes32[] memory resourceHashes) =
            _snapshotTerms(engineId, resourceIds, teeOfferId, inputs, maxDuration);
        terms.recipientKeyHash = keccak256(recipientKey);

        orderId = keccak256(abi.encode(terms));
        // The nonce starts at the block number; the rare clash (the same customer placing identical
        // orders within one block) moves to the next free nonce, so an id is never reused.
        while (_orders[orderId].status != OrderStatus.NONE) {
            ++terms.nonce;
            orderId = keccak256(abi.encode(terms));
        }
        _orders[orderId] = OrderState({
            status: OrderStatus.OPEN,
            acceptedAt: 0,
            teeOfferId: teeOfferId.toUint48(),
            enclave: address(0)
        });
        emit OrderCreated(orderId, msg.sender, terms.provider, terms, inputs, resourceHashes, recipientKey);
    }

    /// @inheritdoc IMarketplace
    function acceptOrder(bytes32 orderId) external {
        OrderState storage order = _orders[orderId];
        if (order.status != OrderStatus.OPEN) revert MarketplaceOrderNotOpen(orderId, order.status);
        uint256 teeOfferId = order.teeOfferId;
        order.status = OrderStatus.ACCEPTED;
        // solhint-disable-next-line not-rely-on-time
        order.acceptedAt = block.timestamp.toUint40();
        emit OrderAccepted(orderId, msg.sender, block.timestamp);
        // Checks that the caller is the TEE offer's bonded provider and takes a slot; reverts otherwise.
        _providers.reserveSlot(teeOfferId, msg.sender);
    }

    /// @inheritdoc IMarketplace
    function cancelOrder(OrderTerms calldata terms) external {
        bytes32 orderId = keccak256(abi.encode(terms));
        OrderState storage order = _orders[orderId];
        if (order.status != OrderStatus.OPEN) revert MarketplaceOrderNotOpen(orderId, order.status);
        if (msg.sender != terms.customer) revert MarketplaceNotCustomer(msg.sender);
        order.status = OrderStatus.CANCELLED;
        emit OrderCancelled(orderId);
        _refund(terms.customer, orderId, _escrow(terms));
    }

    /// @inheritdoc IMarketplace
    function completeOrder(OrderTerms calldata terms, IntegrityReport calldata report, bytes calldata signature)
        external
    {
        bytes32 orderId = keccak256(abi.encode(terms));
        OrderState storage order = _orders[orderId];
        OrderStatus status = order.status;
        uint256 acceptedAt = order.acceptedAt;
        if (status != OrderStatus.ACCEPTED) revert MarketplaceOrderNotAccepted(orderId, status);

        _requireReportMatchesOrder(orderId, terms, report, acceptedAt);
        bytes32 digest = _reportDigest(report);
        _requireSigner(digest, signature, report.enclave);
        IAttestationRegistry.Enclave memory enclave = _requireEnclave(report.enclave, terms.provider);
        if (enclave.measurement != report.measurement || enclave.teeType != report.teeType) {
            revert MarketplaceReportMeasurementMismatch(enclave.measurement, report.measurement);
        }
        uint256 teeOfferId = order.teeOfferId;
        _requireOfferedGpu(teeOfferId, enclave.gpuClass);

        order.status = OrderStatus.COMPLETED;
        order.enclave = report.enclave;
        _reportHashes[orderId] = digest;
        emit OrderCompleted(orderId, digest, report, signature);
        uint256 refund = _creditPayouts(orderId, terms, report.finishedAt - report.startedAt);

        _providers.releaseSlot(teeOfferId);
        _refund(terms.customer, orderId, refund);
    }

    /// @inheritdoc IMarketplace
    function failOrder(OrderTerms calldata terms, OrderFailure calldata failure, bytes calldata signature) external {
        bytes32 orderId = keccak256(abi.encode(terms));
        OrderState storage order = _orders[orderId];
        OrderStatus status = order.status;
        if (status != OrderStatus.ACCEPTED) revert MarketplaceOrderNotAccepted(orderId, status);
        if (failure.orderId != orderId) revert MarketplaceReportOrderMismatch(orderId, failure.orderId);
        _requireSigner(_failureDigest(failure), signature, failure.enclave);
        _requireEnclave(failure.enclave, terms.provider);

        uint256 teeOfferId = order.teeOfferId;
        order.status = OrderStatus.FAILED;
        emit OrderFailed(orderId, failure.enclave, failure.reasonCode, failure.detailCid);

        _providers.releaseSlot(teeOfferId);
        _refund(terms.customer, orderId, _escrow(terms));
    }

    /// @inheritdoc IMarketplace
    function timeoutOrder(OrderTerms calldata terms) external {
        bytes32 orderId = keccak256(abi.encode(terms));
        OrderState storage order = _orders[orderId];
        OrderStatus status = order.status;
        if (status != OrderStatus.ACCEPTED) revert MarketplaceOrderNotAccepted(orderId, status);
        uint256 deadline = uint256(order.acceptedAt) + terms.maxDuration + _reportGracePeriod;
        // solhint-disable-next-line not-rely-on-time
        if (block.timestamp <= deadline) revert MarketplaceDeadlineNotReached(deadline);

        uint256 teeOfferId = order.teeOfferId;
        order.status = OrderStatus.TIMED_OUT;
        emit OrderTimedOut(orderId, msg.sender);

        _providers.releaseSlot(teeOfferId);
        // The registry sends the slashed stake back through {paySlash}, which pays it on to the
        // customer; the returned amount is informational only (unused-return).
        // slither-disable-next-line unused-return
        _providers.slash(terms.provider, orderId, terms.customer);
        _refund(terms.customer, orderId, _escrow(terms));
    }

    // ---------------------------------------------------------------------------- payments

    /// @inheritdoc IMarketplace
    function withdraw() external {
        uint256 amount = _credits[msg.sender];
        if (amount == 0) revert MarketplaceNothingToWithdraw();
        _credits[msg.sender] = 0;
        emit Withdrawn(msg.sender, amount);
        Address.sendValue(payable(msg.sender), amount);
    }

    /// @inheritdoc IMarketplace
    function paySlash(bytes32 orderId, address recipient) external payable {
        if (msg.sender != address(_providers)) revert MarketplaceUnauthorizedRegistry(msg.sender);
        _refund(recipient, orderId, msg.value);
    }

    // ------------------------------------------------------------------------------- views

    /// @inheritdoc IMarketplace
    function verifyReport(bytes32 orderId) external view returns (bool valid, string memory reason) {
        // Slither taints the whole state word through `acceptedAt` (a block timestamp) and flags
        // every `==` below as incorrect-equality; they compare enum states, not times or balances.
        OrderState memory order = _orders[orderId];
        // slither-disable-next-line incorrect-equality
        if (order.status == OrderStatus.NONE) return (false, "unknown order");
        if (order.status != OrderStatus.COMPLETED) return (false, "order not completed");
        // The record is not needed: the status already folds in revocations (unused-return).
        // slither-disable-next-line unused-return
        (IAttestationRegistry.EnclaveStatus status,) = _attestation.enclaveStatus(order.enclave);
        // slither-disable-next-line incorrect-equality
        if (status == IAttestationRegistry.EnclaveStatus.REVOKED) return (false, "enclave revoked");
        // slither-disable-next-line incorrect-equality
        if (status == IAttestationRegistry.EnclaveStatus.CA_REVOKED) return (false, "CA revoked");
        // slither-disable-next-line incorrect-equality
        if (status == IAttestationRegistry.EnclaveStatus.MEASUREMENT_NOT_ALLOWED) {
            return (false, "measurement revoked");
        }
        // VALID, or EXPIRED after the fact: the certificate was checked valid when the report landed.
        return (true, "");
    }

    /// @inheritdoc IMarketplace
    function orderState(bytes32 orderId) external view returns (OrderState memory) {
        return _orders[orderId];
    }

    /// @inheritdoc IMarketplace
    function reportHash(bytes32 orderId) external view returns (bytes32) {
        return _reportHashes[orderId];
    }

    /// @inheritdoc IMarketplace
    function creditOf(address account) external view returns (uint256) {
        return _credits[account];
    }

    /// @inheritdoc IMarketplace
    function orderIdOf(OrderTerms calldata terms) external pure returns (bytes32) {
        return keccak256(abi.encode(terms));
    }

    /// @inheritdoc IMarketplace
    function escrowOf(OrderTerms calldata terms) external pure returns (uint256) {
        return _escrow(terms);
    }

    /// @inheritdoc IMarketplace
    function deadlineOf(OrderTerms calldata terms) external view returns (uint256) {
        uint256 acceptedAt = _orders[keccak256(abi.encode(terms))].acceptedAt;
        // Zero is the "never accepted" sentinel, not a time to compare against (incorrect-equality).
        // slither-disable-next-line incorrect-equality
        return acceptedAt == 0 ? 0 : acceptedAt + terms.maxDuration + _reportGracePeriod;
    }

    /// @inheritdoc IMarketplace
    function reportDigest(IntegrityReport calldata report) external view returns (bytes32) {
        return _reportDigest(report);
    }

    /// @inheritdoc IMarketplace
    function failureDigest(OrderFailure calldata failure) external view returns (bytes32) {
        return _failureDigest(failure);
    }

    /// @inheritdoc IMarketplace
    function reportGracePeriod() external view returns (uint256) {
        return _reportGracePeriod;
    }

    /// @inheritdoc IMarketplace
    function registries() external view returns (address providers, address resources, address attestation) {
        return (address(_providers), address(_resources), address(_attestation));
    }

    /// @notice The EIP-712 domain separator of this contract.
    // solhint-disable-next-line func-name-mixedcase
    function DOMAIN_SEPARATOR() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    // ---------------------------------------------------------------------------- internal

    /// @dev Builds an order's terms (all but the recipient key hash) from the registries' current
    /// state, and checks that `msg.value` is exactly the escrow.
    function _snapshotTerms(
        uint256 engineId,
        uint256[] calldata resourceIds,
        uint256 teeOfferId,
        Input[] calldata inputs,
        uint256 maxDuration
    ) private returns (OrderTerms memory terms, bytes32[] memory resourceHashes) {
        terms.nonce = block.number;
        terms.customer = msg.sender;
        terms.teeOfferId = teeOfferId;
        terms.maxDuration = maxDuration;

        bool available;
        (terms.provider, terms.teeType, terms.pricePerSecond, available) = _providers.teeOfferTerms(teeOfferId);
        if (!available) revert MarketplaceTeeOfferUnavailable(teeOfferId);

        uint256 resourcesTotal;
        (terms.payments, terms.engineHash, resourceHashes, resourcesTotal) = _payments(engineId, resourceIds);
        terms.inputsHash = _inputsHash(resourceHashes, inputs);

        uint256 escrow = resourcesTotal + terms.pricePerSecond * maxDuration;
        if (msg.value != escrow) revert MarketplaceWrongPayment(escrow, msg.value);
    }

    /// @dev Snapshots the engine and resources: payments, the engine hash, the resource hashes.
    function _payments(uint256 engineId, uint256[] calldata resourceIds)
        private
        view
        returns (Payment[] memory payments, bytes32 engineHash, bytes32[] memory resourceHashes, uint256 total)
    {
        payments = new Payment[](resourceIds.length + 1);
        resourceHashes = new bytes32[](resourceIds.length);
        (payments[0], engineHash) = _resource(engineId, true);
        total = payments[0].amount;
        for (uint256 i = 0; i < resourceIds.length; ++i) {
            (payments[i + 1], resourceHashes[i]) = _resource(resourceIds[i], false);
            total += payments[i + 1].amount;
        }
    }

    function _resource(uint256 resourceId, bool engine)
        private
        view
        returns (Payment memory payment, bytes32 contentHash)
    {
        (address owner, ResourceKind kind, bool active, uint256 price, bytes32 hash) =
            _resources.resourceTerms(resourceId);
        bool kindOk = engine ? kind == ResourceKind.ENGINE : (kind == ResourceKind.MODEL || kind == ResourceKind.DATASET);
        if (!kindOk) revert MarketplaceResourceKindMismatch(resourceId);
        if (!active) revert MarketplaceResourceInactive(resourceId);
        return (Payment({resourceId: resourceId, payee: owner, amount: price}), hash);
    }

    function _inputsHash(bytes32[] memory resourceHashes, Input[] calldata inputs) private pure returns (bytes32) {
        uint256 count = resourceHashes.length;
        bytes32[] memory hashes = new bytes32[](count + inputs.length);
        for (uint256 i = 0; i < count; ++i) {
            hashes[i] = resourceHashes[i];
        }
        for (uint256 i = 0; i < inputs.length; ++i) {
            bytes32 contentHash = inputs[i].contentHash;
            if (contentHash == bytes32(0) || bytes(inputs[i].cid).length == 0) revert MarketplaceEmptyInput(i);
            hashes[count + i] = contentHash;
        }
        return keccak256(abi.encodePacked(hashes));
    }

    function _escrow(OrderTerms calldata terms) private pure returns (uint256 total) {
        total = terms.pricePerSecond * terms.maxDuration;
        for (uint256 i = 0; i < terms.payments.length; ++i) {
            total += terms.payments[i].amount;
        }
    }

    function _requireReportMatchesOrder(
        bytes32 orderId,
        OrderTerms calldata terms,
        IntegrityReport calldata report,
        uint256 acceptedAt
    ) private view {
        if (report.orderId != orderId) revert MarketplaceReportOrderMismatch(orderId, report.orderId);
        if (report.engineHash != terms.engineHash) {
            revert MarketplaceReportEngineMismatch(terms.engineHash, report.engineHash);
        }
        if (report.inputsHash != terms.inputsHash) {
            revert MarketplaceReportInputsMismatch(terms.inputsHash, report.inputsHash);
        }
        if (report.teeType != terms.teeType) revert MarketplaceReportTeeTypeMismatch(terms.teeType, report.teeType);
        // Honest time: the enclave ran after the order was accepted and finished no later than now,
        // so it bills only seconds that have passed since the acceptance.
        if (report.startedAt < acceptedAt) revert MarketplaceReportStartedBeforeAccepted(report.startedAt, acceptedAt);
        if (report.finishedAt < report.startedAt) {
            revert MarketplaceReportTimesInvalid(report.startedAt, report.finishedAt);
        }
        // solhint-disable-next-line not-rely-on-time
        if (report.finishedAt > block.timestamp) {
            revert MarketplaceReportFinishedInFuture(report.finishedAt, block.timestamp);
        }
    }

    function _requireSigner(bytes32 digest, bytes calldata signature, address enclave) private pure {
        // A malformed signature recovers the zero address, which never equals a registered enclave;
        // the error values add nothing to that check (unused-return).
        // slither-disable-next-line unused-return
        (address signer,,) = ECDSA.tryRecoverCalldata(digest, signature);
        if (signer != enclave || signer == address(0)) revert MarketplaceReportSignerMismatch(signer, enclave);
    }

    /// @dev Reverts unless `enclave` is valid now and certified for `provider`; returns its record.
    function _requireEnclave(address enclave, address provider)
        private
        view
        returns (IAttestationRegistry.Enclave memory record)
    {
        IAttestationRegistry.EnclaveStatus status;
        (status, record) = _attestation.enclaveStatus(enclave);
        if (status == IAttestationRegistry.EnclaveStatus.UNKNOWN) revert MarketplaceEnclaveUnknown(enclave);
        if (status == IAttestationRegistry.EnclaveStatus.REVOKED) revert MarketplaceEnclaveRevoked(enclave);
        if (status == IAttestationRegistry.EnclaveStatus.CA_REVOKED) revert MarketplaceEnclaveCaRevoked(enclave);
        if (status == IAttestationRegistry.EnclaveStatus.MEASUREMENT_NOT_ALLOWED) {
            revert MarketplaceMeasurementNotAllowed(record.teeType, record.measurement);
        }
        if (status == IAttestationRegistry.EnclaveStatus.EXPIRED) revert MarketplaceEnclaveExpired(enclave);
        if (record.provider != provider) revert MarketplaceEnclaveProviderMismatch(enclave, record.provider);
    }

    /// @dev Reverts unless an offer promising a GPU is served by an enclave certified with that GPU
    /// class. The class is read from the registry, not snapshotted into the terms: it is fixed once
    /// the offer is published, so the order id's preimage stays as it was.
    function _requireOfferedGpu(uint256 teeOfferId, bytes32 certified) private view {
        bytes32 offered = _providers.teeOfferGpuClass(teeOfferId);
        if (GpuClasses.offerHasGpu(offered) && offered != certified) {
            revert MarketplaceEnclaveGpuMismatch(offered, certified);
        }
    }

    /// @dev Credits the resource owners their prices and the provider the used time; returns the
    /// customer's refund (the unused compute), which the caller sends last.
    function _creditPayouts(bytes32 orderId, OrderTerms calldata terms, uint256 used)
        private
        returns (uint256 refund)
    {
        uint256 maxDuration = terms.maxDuration;
        if (used > maxDuration) used = maxDuration;
        for (uint256 i = 0; i < terms.payments.length; ++i) {
            _credit(terms.payments[i].payee, orderId, terms.payments[i].amount);
        }
        _credit(terms.provider, orderId, terms.pricePerSecond * used);
        return terms.pricePerSecond * (maxDuration - used);
    }

    /// @dev Sends what an order owes its customer straight to them, as the last step of a settlement
    /// whose state is already written. Only the 2,300-gas stipend goes along, so the customer can
    /// neither block the settlement nor re-enter it; if the transfer fails (a contract wallet that
    /// refuses it or needs more gas), the amount is credited for {withdraw} instead. Saves the
    /// customer a withdrawal and the contract a fresh credit slot (22,100 gas) on every completion.
    function _refund(address customer, bytes32 orderId, uint256 amount) private {
        if (amount == 0) return;
        // The recipient is the order's customer, fixed by the terms' hash (arbitrary-send-eth);
        // a failed send is credited, so the result is used (unchecked-lowlevel does not apply);
        // the stipend cannot pay for a re-entering call that writes state (reentrancy-*).
        // slither-disable-next-line arbitrary-send-eth,low-level-calls
        (bool sent,) = payable(customer).call{value: amount, gas: 0}("");
        if (sent) {
            emit Refunded(customer, orderId, amount);
        } else {
            _credit(customer, orderId, amount);
        }
    }

    function _credit(address account, bytes32 orderId, uint256 amount) private {
        if (amount == 0) return;
        _credits[account] += amount;
        emit Credited(account, orderId, amount);
    }

    function _reportDigest(IntegrityReport calldata report) private view returns (bytes32) {
        return _hashTypedDataV4(
            keccak256(
                abi.encode(
                    _REPORT_TYPEHASH,
                    report.orderId,
                    report.engineHash,
                    report.inputsHash,
                    report.outputHash,
                    keccak256(bytes(report.outputCid)),
                    uint8(report.teeType),
                    report.measurement,
                    report.enclave,
                    report.startedAt,
                    report.finishedAt
                )
            )
        );
    }

    function _failureDigest(OrderFailure calldata failure) private view returns (bytes32) {
        return _hashTypedDataV4(
            keccak256(
                abi.encode(
                    _FAILURE_TYPEHASH,
                    failure.orderId,
                    failure.enclave,
                    failure.reasonCode,
                    keccak256(bytes(failure.detailCid))
                )
            )
        );
    }
}
