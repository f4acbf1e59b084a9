// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {TeeType} from "./EnclavaTypes.sol";

/**
 * @dev Orders: escrow at creation, acceptance by the TEE offer's provider, settlement by an
 * enclave-signed integrity report (or failure, timeout, cancellation), and pull payments.
 *
 * Storage is lean: an order is stored as its id plus one state word, and its id is the hash of
 * its terms, `orderId = keccak256(abi.encode(terms))` (the ABI encoding of the single
 * `OrderTerms` tuple). {OrderCreated} carries the full terms; the functions that need them
 * ({cancelOrder}, {completeOrder}, {failOrder}, {timeoutOrder}) take them back as calldata and
 * check them against the id.
 *
 * Money: this contract holds exactly the escrow of every OPEN or ACCEPTED order plus every credited
 * balance. Escrow = sum of `terms.payments[i].amount` + `pricePerSecond * maxDuration`. On
 * completion each payment is credited to its payee, the provider is credited
 * `pricePerSecond * min(finishedAt - startedAt, maxDuration)` and the customer is refunded the rest;
 * a report's times must satisfy `acceptedAt <= startedAt <= finishedAt <= block.timestamp`, so the
 * billed seconds are ones the order was accepted for and that have passed.
 * Cancel, failure and timeout refund the whole escrow to the customer; a timeout also slashes part
 * of the provider's stake, paid to the customer. Owners and providers are paid by pull: credits
 * leave only through {withdraw}. What the customer is owed is sent to them as the settlement's last
 * step, with the 2,300-gas stipend only ({Refunded}); a customer that refuses it (a contract
 * wallet) is credited instead ({Credited}) and withdraws.
 *
 * EIP-712 domain: name "Enclava Marketplace", version "1", this chain's id, this contract. Types:
 *
 * - `IntegrityReport(bytes32 orderId,bytes32 engineHash,bytes32 inputsHash,bytes32 outputHash,string outputCid,uint8 teeType,bytes32 measurement,address enclave,uint64 startedAt,uint64 finishedAt)`
 * - `OrderFailure(bytes32 orderId,address enclave,uint32 reasonCode,string detailCid)`
 *
 * `inputsHash = keccak256(abi.encodePacked(h_1, ..., h_n))`: the SHA-256 content hashes of the
 * order's model/dataset resources in order, then those of the customer's inputs in order.
 */
interface IMarketplace {
    /// @dev `NONE` (0) means no such order.
    enum OrderStatus {
        NONE,
        OPEN,
        ACCEPTED,
        COMPLETED,
        FAILED,
        TIMED_OUT,
        CANCELLED
    }

    /// @dev An input the customer supplies: an encrypted file on IPFS.
    struct Input {
        string cid;
        bytes32 contentHash; // SHA-256 of the ciphertext
    }

    /// @dev What a resource owner is paid on completion (the resource's price at order creation).
    struct Payment {
        uint256 resourceId;
        address payee;
        uint256 amount;
    }

    /// @dev Everything an order is; its id is `keccak256(abi.encode(terms))`.
    struct OrderTerms {
        uint256 nonce; // the block number of creation, raised past any id already taken: ids are unique
        address customer;
        address provider;
        uint256 teeOfferId;
        TeeType teeType;
        uint256 pricePerSecond;
        uint256 maxDuration; // seconds
        bytes32 engineHash; // SHA-256 of the engine's ciphertext
        bytes32 inputsHash; // see the contract documentation
        bytes32 recipientKeyHash; // keccak256 of the result recipient's public key
        Payment[] payments; // the engine first, then each model/dataset resource in order
    }

    /// @dev An order's mutable state (one storage word).
    struct OrderState {
        OrderStatus status;
        uint40 acceptedAt;
        uint48 teeOfferId;
        address enclave; // the enclave whose report completed the order
    }

    /// @dev The integrity report an enclave signs when an order completes.
    struct IntegrityReport {
        bytes32 orderId;
        bytes32 engineHash;
        bytes32 inputsHash;
        bytes32 outputHash; // SHA-256 of the encrypted result
        string outputCid;
        TeeType teeType;
        bytes32 measurement;
        address enclave;
        uint64 startedAt;
        uint64 finishedAt;
    }

    /// @dev What an enclave signs when it gives up on an order. `detailCid` is "" or the IPFS CID of
    /// an age envelope encrypted to the order's recipient key: canonical JSON with the reason's name,
    /// the loader's message and the engine's stderr tail, which only the customer can read.
    struct OrderFailure {
        bytes32 orderId;
        address enclave;
        uint32 reasonCode;
        string detailCid;
    }

    event OrderCreated(
        bytes32 indexed orderId,
        address indexed customer,
        address indexed provider,
        OrderTerms terms,
        Input[] inputs,
        bytes32[] resourceHashes,
        bytes recipientKey
    );
    event OrderAccepted(bytes32 indexed orderId, address indexed provider, uint256 acceptedAt);
    event OrderCompleted(bytes32 indexed orderId, bytes32 reportHash, IntegrityReport report, bytes signature);
    event OrderFailed(bytes32 indexed orderId, address indexed enclave, uint32 reasonCode, string detailCid);
    event OrderTimedOut(bytes32 indexed orderId, address indexed caller);
    event OrderCancelled(bytes32 indexed orderId);
    event Credited(address indexed account, bytes32 indexed orderId, uint256 amount);
    /// @dev The customer of `orderId` was sent `amount` directly (unused compute, escrow or slash).
    event Refunded(address indexed customer, bytes32 indexed orderId, uint256 amount);
    event Withdrawn(address indexed account, uint256 amount);

    error MarketplaceZeroAddress();
    error MarketplaceZeroDuration();
    error MarketplaceWrongPayment(uint256 expected, uint256 paid);
    error MarketplaceResourceKindMismatch(uint256 resourceId);
    error MarketplaceResourceInactive(uint256 resourceId);
    error MarketplaceTeeOfferUnavailable(uint256 teeOfferId);
    error MarketplaceTooManyResources(uint256 count, uint256 maximum);
    error MarketplaceTooManyInputs(uint256 count, uint256 maximum);
    error MarketplaceEmptyInput(uint256 index);
    error MarketplaceEmptyRecipientKey();
    error MarketplaceOrderNotOpen(bytes32 orderId, OrderStatus status);
    error MarketplaceOrderNotAccepted(bytes32 orderId, OrderStatus status);
    error MarketplaceNotCustomer(address caller);
    error MarketplaceDeadlineNotReached(uint256 deadline);
    error MarketplaceReportOrderMismatch(bytes32 orderId, bytes32 reportedOrderId);
    error MarketplaceReportEngineMismatch(bytes32 expected, bytes32 reported);
    error MarketplaceReportInputsMismatch(bytes32 expected, bytes32 reported);
    error MarketplaceReportTeeTypeMismatch(TeeType expected, TeeType reported);
    error MarketplaceReportTimesInvalid(uint256 startedAt, uint256 finishedAt);
    error MarketplaceReportStartedBeforeAccepted(uint256 startedAt, uint256 acceptedAt);
    error MarketplaceReportFinishedInFuture(uint256 finishedAt, uint256 blockTimestamp);
    error MarketplaceReportSignerMismatch(address signer, address enclave);
    error MarketplaceReportMeasurementMismatch(bytes32 certified, bytes32 reported);
    error MarketplaceEnclaveUnknown(address enclave);
    error MarketplaceEnclaveRevoked(address enclave);
    error MarketplaceEnclaveCaRevoked(address enclave);
    error MarketplaceEnclaveExpired(address enclave);
    error MarketplaceMeasurementNotAllowed(TeeType teeType, bytes32 measurement);
    error MarketplaceEnclaveProviderMismatch(address enclave, address provider);
    error MarketplaceEnclaveGpuMismatch(bytes32 offered, bytes32 certified);
    error MarketplaceNothingToWithdraw();
    error MarketplaceUnauthorizedRegistry(address caller);
    error MarketplaceRegistryMismatch(address registryMarketplace);

    /**
     * @notice Creates an order and escrows its price: `msg.value` must equal the sum of the
     * resource prices plus the TEE offer's price per second times `maxDuration`.
     * @param engineId the engine resource (kind ENGINE), active.
     * @param resourceIds model/dataset resources (kind MODEL or DATASET), active.
     * @param teeOfferId an active TEE offer of a bonded provider.
     * @param inputs the customer's own encrypted inputs (non-empty CID and hash each).
     * @param recipientKey the public key the result is encrypted to.
     * @param maxDuration the most seconds of compute paid for; not zero.
     * @return orderId the new order's id.
     */
    function createOrder(
        uint256 engineId,
        uint256[] calldata resourceIds,
        uint256 teeOfferId,
        Input[] calldata inputs,
        bytes calldata recipientKey,
        uint32 maxDuration
    ) external payable returns (bytes32 orderId);

    /// @notice Accepts an open order; only the provider of its TEE offer, within the TEE offer's slots.
    function acceptOrder(bytes32 orderId) external;

    /// @notice Cancels an order nobody accepted; only its customer, who is refunded the escrow.
    function cancelOrder(OrderTerms calldata terms) external;

    /**
     * @notice Completes an accepted order with an integrity report signed by a certified enclave of
     * the order's provider, credits the owners' and provider's payouts and refunds the customer
     * the unused compute. Anyone may submit.
     * @dev Reverts unless the report names this order, its engine and inputs hashes and TEE type,
     * has times with `acceptedAt <= startedAt <= finishedAt <= block.timestamp` (billed:
     * `min(finishedAt - startedAt, maxDuration)` seconds), is signed by `report.enclave`, and the
     * enclave is registered, not revoked, not expired, certified for the order's provider by a CA
     * that is not revoked, with the report's measurement, which is on the allow-list, and, when the
     * order's TEE offer promises a GPU (its class is neither zero nor "cpu", see {GpuClasses}),
     * certified with GPUs of exactly that class ({MarketplaceEnclaveGpuMismatch}). The offer's class
     * is read from the provider registry by the order's TEE offer id: it is fixed at publication.
     */
    function completeOrder(OrderTerms calldata terms, IntegrityReport calldata report, bytes calldata signature)
        external;

    /// @notice Fails an accepted order with a failure signed by a valid enclave of the order's
    /// provider; the customer is refunded the whole escrow. Anyone may submit.
    /// @dev Any valid enclave of the provider may fail an order, with or without the offer's GPU:
    /// a failure only refunds the customer, so it needs no GPU to be honest.
    function failOrder(OrderTerms calldata terms, OrderFailure calldata failure, bytes calldata signature) external;

    /// @notice After an accepted order's deadline (`acceptedAt + maxDuration + reportGracePeriod`),
    /// anyone may time it out: the customer is refunded the escrow and paid part of the provider's stake.
    function timeoutOrder(OrderTerms calldata terms) external;

    /// @notice Sends the caller their whole credited balance.
    function withdraw() external;

    /// @notice Pays `recipient` the slashed stake sent along (sent at once, or credited if the
    /// transfer fails). Provider registry only.
    function paySlash(bytes32 orderId, address recipient) external payable;

    /**
     * @notice Whether the report of `orderId` stands, and if not, why; never reverts. A completed
     * order's report stands until its enclave, its CA or its measurement is revoked (a certificate
     * that merely expired after completion does not void it).
     */
    function verifyReport(bytes32 orderId) external view returns (bool valid, string memory reason);

    /// @notice The state of `orderId` (status NONE when unknown).
    function orderState(bytes32 orderId) external view returns (OrderState memory);

    /// @notice The EIP-712 digest of the report that completed `orderId` (zero until then).
    function reportHash(bytes32 orderId) external view returns (bytes32);

    /// @notice The balance `account` may withdraw.
    function creditOf(address account) external view returns (uint256);

    /// @notice `keccak256(abi.encode(terms))`.
    function orderIdOf(OrderTerms calldata terms) external pure returns (bytes32);

    /// @notice The escrow an order with these terms holds.
    function escrowOf(OrderTerms calldata terms) external pure returns (uint256);

    /// @notice When an accepted order may be timed out (0 while it is not accepted).
    function deadlineOf(OrderTerms calldata terms) external view returns (uint256);

    /// @notice The EIP-712 digest an enclave signs for `report`.
    function reportDigest(IntegrityReport calldata report) external view returns (bytes32);

    /// @notice The EIP-712 digest an enclave signs for `failure`.
    function failureDigest(OrderFailure calldata failure) external view returns (bytes32);

    /// @notice Seconds after `acceptedAt + maxDuration` before an accepted order may be timed out.
    function reportGracePeriod() external view returns (uint256);

    /// @notice The provider registry, resource registry and attestation registry this marketplace uses.
    function registries() external view returns (address providers, address resources, address attestation);
}
