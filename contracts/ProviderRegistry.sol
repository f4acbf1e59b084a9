// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Address} from "@openzeppelin/contracts/utils/Address.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

import {TeeType} from "./interfaces/EnclavaTypes.sol";
import {IMarketplace} from "./interfaces/IMarketplace.sol";
import {IProviderRegistry} from "./interfaces/IProviderRegistry.sol";

/**
 * @title ProviderRegistry
 * @notice Compute providers' stakes and TEE capacity offers. This contract holds exactly the sum of
 * all providers' stakes; slashed stake leaves it for the marketplace, credited to the customer.
 * @dev The marketplace is fixed at construction (the deploy script predicts its address), so this
 * registry has no owner and its marketplace hooks read no storage to authorise a call.
 */
contract ProviderRegistry is IProviderRegistry {
    uint256 private constant _BPS = 10_000;

    uint256 private immutable _minStake;
    uint256 private immutable _unbondingDelay;
    uint256 private immutable _slashBps;
    address private immutable _marketplace;

    uint256 private _teeOfferCount;
    mapping(address account => Provider) private _providers;
    mapping(uint256 teeOfferId => TeeOffer) private _teeOffers;

    modifier onlyMarketplace() {
        if (msg.sender != _marketplace) revert ProviderUnauthorizedMarketplace(msg.sender);
        _;
    }

    /**
     * @param minStake_ the minimum stake, in wei, to register and to accept orders.
     * @param unbondingDelay_ seconds between {requestUnbonding} and the earliest {withdrawStake}.
     * @param slashBps_ share of the stake slashed per timed-out order, in basis points (at most 10,000).
     * @param marketplace_ the marketplace allowed to reserve and release slots and to slash; it
     * must be deployed at this address (a marketplace checks it in its constructor).
     */
    constructor(uint256 minStake_, uint256 unbondingDelay_, uint256 slashBps_, address marketplace_) {
        if (minStake_ == 0) revert ProviderZeroValue();
        if (slashBps_ > _BPS) revert ProviderInvalidSlashBps(slashBps_);
        if (marketplace_ == address(0)) revert ProviderZeroAddress();
        _minStake = minStake_;
        _unbondingDelay = unbondingDelay_;
        _slashBps = slashBps_;
        _marketplace = marketplace_;
    }

    // ---------------------------------------------------------------------------------- stake

    /// @inheritdoc IProviderRegistry
    function register() external payable {
        Provider storage p = _providers[msg.sender];
        if (p.registered) revert ProviderAlreadyRegistered(msg.sender);
        if (msg.value < _minStake) revert ProviderStakeTooLow(msg.value, _minStake);
        p.stake = SafeCast.toUint96(msg.value);
        p.registered = true;
        emit ProviderRegistered(msg.sender, msg.value);
    }

    /// @inheritdoc IProviderRegistry
    function addStake() external payable {
        Provider storage p = _requireRegistered(msg.sender);
        if (msg.value == 0) revert ProviderZeroValue();
        uint256 stake = p.stake + msg.value;
        p.stake = SafeCast.toUint96(stake);
        emit StakeAdded(msg.sender, msg.value, stake);
    }

    /// @inheritdoc IProviderRegistry
    function requestUnbonding() external {
        Provider storage p = _requireRegistered(msg.sender);
        if (p.unbondingAt != 0) revert ProviderIsUnbonding(msg.sender);
        uint256 availableAt = block.timestamp + _unbondingDelay;
        p.unbondingAt = SafeCast.toUint40(availableAt);
        emit UnbondingRequested(msg.sender, availableAt);
    }

    /// @inheritdoc IProviderRegistry
    function withdrawStake() external {
        Provider storage p = _requireRegistered(msg.sender);
        uint256 availableAt = p.unbondingAt;
        if (availableAt == 0) revert ProviderNotUnbonding(msg.sender);
        if (block.timestamp < availableAt) revert ProviderUnbondingPending(availableAt);
        if (p.openOrders != 0) revert ProviderHasOpenOrders(p.openOrders);
        uint256 amount = p.stake;
        delete _providers[msg.sender];
        emit StakeWithdrawn(msg.sender, amount);
        Address.sendValue(payable(msg.sender), amount);
    }

    // ----------------------------------------------------------------------------- TEE offers

    /// @inheritdoc IProviderRegistry
    function publishTeeOffer(TeeType teeType, bytes32 gpuClass, uint96 pricePerSecond, uint16 slots)
        external
        returns (uint256 teeOfferId)
    {
        Provider storage p = _requireRegistered(msg.sender);
        if (p.unbondingAt != 0) revert ProviderIsUnbonding(msg.sender);
        if (teeType == TeeType.NONE) revert ProviderInvalidTeeType();
        if (slots == 0) revert ProviderZeroSlots();
        teeOfferId = ++_teeOfferCount;
        _teeOffers[teeOfferId] = TeeOffer({
            provider: msg.sender,
            teeType: teeType,
            active: true,
            retired: false,
            slots: slots,
            used: 0,
            pricePerSecond: pricePerSecond,
            gpuClass: gpuClass
        });
        emit TeeOfferPublished(teeOfferId, msg.sender, teeType, gpuClass, pricePerSecond, slots);
    }

    /// @inheritdoc IProviderRegistry
    function updateTeeOffer(uint256 teeOfferId, uint96 pricePerSecond, uint16 slots, bool active) external {
        TeeOffer storage o = _requireTeeOfferOwner(teeOfferId);
        if (slots == 0) revert ProviderZeroSlots();
        o.pricePerSecond = pricePerSecond;
        o.slots = slots;
        o.active = active;
        emit TeeOfferUpdated(teeOfferId, pricePerSecond, slots, active);
    }

    /// @inheritdoc IProviderRegistry
    function retireTeeOffer(uint256 teeOfferId) external {
        TeeOffer storage o = _requireTeeOfferOwner(teeOfferId);
        o.active = false;
        o.retired = true;
        emit TeeOfferRetired(teeOfferId);
    }

    // ---------------------------------------------------------------------------- marketplace

    /// @inheritdoc IProviderRegistry
    function reserveSlot(uint256 teeOfferId, address provider_) external onlyMarketplace {
        TeeOffer storage o = _teeOffers[teeOfferId];
        if (o.provider != provider_) revert ProviderNotTeeOfferOwner(teeOfferId, provider_);
        if (!o.active) revert ProviderTeeOfferUnavailable(teeOfferId);
        if (o.used >= o.slots) revert ProviderTeeOfferFull(teeOfferId, o.slots);
        Provider storage p = _providers[provider_];
        if (p.unbondingAt != 0) revert ProviderIsUnbonding(provider_);
        if (p.stake < _minStake) revert ProviderStakeTooLow(p.stake, _minStake);
        o.used += 1;
        p.openOrders += 1;
    }

    /// @inheritdoc IProviderRegistry
    function releaseSlot(uint256 teeOfferId) external onlyMarketplace {
        TeeOffer storage o = _teeOffers[teeOfferId];
        o.used -= 1;
        _providers[o.provider].openOrders -= 1;
    }

    /// @inheritdoc IProviderRegistry
    function slash(address provider_, bytes32 orderId, address recipient)
        external
        onlyMarketplace
        returns (uint256 amount)
    {
        Provider storage p = _providers[provider_];
        amount = (uint256(p.stake) * _slashBps) / _BPS;
        if (amount == 0) return 0;
        p.stake -= SafeCast.toUint96(amount);
        emit StakeSlashed(provider_, orderId, recipient, amount);
        IMarketplace(msg.sender).paySlash{value: amount}(orderId, recipient);
    }

    // ---------------------------------------------------------------------------------- views

    /// @inheritdoc IProviderRegistry
    function teeOfferTerms(uint256 teeOfferId)
        external
        view
        returns (address provider_, TeeType teeType, uint256 pricePerSecond, bool available)
    {
        TeeOffer storage o = _teeOffers[teeOfferId];
        provider_ = o.provider;
        teeType = o.teeType;
        pricePerSecond = o.pricePerSecond;
        Provider storage p = _providers[provider_];
        available = o.active && p.unbondingAt == 0 && p.stake >= _minStake;
    }

    /// @inheritdoc IProviderRegistry
    function getProvider(address account) external view returns (Provider memory) {
        return _providers[account];
    }

    /// @inheritdoc IProviderRegistry
    function getTeeOffer(uint256 teeOfferId) external view returns (TeeOffer memory) {
        TeeOffer storage o = _teeOffers[teeOfferId];
        if (o.provider == address(0)) revert ProviderUnknownTeeOffer(teeOfferId);
        return o;
    }

    /// @inheritdoc IProviderRegistry
    function teeOfferGpuClass(uint256 teeOfferId) external view returns (bytes32) {
        TeeOffer storage o = _teeOffers[teeOfferId];
        if (o.provider == address(0)) revert ProviderUnknownTeeOffer(teeOfferId);
        return o.gpuClass;
    }

    /// @inheritdoc IProviderRegistry
    function teeOfferCount() external view returns (uint256) {
        return _teeOfferCount;
    }

    /// @inheritdoc IProviderRegistry
    function minStake() external view returns (uint256) {
        return _minStake;
    }

    /// @inheritdoc IProviderRegistry
    function unbondingDelay() external view returns (uint256) {
        return _unbondingDelay;
    }

    /// @inheritdoc IProviderRegistry
    function slashBps() external view returns (uint256) {
        return _slashBps;
    }

    /// @inheritdoc IProviderRegistry
    function marketplace() external view returns (address) {
        return _marketplace;
    }

    // ------------------------------------------------------------------------------- internal

    function _requireRegistered(address account) private view returns (Provider storage p) {
        p = _providers[account];
        if (!p.registered) revert ProviderNotRegistered(account);
    }

    function _requireTeeOfferOwner(uint256 teeOfferId) private view returns (TeeOffer storage o) {
        o = _teeOffers[teeOfferId];
        if (o.provider == address(0)) revert ProviderUnknownTeeOffer(teeOfferId);
        if (o.provider != msg.sender) revert ProviderNotTeeOfferOwner(teeOfferId, msg.sender);
        if (o.retired) revert ProviderTeeOfferRetired(teeOfferId);
    }
}
