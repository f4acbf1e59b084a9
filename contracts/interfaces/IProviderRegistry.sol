// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {TeeType} from "./EnclavaTypes.sol";

/**
 * @dev Compute providers: their native-currency stake and their TEE capacity offers.
 *
 * A provider registers with at least the minimum stake, publishes TEE offers (TEE type, GPU
 * class, price per second, slots) and may later ask to unbond; the stake can be withdrawn once the
 * unbonding delay has passed and no accepted order is open. The marketplace reserves and releases
 * TEE offer slots when orders are accepted and settled, and slashes part of the stake when an
 * accepted order times out.
 *
 * Derived state: a TEE offer's used slots and a provider's open orders are the orders accepted on it
 * (`IMarketplace.OrderAccepted`) that are not yet settled; an indexer rebuilds them from the
 * marketplace's events.
 */
interface IProviderRegistry {
    /// @dev A provider's record, as returned by {IProviderRegistry-getProvider}.
    struct Provider {
        uint96 stake;
        uint40 unbondingAt; // 0 while bonded; otherwise when the stake becomes withdrawable
        uint32 openOrders; // accepted orders not yet completed, failed or timed out
        bool registered;
    }

    /// @dev A TEE capacity offer, as returned by {IProviderRegistry-getTeeOffer}.
    struct TeeOffer {
        address provider;
        TeeType teeType;
        bool active;
        bool retired;
        uint16 slots; // orders it runs at once
        uint16 used; // accepted orders running on it now
        uint96 pricePerSecond; // wei per second of compute
        bytes32 gpuClass; // short ASCII label, left-aligned and zero-padded (e.g. "H100-80GB"); fixed once published
    }

    event ProviderRegistered(address indexed provider, uint256 stake);
    event StakeAdded(address indexed provider, uint256 amount, uint256 stake);
    event UnbondingRequested(address indexed provider, uint256 availableAt);
    event StakeWithdrawn(address indexed provider, uint256 amount);
    event StakeSlashed(address indexed provider, bytes32 indexed orderId, address indexed recipient, uint256 amount);
    event TeeOfferPublished(
        uint256 indexed teeOfferId,
        address indexed provider,
        TeeType teeType,
        bytes32 gpuClass,
        uint256 pricePerSecond,
        uint256 slots
    );
    event TeeOfferUpdated(uint256 indexed teeOfferId, uint256 pricePerSecond, uint256 slots, bool active);
    event TeeOfferRetired(uint256 indexed teeOfferId);

    error ProviderStakeTooLow(uint256 stake, uint256 minimum);
    error ProviderAlreadyRegistered(address provider);
    error ProviderNotRegistered(address provider);
    error ProviderIsUnbonding(address provider);
    error ProviderNotUnbonding(address provider);
    error ProviderUnbondingPending(uint256 availableAt);
    error ProviderHasOpenOrders(uint256 openOrders);
    error ProviderZeroValue();
    error ProviderInvalidSlashBps(uint256 slashBps);
    error ProviderInvalidTeeType();
    error ProviderZeroSlots();
    error ProviderUnknownTeeOffer(uint256 teeOfferId);
    error ProviderNotTeeOfferOwner(uint256 teeOfferId, address caller);
    error ProviderTeeOfferRetired(uint256 teeOfferId);
    error ProviderTeeOfferUnavailable(uint256 teeOfferId);
    error ProviderTeeOfferFull(uint256 teeOfferId, uint256 slots);
    error ProviderUnauthorizedMarketplace(address caller);
    error ProviderZeroAddress();

    /// @notice Registers the caller as a provider; `msg.value` is the stake (at least {minStake}).
    function register() external payable;

    /// @notice Adds `msg.value` to the caller's stake.
    function addStake() external payable;

    /// @notice Starts the unbonding delay; from now on the provider accepts no new order.
    function requestUnbonding() external;

    /// @notice Withdraws the whole stake once unbonded with no open order; deregisters the caller.
    function withdrawStake() external;

    /**
     * @notice Publishes a TEE capacity offer of the caller (who must be a bonded provider).
     * @return teeOfferId the new TEE offer's id (ids start at 1).
     */
    function publishTeeOffer(TeeType teeType, bytes32 gpuClass, uint96 pricePerSecond, uint16 slots)
        external
        returns (uint256 teeOfferId);

    /// @notice Changes a TEE offer's price, slots and active flag; only its provider, not once retired.
    /// @dev The TEE type and GPU class never change: orders rely on them until they settle.
    function updateTeeOffer(uint256 teeOfferId, uint96 pricePerSecond, uint16 slots, bool active) external;

    /// @notice Retires a TEE offer for good; running orders finish normally.
    function retireTeeOffer(uint256 teeOfferId) external;


    /**
     * @notice Reserves a slot of `teeOfferId` for an order accepted by `provider`. Marketplace only.
     * @dev Reverts unless `provider` owns the TEE offer, the TEE offer is active with a free slot
     * and the provider is bonded with at least the minimum stake.
     */
    function reserveSlot(uint256 teeOfferId, address provider) external;

    /// @notice Releases a slot reserved by {reserveSlot} once its order settles. Marketplace only.
    function releaseSlot(uint256 teeOfferId) external;

    /**
     * @notice Slashes {slashBps} of `provider`'s stake for the timed-out order `orderId` and sends it
     * to the marketplace, which pays it to `recipient`. Marketplace only.
     * @return amount the slashed amount (0 when the provider has no stake left).
     */
    function slash(address provider, bytes32 orderId, address recipient) external returns (uint256 amount);

    /**
     * @notice What the marketplace needs to create an order on `teeOfferId`.
     * @return provider_ the TEE offer's provider.
     * @return teeType the TEE offer's TEE type.
     * @return pricePerSecond the TEE offer's current price.
     * @return available whether the TEE offer is active and its provider bonded with the minimum stake.
     */
    function teeOfferTerms(uint256 teeOfferId)
        external
        view
        returns (address provider_, TeeType teeType, uint256 pricePerSecond, bool available);

    /// @notice The record of `account` (all zero when it never registered).
    function getProvider(address account) external view returns (Provider memory);

    /// @notice The TEE offer `teeOfferId`; reverts with {ProviderUnknownTeeOffer} when there is none.
    function getTeeOffer(uint256 teeOfferId) external view returns (TeeOffer memory);

    /**
     * @notice The GPU class `teeOfferId` promises (fixed at publication; zero or "cpu": no GPU, see
     * {GpuClasses}); reverts with {ProviderUnknownTeeOffer} when there is none.
     * @dev What the marketplace reads to settle an order: one storage slot, not the whole offer.
     */
    function teeOfferGpuClass(uint256 teeOfferId) external view returns (bytes32);

    /// @notice The number of TEE offers published so far (the last TEE offer id).
    function teeOfferCount() external view returns (uint256);

    /// @notice The minimum stake to register and to accept orders.
    function minStake() external view returns (uint256);

    /// @notice Seconds between {requestUnbonding} and the earliest {withdrawStake}.
    function unbondingDelay() external view returns (uint256);

    /// @notice Share of the stake slashed per timed-out order, in basis points.
    function slashBps() external view returns (uint256);

    /// @notice The marketplace allowed to reserve, release and slash (fixed at construction).
    function marketplace() external view returns (address);
}
