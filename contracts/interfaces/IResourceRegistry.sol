// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ResourceKind} from "./EnclavaTypes.sol";

/**
 * @dev Resources that model owners and data owners list for use in orders: engines, models and
 * datasets, each an encrypted file on IPFS (CID + SHA-256 of the ciphertext) with a price per use.
 *
 * Every write also exists as a `...BySig` variant that anyone (the marketplace API as a relayer) may
 * submit with the owner's EIP-712 signature; each signature carries the owner's current
 * {nonces} value and a deadline, so it is used at most once and only in time. Signatures are
 * checked with OpenZeppelin's `SignatureChecker` (EOAs and ERC-1271 contract wallets).
 *
 * EIP-712 domain: name "Enclava ResourceRegistry", version "1", this chain's id, this contract. Types:
 *
 * - `ListResource(address owner,uint8 kind,string cid,bytes32 contentHash,uint96 price,string metadataCid,uint256 nonce,uint256 deadline)`
 * - `UpdateResource(uint256 resourceId,string cid,bytes32 contentHash,uint96 price,string metadataCid,bool active,uint256 nonce,uint256 deadline)`
 * - `RetireResource(uint256 resourceId,uint256 nonce,uint256 deadline)`
 */
interface IResourceRegistry {
    /// @dev The fields an owner sets when listing a resource.
    struct Listing {
        ResourceKind kind;
        string cid; // IPFS CID of the encrypted file
        bytes32 contentHash; // SHA-256 of the ciphertext
        uint96 price; // wei per use
        string metadataCid; // IPFS CID of public metadata (may be empty)
    }

    /// @dev The fields an owner may change later.
    struct Update {
        string cid;
        bytes32 contentHash;
        uint96 price;
        string metadataCid;
        bool active;
    }

    /// @dev A listed resource, as returned by {IResourceRegistry-getResource}.
    struct Resource {
        address owner;
        uint96 price;
        bytes32 contentHash;
        ResourceKind kind;
        bool active;
        bool retired;
        string cid;
        string metadataCid;
    }

    event ResourceListed(
        uint256 indexed resourceId,
        address indexed owner,
        ResourceKind kind,
        string cid,
        bytes32 contentHash,
        uint256 price,
        string metadataCid
    );
    event ResourceUpdated(
        uint256 indexed resourceId, string cid, bytes32 contentHash, uint256 price, string metadataCid, bool active
    );
    event ResourceRetired(uint256 indexed resourceId);
    /// @dev Emitted when a `...BySig` call consumes `owner`'s signature nonce.
    event NonceUsed(address indexed owner, uint256 nonce);

    error ResourceInvalidKind();
    error ResourceEmptyCid();
    error ResourceZeroContentHash();
    error ResourceZeroOwner();
    error ResourceUnknown(uint256 resourceId);
    error ResourceNotOwner(uint256 resourceId, address caller);
    error ResourceAlreadyRetired(uint256 resourceId);
    error ResourceSignatureExpired(uint256 deadline);
    error ResourceInvalidSignature(address owner);

    /**
     * @notice Lists a resource owned by the caller.
     * @return resourceId the new resource's id (ids start at 1).
     */
    function listResource(Listing calldata listing) external returns (uint256 resourceId);

    /// @notice Changes a resource's content, price, metadata and active flag; only its owner.
    function updateResource(uint256 resourceId, Update calldata update) external;

    /// @notice Retires a resource for good: inactive, and no longer updatable.
    function retireResource(uint256 resourceId) external;

    /**
     * @notice {listResource} on behalf of `owner`, who signed a `ListResource` struct.
     * @return resourceId the new resource's id.
     */
    function listResourceBySig(address owner, Listing calldata listing, uint256 deadline, bytes calldata signature)
        external
        returns (uint256 resourceId);

    /// @notice {updateResource} on behalf of the owner, who signed an `UpdateResource` struct.
    function updateResourceBySig(
        uint256 resourceId,
        Update calldata update,
        uint256 deadline,
        bytes calldata signature
    ) external;

    /// @notice {retireResource} on behalf of the owner, who signed a `RetireResource` struct.
    function retireResourceBySig(uint256 resourceId, uint256 deadline, bytes calldata signature) external;

    /// @notice The resource `resourceId`; reverts with {ResourceUnknown} when there is none.
    function getResource(uint256 resourceId) external view returns (Resource memory);

    /**
     * @notice The fields an order needs, without the strings (all zero for an unknown id).
     */
    function resourceTerms(uint256 resourceId)
        external
        view
        returns (address owner, ResourceKind kind, bool active, uint256 price, bytes32 contentHash);

    /// @notice The number of resources listed so far (the last resource id).
    function resourceCount() external view returns (uint256);

    /// @notice The nonce the next signature of `owner` must carry.
    function nonces(address owner) external view returns (uint256);
}
