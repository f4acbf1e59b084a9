// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";
import {Nonces} from "@openzeppelin/contracts/utils/Nonces.sol";

import {ResourceKind} from "./interfaces/EnclavaTypes.sol";
import {IResourceRegistry} from "./interfaces/IResourceRegistry.sol";

/**
 * @title ResourceRegistry
 * @notice Engines, models and datasets listed by their owners, directly or through a
 * relayer with the owner's EIP-712 signature. Holds no funds.
 */
contract ResourceRegistry is IResourceRegistry, EIP712, Nonces {
    bytes32 private constant _LIST_TYPEHASH = keccak256(
        "ListResource(address owner,uint8 kind,string cid,bytes32 contentHash,uint96 price,string metadataCid,uint256 nonce,uint256 deadline)"
    );
    bytes32 private constant _UPDATE_TYPEHASH = keccak256(
        "UpdateResource(uint256 resourceId,string cid,bytes32 contentHash,uint96 price,string metadataCid,bool active,uint256 nonce,uint256 deadline)"
    );
    bytes32 private constant _RETIRE_TYPEHASH =
        keccak256("RetireResource(uint256 resourceId,uint256 nonce,uint256 deadline)");

    uint256 private _resourceCount;
    mapping(uint256 resourceId => Resource) private _resources;

    constructor() EIP712("Enclava ResourceRegistry", "1") {}

    // ------------------------------------------------------------------------------- direct

    /// @inheritdoc IResourceRegistry
    function listResource(Listing calldata listing) external returns (uint256 resourceId) {
        return _list(msg.sender, listing);
    }

    /// @inheritdoc IResourceRegistry
    function updateResource(uint256 resourceId, Update calldata update) external {
        _requireUpdatable(resourceId, msg.sender);
        _update(resourceId, update);
    }

    /// @inheritdoc IResourceRegistry
    function retireResource(uint256 resourceId) external {
        _requireUpdatable(resourceId, msg.sender);
        _retire(resourceId);
    }

    // ------------------------------------------------------------------------------- signed

    /// @inheritdoc IResourceRegistry
    function listResourceBySig(address owner, Listing calldata listing, uint256 deadline, bytes calldata signature)
        external
        returns (uint256 resourceId)
    {
        if (owner == address(0)) revert ResourceZeroOwner();
        bytes32 structHash = keccak256(
            abi.encode(
                _LIST_TYPEHASH,
                owner,
                uint8(listing.kind),
                keccak256(bytes(listing.cid)),
                listing.contentHash,
                listing.price,
                keccak256(bytes(listing.metadataCid)),
                _useSignatureNonce(owner),
                deadline
            )
        );
        _requireSignature(owner, structHash, deadline, signature);
        return _list(owner, listing);
    }

    /// @inheritdoc IResourceRegistry
    function updateResourceBySig(
        uint256 resourceId,
        Update calldata update,
        uint256 deadline,
        bytes calldata signature
    ) external {
        address owner = _resources[resourceId].owner;
        _requireUpdatable(resourceId, owner);
        bytes32 structHash = keccak256(
            abi.encode(
                _UPDATE_TYPEHASH,
                resourceId,
                keccak256(bytes(update.cid)),
                update.contentHash,
                update.price,
                keccak256(bytes(update.metadataCid)),
                update.active,
                _useSignatureNonce(owner),
                deadline
            )
        );
        _requireSignature(owner, structHash, deadline, signature);
        _update(resourceId, update);
    }

    /// @inheritdoc IResourceRegistry
    function retireResourceBySig(uint256 resourceId, uint256 deadline, bytes calldata signature) external {
        address owner = _resources[resourceId].owner;
        _requireUpdatable(resourceId, owner);
        bytes32 structHash = keccak256(abi.encode(_RETIRE_TYPEHASH, resourceId, _useSignatureNonce(owner), deadline));
        _requireSignature(owner, structHash, deadline, signature);
        _retire(resourceId);
    }

    // -------------------------------------------------------------------------------- views

    /// @inheritdoc IResourceRegistry
    function getResource(uint256 resourceId) external view returns (Resource memory) {
        Resource storage r = _resources[resourceId];
        if (r.owner == address(0)) revert ResourceUnknown(resourceId);
        return r;
    }

    /// @inheritdoc IResourceRegistry
    function resourceTerms(uint256 resourceId)
        external
        view
        returns (address owner, ResourceKind kind, bool active, uint256 price, bytes32 contentHash)
    {
        Resource storage r = _resources[resourceId];
        return (r.owner, r.kind, r.active, r.price, r.contentHash);
    }

    /// @inheritdoc IResourceRegistry
    function resourceCount() external view returns (uint256) {
        return _resourceCount;
    }

    /// @inheritdoc IResourceRegistry
    function nonces(address owner) public view override(IResourceRegistry, Nonces) returns (uint256) {
        return super.nonces(owner);
    }

    /// @notice The EIP-712 domain separator of this contract.
    // solhint-disable-next-line func-name-mixedcase
    function DOMAIN_SEPARATOR() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    // ----------------------------------------------------------------------------- internal

    function _list(address owner, Listing calldata listing) private returns (uint256 resourceId) {
        if (listing.kind == ResourceKind.NONE) revert ResourceInvalidKind();
        _requireContent(listing.cid, listing.contentHash);
        resourceId = ++_resourceCount;
        Resource storage r = _resources[resourceId];
        r.owner = owner;
        r.price = listing.price;
        r.contentHash = listing.contentHash;
        r.kind = listing.kind;
        r.active = true;
        r.cid = listing.cid;
        r.metadataCid = listing.metadataCid;
        emit ResourceListed(
            resourceId, owner, listing.kind, listing.cid, listing.contentHash, listing.price, listing.metadataCid
        );
    }

    function _update(uint256 resourceId, Update calldata update) private {
        _requireContent(update.cid, update.contentHash);
        Resource storage r = _resources[resourceId];
        r.price = update.price;
        r.contentHash = update.contentHash;
        r.active = update.active;
        r.cid = update.cid;
        r.metadataCid = update.metadataCid;
        emit ResourceUpdated(resourceId, update.cid, update.contentHash, update.price, update.metadataCid, update.active);
    }

    function _retire(uint256 resourceId) private {
        Resource storage r = _resources[resourceId];
        r.active = false;
        r.retired = true;
        emit ResourceRetired(resourceId);
    }

    function _requireUpdatable(uint256 resourceId, address caller) private view {
        Resource storage r = _resources[resourceId];
        if (r.owner == address(0)) revert ResourceUnknown(resourceId);
        if (r.owner != caller) revert ResourceNotOwner(resourceId, caller);
        if (r.retired) revert ResourceAlreadyRetired(resourceId);
    }

    function _requireContent(string calldata cid, bytes32 contentHash) private pure {
        if (bytes(cid).length == 0) revert ResourceEmptyCid();
        if (contentHash == bytes32(0)) revert ResourceZeroContentHash();
    }

    function _useSignatureNonce(address owner) private returns (uint256 nonce) {
        nonce = _useNonce(owner);
        emit NonceUsed(owner, nonce);
    }

    function _requireSignature(address owner, bytes32 structHash, uint256 deadline, bytes calldata signature)
        private
        view
    {
        // solhint-disable-next-line not-rely-on-time
        if (block.timestamp > deadline) revert ResourceSignatureExpired(deadline);
        if (!SignatureChecker.isValidSignatureNow(owner, _hashTypedDataV4(structHash), signature)) {
            revert ResourceInvalidSignature(owner);
        }
    }
}
