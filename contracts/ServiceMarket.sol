// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Address} from "@openzeppelin/contracts/utils/Address.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

import {ResourceKind, TeeType} from "./interfaces/EnclavaTypes.sol";
import {IAttestationRegistry} from "./interfaces/IAttestationRegistry.sol";
import {IProviderRegistry} from "./interfaces/IProviderRegistry.sol";
import {IResourceRegistry} from "./interfaces/IResourceRegistry.sol";
import {IServiceMarket} from "./interfaces/IServiceMarket.sol";

/**
 * @title ServiceMarket
 * @notice Confidential serving: services of a listed model on a provider's TEE offer, customers'
 * prepaid balances, settlement of cumulative customer-signed vouchers, pull payments.
 * @dev Reads the provider and resource registries and changes none of them. Holds exactly the sum
 * of all account balances plus all credits. The only calls out are views of the registries, the
 * ERC-1271 `staticcall` of a contract-wallet customer, and the final transfers of {reclaim} and
 * {withdraw}, each after its state is written and behind the reentrancy guard.
 */
contract ServiceMarket is IServiceMarket, EIP712, ReentrancyGuard {
    using SafeCast for uint256;

    bytes32 private constant _VOUCHER_TYPEHASH = keccak256(
        "Voucher(bytes32 serviceId,address customer,uint64 inputTokens,uint64 outputTokens,uint64 computeMs,uint256 amount)"
    );

    /// @dev A provider's serving price on a TEE offer; `set` false means per second at the offer's price.
    struct ServingPrice {
        bool set;
        bool perToken;
        uint96 price;
    }

    /// @dev A model's token prices.
    struct TokenPrices {
        uint96 inputPrice;
        uint96 outputPrice;
    }

    IProviderRegistry private immutable _providers;
    IResourceRegistry private immutable _resources;
    IAttestationRegistry private immutable _attestation;
    uint64 private immutable _closeNotice;

    mapping(uint256 modelId => TokenPrices) private _tokenPrices;
    mapping(uint256 teeOfferId => ServingPrice) private _servingPrices;
    mapping(bytes32 serviceId => ServiceState) private _services;
    /// @dev `closableAt` holds the close the customer requested (0: none); {account} folds in the
    /// service's end.
    mapping(bytes32 serviceId => mapping(address customer => Account)) private _accounts;
    mapping(address account => uint256) private _credits;

    /**
     * @param providers the provider registry (TEE offers).
     * @param resources the resource registry (models).
     * @param attestation the attestation registry clients check the service's enclave against.
     * @param closeNotice_ seconds an account stays open for settlement after {requestClose} or the
     * service's end.
     */
    constructor(
        IProviderRegistry providers,
        IResourceRegistry resources,
        IAttestationRegistry attestation,
        uint64 closeNotice_
    ) EIP712("Enclava ServiceMarket", "1") {
        if (
            address(providers) == address(0) || address(resources) == address(0)
                || address(attestation) == address(0)
        ) {
            revert ServiceZeroAddress();
        }
        _providers = providers;
        _resources = resources;
        _attestation = attestation;
        _closeNotice = closeNotice_;
    }

    // ------------------------------------------------------------------------------ prices

    /// @inheritdoc IServiceMarket
    function setTokenPrices(uint256 modelId, uint96 inputPrice, uint96 outputPrice) external {
        // Only the owner and the kind matter here; retirement is read below (unused-return).
        // slither-disable-next-line unused-return
        (address owner, ResourceKind kind,,,) = _resources.resourceTerms(modelId);
        if (kind != ResourceKind.MODEL) revert ServiceNotModel(modelId);
        if (owner != msg.sender) revert ServiceNotModelOwner(modelId, msg.sender);
        if (_resources.getResource(modelId).retired) revert ServiceModelRetired(modelId);
        _tokenPrices[modelId] = TokenPrices({inputPrice: inputPrice, outputPrice: outputPrice});
        emit TokenPricesSet(modelId, inputPrice, outputPrice);
    }

    /// @inheritdoc IServiceMarket
    function setServingPrice(uint256 teeOfferId, bool perToken, uint96 price) external {
        // Only the offer's provider matters to authorise the caller (unused-return).
        // slither-disable-next-line unused-return
        (address provider,,,) = _providers.teeOfferTerms(teeOfferId);
        if (provider != msg.sender || provider == address(0)) revert ServiceNotOfferProvider(teeOfferId, msg.sender);
        _servingPrices[teeOfferId] = ServingPrice({set: true, perToken: perToken, price: price});
        emit ServingPriceSet(teeOfferId, perToken, price);
    }

    // ---------------------------------------------------------------------------- services

    /// @inheritdoc IServiceMarket
    function startService(ServiceTerms calldata terms) external returns (bytes32 serviceId) {
        if (terms.provider != msg.sender) revert ServiceNotProvider(msg.sender, terms.provider);
        // solhint-disable-next-line not-rely-on-time
        if (terms.endsAt <= block.timestamp) revert ServiceEndsInPast(terms.endsAt);
        _requireOffer(terms);
        _requireModel(terms);

        ServiceTerms memory stored = terms;
        stored.nonce = block.number;
        serviceId = keccak256(abi.encode(stored));
        // The rare clash (the same provider starting identical terms within one block) moves to the
        // next free nonce, so an id is never reused.
        while (_services[serviceId].status != ServiceStatus.NONE) {
            ++stored.nonce;
            serviceId = keccak256(abi.encode(stored));
        }
        _services[serviceId] = ServiceState({
            status: ServiceStatus.LIVE,
            endsAt: uint256(terms.endsAt).toUint40(),
            stoppedAt: 0,
            enclave: address(0)
        });
        emit ServiceStarted(serviceId, msg.sender, terms.modelId, terms.teeOfferId, stored);
    }

    /// @inheritdoc IServiceMarket
    function setEndpoint(ServiceTerms calldata terms, string calldata url) external {
        bytes32 serviceId = _requireProviderOfLive(terms);
        emit ServiceEndpointSet(serviceId, url);
    }

    /// @inheritdoc IServiceMarket
    function bindEnclave(ServiceTerms calldata terms, address enclave) external {
        bytes32 serviceId = _requireProviderOfLive(terms);
        (IAttestationRegistry.EnclaveStatus status, IAttestationRegistry.Enclave memory record) =
            _attestation.enclaveStatus(enclave);
        if (status != IAttestationRegistry.EnclaveStatus.VALID) {
            // The reason is read only to explain the refusal (unused-return: `valid` is known false).
            // slither-disable-next-line unused-return
            (, string memory reason) = _attestation.checkEnclave(enclave);
            revert ServiceEnclaveInvalid(enclave, reason);
        }
        if (record.provider != terms.provider) revert ServiceEnclaveProviderMismatch(enclave, record.provider);
        if (record.teeType != terms.teeType) revert ServiceEnclaveTeeTypeMismatch(enclave, record.teeType);
        _services[serviceId].enclave = enclave;
        emit ServiceEnclaveBound(serviceId, enclave);
    }

    /// @inheritdoc IServiceMarket
    function stopService(ServiceTerms calldata terms) external {
        bytes32 serviceId = _requireProviderOfLive(terms);
        ServiceState storage service = _services[serviceId];
        service.status = ServiceStatus.STOPPED;
        service.stoppedAt = block.timestamp.toUint40();
        emit ServiceStopped(serviceId, block.timestamp);
    }

    // ---------------------------------------------------------------------------- accounts

    /// @inheritdoc IServiceMarket
    function deposit(bytes32 serviceId) external payable {
        if (msg.value == 0) revert ServiceZeroDeposit();
        if (!_live(_services[serviceId])) revert ServiceNotLive(serviceId);
        Account storage acct = _accounts[serviceId][msg.sender];
        uint256 requested = acct.closableAt;
        if (requested != 0) revert ServiceAccountClosing(serviceId, msg.sender, requested);
        uint256 balance = acct.balance + msg.value;
        acct.balance = balance.toUint128();
        emit Deposited(serviceId, msg.sender, msg.value, balance);
    }

    /// @inheritdoc IServiceMarket
    function requestClose(bytes32 serviceId) external {
        ServiceState memory service = _services[serviceId];
        if (!_exists(service)) revert ServiceUnknown(serviceId);
        Account storage acct = _accounts[serviceId][msg.sender];
        uint256 requested = acct.closableAt;
        if (requested != 0) revert ServiceAccountClosing(serviceId, msg.sender, requested);
        uint256 closableAt = block.timestamp + _closeNotice;
        acct.closableAt = closableAt.toUint64();
        emit CloseRequested(serviceId, msg.sender, _closesAt(service, closableAt));
    }

    /// @inheritdoc IServiceMarket
    function reclaim(bytes32 serviceId) external nonReentrant {
        ServiceState memory service = _services[serviceId];
        if (!_exists(service)) revert ServiceUnknown(serviceId);
        Account storage acct = _accounts[serviceId][msg.sender];
        uint256 closableAt = _closesAt(service, acct.closableAt);
        // solhint-disable-next-line not-rely-on-time
        if (block.timestamp < closableAt) revert ServiceCloseNoticePending(closableAt);
        uint256 amount = acct.balance;
        if (amount == 0) revert ServiceNothingToReclaim();
        acct.balance = 0;
        // The account is closed for good: no deposit reopens it.
        acct.closableAt = closableAt.toUint64();
        emit Reclaimed(serviceId, msg.sender, amount);
        Address.sendValue(payable(msg.sender), amount);
    }

    /// @inheritdoc IServiceMarket
    function settle(ServiceTerms calldata terms, Voucher calldata voucher, bytes calldata signature) external {
        bytes32 serviceId = keccak256(abi.encode(terms));
        if (voucher.serviceId != serviceId) revert ServiceVoucherServiceMismatch(serviceId, voucher.serviceId);
        ServiceState memory service = _services[serviceId];
        if (!_exists(service)) revert ServiceUnknown(serviceId);
        (,, uint256 amount) = _price(terms, voucher.inputTokens, voucher.outputTokens, voucher.computeMs);
        if (voucher.amount != amount) revert ServiceAmountMismatch(amount, voucher.amount);
        uint256 owed = _requireNewer(serviceId, service, voucher);
        if (!SignatureChecker.isValidSignatureNow(voucher.customer, _voucherDigest(voucher), signature)) {
            revert ServiceInvalidSignature(voucher.customer);
        }
        _record(serviceId, terms, voucher, owed);
    }

    /// @inheritdoc IServiceMarket
    function withdraw() external nonReentrant {
        uint256 amount = _credits[msg.sender];
        if (amount == 0) revert ServiceNothingToWithdraw();
        _credits[msg.sender] = 0;
        emit Withdrawn(msg.sender, amount);
        Address.sendValue(payable(msg.sender), amount);
    }

    // ------------------------------------------------------------------------------- views

    /// @inheritdoc IServiceMarket
    function serviceState(bytes32 serviceId) external view returns (ServiceState memory) {
        return _services[serviceId];
    }

    /// @inheritdoc IServiceMarket
    function account(bytes32 serviceId, address customer) external view returns (Account memory acct) {
        acct = _accounts[serviceId][customer];
        ServiceState memory service = _services[serviceId];
        acct.closableAt = _exists(service) ? _closesAt(service, acct.closableAt).toUint64() : 0;
    }

    /// @inheritdoc IServiceMarket
    function priceOf(ServiceTerms calldata terms, uint64 inputTokens, uint64 outputTokens, uint64 computeMs)
        external
        pure
        returns (uint256 modelPart, uint256 providerPart, uint256 amount)
    {
        return _price(terms, inputTokens, outputTokens, computeMs);
    }

    /// @inheritdoc IServiceMarket
    function serviceIdOf(ServiceTerms calldata terms) external pure returns (bytes32) {
        return keccak256(abi.encode(terms));
    }

    /// @inheritdoc IServiceMarket
    function voucherDigest(Voucher calldata voucher) external view returns (bytes32) {
        return _voucherDigest(voucher);
    }

    /// @inheritdoc IServiceMarket
    function tokenPrices(uint256 modelId) external view returns (uint96 inputPrice, uint96 outputPrice) {
        TokenPrices memory prices = _tokenPrices[modelId];
        return (prices.inputPrice, prices.outputPrice);
    }

    /// @inheritdoc IServiceMarket
    function servingPrice(uint256 teeOfferId) external view returns (bool perToken, uint96 price) {
        return _servingPrice(teeOfferId);
    }

    /// @inheritdoc IServiceMarket
    function creditOf(address account_) external view returns (uint256) {
        return _credits[account_];
    }

    /// @inheritdoc IServiceMarket
    function closeNotice() external view returns (uint256) {
        return _closeNotice;
    }

    /// @inheritdoc IServiceMarket
    function registries() external view returns (address providers, address resources, address attestation) {
        return (address(_providers), address(_resources), address(_attestation));
    }

    /// @notice The EIP-712 domain separator of this contract.
    // solhint-disable-next-line func-name-mixedcase
    function DOMAIN_SEPARATOR() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    // ---------------------------------------------------------------------------- internal

    /// @dev What settling `voucher` takes from its customer's balance, after checking that the
    /// account has not closed, that the voucher is newer than the last one settled (each count at
    /// least as large, the amount larger) and that the balance covers the growth.
    function _requireNewer(bytes32 serviceId, ServiceState memory service, Voucher calldata voucher)
        private
        view
        returns (uint256 owed)
    {
        Account memory prior = _accounts[serviceId][voucher.customer];
        uint256 closableAt = _closesAt(service, prior.closableAt);
        // solhint-disable-next-line not-rely-on-time
        if (block.timestamp >= closableAt) revert ServiceAccountClosed(serviceId, voucher.customer, closableAt);
        if (
            voucher.amount <= prior.settledAmount || voucher.inputTokens < prior.inputTokens
                || voucher.outputTokens < prior.outputTokens || voucher.computeMs < prior.computeMs
        ) {
            revert ServiceVoucherStale(prior.settledAmount, voucher.amount);
        }
        owed = voucher.amount - prior.settledAmount;
        if (owed > prior.balance) revert ServiceBalanceTooLow(prior.balance, owed);
    }

    /// @dev Records `voucher` as the account's last settled one, takes `owed` from its balance and
    /// credits the growth of the model owner's and the provider's parts: O(1), whatever the counts.
    function _record(bytes32 serviceId, ServiceTerms calldata terms, Voucher calldata voucher, uint256 owed)
        private
    {
        Account storage acct = _accounts[serviceId][voucher.customer];
        (uint256 priorModel, uint256 priorProvider,) =
            _price(terms, acct.inputTokens, acct.outputTokens, acct.computeMs);
        (uint256 modelPart, uint256 providerPart,) =
            _price(terms, voucher.inputTokens, voucher.outputTokens, voucher.computeMs);
        // owed <= balance (checked), so the subtraction cannot underflow nor the cast truncate.
        acct.balance -= uint128(owed);
        acct.settledAmount = voucher.amount.toUint128();
        acct.inputTokens = voucher.inputTokens;
        acct.outputTokens = voucher.outputTokens;
        acct.computeMs = voucher.computeMs;
        uint256 modelCredit = modelPart - priorModel;
        uint256 providerCredit = providerPart - priorProvider;
        _credits[terms.modelOwner] += modelCredit;
        _credits[terms.provider] += providerCredit;
        emit VoucherSettled(
            serviceId,
            voucher.customer,
            voucher.inputTokens,
            voucher.outputTokens,
            voucher.computeMs,
            voucher.amount,
            modelCredit,
            providerCredit
        );
    }

    /// @dev Reverts unless the offer is the caller's, available, of the terms' TEE type, at the
    /// terms' serving price.
    function _requireOffer(ServiceTerms calldata terms) private view {
        uint256 teeOfferId = terms.teeOfferId;
        // The offer's price per second is read by {_servingPrice} when no serving price is set.
        // slither-disable-next-line unused-return
        (address provider, TeeType teeType,, bool available) = _providers.teeOfferTerms(teeOfferId);
        if (provider != msg.sender) revert ServiceNotOfferProvider(teeOfferId, msg.sender);
        if (!available) revert ServiceTeeOfferUnavailable(teeOfferId);
        if (teeType != terms.teeType) revert ServiceTeeTypeMismatch(teeType, terms.teeType);
        (bool perToken, uint96 price) = _servingPrice(teeOfferId);
        if (perToken != terms.providerPerToken || price != terms.providerPrice) {
            revert ServiceServingPriceChanged(teeOfferId);
        }
    }

    /// @dev Reverts unless the model is an active MODEL resource of the terms' owner and content
    /// hash, offered for serving at the terms' token prices.
    function _requireModel(ServiceTerms calldata terms) private view {
        uint256 modelId = terms.modelId;
        // The listing's price per use is for orders, not for serving (unused-return).
        // slither-disable-next-line unused-return
        (address owner, ResourceKind kind, bool active,, bytes32 contentHash) = _resources.resourceTerms(modelId);
        if (kind != ResourceKind.MODEL) revert ServiceNotModel(modelId);
        if (!active) revert ServiceModelInactive(modelId);
        if (owner != terms.modelOwner) revert ServiceModelOwnerMismatch(owner, terms.modelOwner);
        if (contentHash != terms.modelHash) revert ServiceModelHashMismatch(contentHash, terms.modelHash);
        TokenPrices memory prices = _tokenPrices[modelId];
        if (prices.inputPrice == 0 && prices.outputPrice == 0) revert ServiceNoTokenPrices(modelId);
        if (prices.inputPrice != terms.inputTokenPrice || prices.outputPrice != terms.outputTokenPrice) {
            revert ServiceTokenPricesChanged(modelId);
        }
    }

    /// @dev The service id of `terms`, after checking that the caller is its provider and it is live.
    function _requireProviderOfLive(ServiceTerms calldata terms) private view returns (bytes32 serviceId) {
        serviceId = keccak256(abi.encode(terms));
        if (!_live(_services[serviceId])) revert ServiceNotLive(serviceId);
        if (terms.provider != msg.sender) revert ServiceNotProvider(msg.sender, terms.provider);
    }

    function _servingPrice(uint256 teeOfferId) private view returns (bool perToken, uint96 price) {
        ServingPrice memory sp = _servingPrices[teeOfferId];
        if (sp.set) return (sp.perToken, sp.price);
        // Unset: the offer's price per second is the serving price; nothing else is needed (unused-return).
        // slither-disable-next-line unused-return
        (,, uint256 pricePerSecond,) = _providers.teeOfferTerms(teeOfferId);
        return (false, pricePerSecond.toUint96());
    }

    // Slither taints a whole state word through its times and flags every `==` on it as an
    // incorrect-equality; the enum checks below are written with `!=` so that none is one.

    /// @dev Started (stopped or not).
    function _exists(ServiceState memory service) private pure returns (bool) {
        return service.status != ServiceStatus.NONE;
    }

    /// @dev Live: started, not stopped, and before its `endsAt`.
    function _live(ServiceState memory service) private view returns (bool) {
        if (service.status != ServiceStatus.LIVE) return false;
        // solhint-disable-next-line not-rely-on-time
        return block.timestamp < service.endsAt;
    }

    /// @dev When an account closes: its requested close (`requested`, 0 for none), or the service's
    /// end plus the close notice, whichever comes first.
    function _closesAt(ServiceState memory service, uint256 requested) private view returns (uint256) {
        uint256 end = service.status != ServiceStatus.STOPPED ? service.endsAt : service.stoppedAt;
        uint256 closesAt = end + _closeNotice;
        return requested != 0 && requested < closesAt ? requested : closesAt;
    }

    function _price(ServiceTerms calldata terms, uint256 inputTokens, uint256 outputTokens, uint256 computeMs)
        private
        pure
        returns (uint256 modelPart, uint256 providerPart, uint256 amount)
    {
        modelPart = inputTokens * terms.inputTokenPrice + outputTokens * terms.outputTokenPrice;
        providerPart = terms.providerPerToken
            ? (inputTokens + outputTokens) * terms.providerPrice
            : computeMs * terms.providerPrice / 1000;
        amount = modelPart + providerPart;
    }

    function _voucherDigest(Voucher calldata voucher) private view returns (bytes32) {
        return _hashTypedDataV4(
            keccak256(
                abi.encode(
                    _VOUCHER_TYPEHASH,
                    voucher.serviceId,
                    voucher.customer,
                    voucher.inputTokens,
                    voucher.outputTokens,
                    voucher.computeMs,
                    voucher.amount
                )
            )
        );
    }
}
