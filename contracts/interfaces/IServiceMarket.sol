// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {TeeType} from "./EnclavaTypes.sol";

/**
 * @dev Confidential serving: a provider runs a long-lived service enclave for one listed model;
 * customers prepay a balance per service and pay per token with cumulative vouchers they sign;
 * anyone settles the latest voucher, crediting the model owner and the provider (pull payments).
 *
 * Prices. A model owner sets a model's token prices ({setTokenPrices}; both zero = not offered for
 * serving). A provider sets its serving price on a TEE offer ({setServingPrice}): wei per second of
 * compute, or wei per token (input + output); unset, it is per second at the offer's
 * `pricePerSecond`.
 *
 * Services are stored as their id plus one state word: `serviceId = keccak256(abi.encode(terms))`
 * (the ABI encoding of the single `ServiceTerms` tuple). {ServiceStarted} carries the full terms;
 * {settle}, {setEndpoint} and {stopService} take them back as calldata and check them against the
 * id. Terms snapshot the prices: a later price change does not change a running service.
 *
 * Accounts, one per (service, customer): {deposit} while the service is live; {requestClose}
 * starts the close notice ({closeNotice} seconds); an account closes at the notice's end, or at
 * `end + closeNotice` where `end` is the service's `endsAt` (or when it was stopped), whichever is
 * first. Vouchers settle strictly before an account closes; {reclaim} pays the customer what is
 * left once it has closed. A closed account takes no deposit again.
 *
 * A voucher is cumulative since the account began. Its `amount` must equal {priceOf} its counts:
 * `modelPart = inputTokens * inputTokenPrice + outputTokens * outputTokenPrice`;
 * `providerPart = providerPerToken ? (inputTokens + outputTokens) * providerPrice
 *                                  : computeMs * providerPrice / 1000` (floor);
 * `amount = modelPart + providerPart`. Settlement credits the growth of each part since the
 * last settled voucher, so the gas of {settle} does not depend on the number of requests.
 *
 * Money: this contract holds exactly the sum of all account balances plus all credits.
 *
 * EIP-712 domain: name "Enclava ServiceMarket", version "1", this chain's id, this contract. Type:
 *
 * - `Voucher(bytes32 serviceId,address customer,uint64 inputTokens,uint64 outputTokens,uint64 computeMs,uint256 amount)`
 */
interface IServiceMarket {
    /// @dev `NONE` (0) means no such service. A `LIVE` service past its `endsAt` has ended.
    enum ServiceStatus {
        NONE,
        LIVE,
        STOPPED
    }

    /// @dev What a service commits to; its hash is the service id.
    struct ServiceTerms {
        uint256 nonce; // block number at start, raised past any id already taken (set by the contract)
        address provider;
        uint256 teeOfferId;
        TeeType teeType;
        uint256 modelId;
        address modelOwner;
        bytes32 modelHash; // SHA-256 of the model ciphertext (the resource's contentHash)
        uint96 inputTokenPrice; // wei per input (prompt) token, to the model owner
        uint96 outputTokenPrice; // wei per output (completion) token, to the model owner
        bool providerPerToken;
        uint96 providerPrice; // wei per token or per second, to the provider
        uint64 endsAt; // unix seconds: the service's lifetime ends
    }

    /// @dev A customer's cumulative usage of a service and what it owes for it, signed by the customer.
    struct Voucher {
        bytes32 serviceId;
        address customer;
        uint64 inputTokens;
        uint64 outputTokens;
        uint64 computeMs;
        uint256 amount;
    }

    /// @dev A service's state word (one storage slot), as returned by {IServiceMarket-serviceState}.
    struct ServiceState {
        ServiceStatus status;
        uint40 endsAt;
        uint40 stoppedAt; // 0 unless stopped
        address enclave; // the enclave the provider bound ({bindEnclave}); zero until then
    }

    /**
     * @dev A customer's account, as returned by {IServiceMarket-account}: the balance left, the
     * last settled voucher's amount and counts, and when the account closes (see the contract doc).
     */
    struct Account {
        uint128 balance;
        uint128 settledAmount;
        uint64 inputTokens;
        uint64 outputTokens;
        uint64 computeMs;
        uint64 closableAt;
    }

    event TokenPricesSet(uint256 indexed modelId, uint256 inputPrice, uint256 outputPrice);
    event ServingPriceSet(uint256 indexed teeOfferId, bool perToken, uint256 price);
    event ServiceStarted(
        bytes32 indexed serviceId,
        address indexed provider,
        uint256 indexed modelId,
        uint256 teeOfferId,
        ServiceTerms terms
    );
    event ServiceEndpointSet(bytes32 indexed serviceId, string url);
    event ServiceEnclaveBound(bytes32 indexed serviceId, address indexed enclave);
    event ServiceStopped(bytes32 indexed serviceId, uint256 stoppedAt);
    event Deposited(bytes32 indexed serviceId, address indexed customer, uint256 amount, uint256 balance);
    event CloseRequested(bytes32 indexed serviceId, address indexed customer, uint256 closableAt);
    /// @dev The voucher's cumulative figures, and the parts newly credited to the model owner and provider.
    event VoucherSettled(
        bytes32 indexed serviceId,
        address indexed customer,
        uint256 inputTokens,
        uint256 outputTokens,
        uint256 computeMs,
        uint256 amount,
        uint256 modelCredit,
        uint256 providerCredit
    );
    event Reclaimed(bytes32 indexed serviceId, address indexed customer, uint256 amount);
    event Withdrawn(address indexed account, uint256 amount);

    error ServiceZeroAddress();
    error ServiceNotModel(uint256 modelId);
    error ServiceNotModelOwner(uint256 modelId, address caller);
    error ServiceModelRetired(uint256 modelId);
    error ServiceModelInactive(uint256 modelId);
    error ServiceModelOwnerMismatch(address owner, address termsOwner);
    error ServiceModelHashMismatch(bytes32 contentHash, bytes32 termsHash);
    error ServiceNoTokenPrices(uint256 modelId);
    error ServiceTokenPricesChanged(uint256 modelId);
    error ServiceNotOfferProvider(uint256 teeOfferId, address caller);
    error ServiceTeeOfferUnavailable(uint256 teeOfferId);
    error ServiceTeeTypeMismatch(TeeType offered, TeeType termsType);
    error ServiceServingPriceChanged(uint256 teeOfferId);
    error ServiceEndsInPast(uint256 endsAt);
    error ServiceEnclaveInvalid(address enclave, string reason);
    error ServiceEnclaveProviderMismatch(address enclave, address provider);
    error ServiceEnclaveTeeTypeMismatch(address enclave, TeeType teeType);
    error ServiceNotProvider(address caller, address provider);
    error ServiceUnknown(bytes32 serviceId);
    error ServiceNotLive(bytes32 serviceId);
    error ServiceZeroDeposit();
    error ServiceAccountClosing(bytes32 serviceId, address customer, uint256 closableAt);
    error ServiceAccountClosed(bytes32 serviceId, address customer, uint256 closableAt);
    error ServiceCloseNoticePending(uint256 closableAt);
    error ServiceNothingToReclaim();
    error ServiceVoucherServiceMismatch(bytes32 serviceId, bytes32 voucherServiceId);
    error ServiceInvalidSignature(address customer);
    error ServiceAmountMismatch(uint256 expected, uint256 amount);
    error ServiceVoucherStale(uint256 settledAmount, uint256 amount);
    error ServiceBalanceTooLow(uint256 balance, uint256 owed);
    error ServiceNothingToWithdraw();

    /**
     * @notice Sets the token prices of model `modelId`, in wei per input and per output token; only
     * the resource's owner, for a resource of kind MODEL that is not retired. Both zero withdraws
     * the model from serving. Running services keep the prices their terms snapshot.
     */
    function setTokenPrices(uint256 modelId, uint96 inputPrice, uint96 outputPrice) external;

    /**
     * @notice Sets the caller's serving price on its TEE offer `teeOfferId`: `price` wei per token
     * (input + output) when `perToken`, else wei per second of compute.
     */
    function setServingPrice(uint256 teeOfferId, bool perToken, uint96 price) external;

    /**
     * @notice Starts a service on the caller's TEE offer for a listed model. Every field of `terms`
     * but `nonce` must match the registries and prices now: the offer is the caller's and
     * available, its TEE type, the model's kind (MODEL), active flag, owner and content hash, the
     * model's token prices (not both zero), the offer's serving price; `endsAt` is in the future.
     * `nonce` is set here (the block number, raised past any id already taken). `endsAt` must fit
     * 40 bits (SafeCast).
     * @return serviceId `keccak256(abi.encode(terms))` of the terms as stored (see {ServiceStarted}).
     */
    function startService(ServiceTerms calldata terms) external returns (bytes32 serviceId);

    /// @notice Publishes the URL of a live service's endpoint; only its provider.
    function setEndpoint(ServiceTerms calldata terms, string calldata url) external;

    /**
     * @notice Binds `enclave` to a live service, the one enclave its model key is released to and
     * its customers accept; only the provider. The attestation registry must hold it valid now,
     * certified for the service's provider and TEE type. Binding again (a restarted enclave)
     * replaces the enclave bound before.
     */
    function bindEnclave(ServiceTerms calldata terms, address enclave) external;

    /// @notice Ends a live service now, before its `endsAt`; only its provider. Accounts close
    /// `closeNotice` seconds later at the latest.
    function stopService(ServiceTerms calldata terms) external;

    /// @notice Adds `msg.value` to the caller's balance for the live service `serviceId`.
    function deposit(bytes32 serviceId) external payable;

    /// @notice Starts the close notice of the caller's account for `serviceId`: vouchers may still
    /// be settled for {closeNotice} seconds, then {reclaim} pays out what is left.
    function requestClose(bytes32 serviceId) external;

    /// @notice Pays the caller what is left of its balance for `serviceId` once its account has closed.
    function reclaim(bytes32 serviceId) external;

    /**
     * @notice Settles the customer's cumulative `voucher` for the service of `terms`: checks the
     * customer's signature (EOA or ERC-1271), that the amount is {priceOf} the counts, that the
     * voucher is newer than the last settled one, that the account has not closed and that its
     * balance covers the growth; then credits the model owner and the provider their parts'
     * growth. Anyone may call: the money goes to the payees the terms fix.
     */
    function settle(ServiceTerms calldata terms, Voucher calldata voucher, bytes calldata signature) external;

    /// @notice Sends the caller its credited payouts.
    function withdraw() external;

    /// @notice The state word of `serviceId` (all zero when there is none).
    function serviceState(bytes32 serviceId) external view returns (ServiceState memory);

    /// @notice The account of `customer` for `serviceId` (`closableAt` 0 for an unknown service).
    function account(bytes32 serviceId, address customer) external view returns (Account memory);

    /// @notice What cumulative counts cost under `terms`: the model owner's part, the provider's, the sum.
    function priceOf(ServiceTerms calldata terms, uint64 inputTokens, uint64 outputTokens, uint64 computeMs)
        external
        pure
        returns (uint256 modelPart, uint256 providerPart, uint256 amount);

    /// @notice `keccak256(abi.encode(terms))`.
    function serviceIdOf(ServiceTerms calldata terms) external pure returns (bytes32);

    /// @notice The EIP-712 digest a customer signs for `voucher`.
    function voucherDigest(Voucher calldata voucher) external view returns (bytes32);

    /// @notice The token prices of `modelId` (both zero: not offered for serving).
    function tokenPrices(uint256 modelId) external view returns (uint96 inputPrice, uint96 outputPrice);

    /// @notice The serving price a service on `teeOfferId` takes now (unset: per second at the
    /// offer's `pricePerSecond`).
    function servingPrice(uint256 teeOfferId) external view returns (bool perToken, uint96 price);

    /// @notice The payouts credited to `account_`, waiting for {withdraw}.
    function creditOf(address account_) external view returns (uint256);

    /// @notice Seconds between {requestClose} (or a service's end) and an account's close.
    function closeNotice() external view returns (uint256);

    /// @notice The registries this contract reads (fixed at construction).
    function registries() external view returns (address providers, address resources, address attestation);
}
