"""The EIP-712 typed messages Enclava's contracts hash: one table, one builder.

Every signed struct a contract recovers is listed in :data:`MESSAGES` with the EIP-712 domain name
of the contract that hashes it (all at version :data:`VERSION`) and its fields in the order of the
contract's type hash:

=====================  ================================  ==========================================
message                domain (contract)                 type hash in
=====================  ================================  ==========================================
``ListResource``       ``Enclava ResourceRegistry``      contracts/ResourceRegistry.sol
``UpdateResource``     ``Enclava ResourceRegistry``      contracts/ResourceRegistry.sol
``RetireResource``     ``Enclava ResourceRegistry``      contracts/ResourceRegistry.sol
``EnclaveCertificate`` ``Enclava AttestationRegistry``   contracts/AttestationRegistry.sol
``EnclaveConsent``     ``Enclava AttestationRegistry``   contracts/AttestationRegistry.sol
``IntegrityReport``    ``Enclava Marketplace``           contracts/Marketplace.sol
``OrderFailure``       ``Enclava Marketplace``           contracts/Marketplace.sol
``Voucher``            ``Enclava ServiceMarket``         contracts/ServiceMarket.sol
=====================  ================================  ==========================================

:func:`typed_data` builds the full message eth-account's ``encode_typed_data(full_message=...)``
signs and recovers; the services, the client, the gas bench and the contract tests all build it
here, so a signer and the contract it signs for hash the same bytes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final

from eth_utils.address import to_checksum_address

__all__ = [
    "VERSION",
    "RESOURCE_REGISTRY",
    "ATTESTATION_REGISTRY",
    "MARKETPLACE",
    "SERVICE_MARKET",
    "DOMAIN_FIELDS",
    "TypedMessage",
    "MESSAGES",
    "field_names",
    "message_types",
    "domain",
    "typed_data",
]

#: The version every Enclava contract passes to OpenZeppelin's ``EIP712(name, version)``.
VERSION: Final = "1"

#: The EIP-712 domain names, as the contracts' constructors pass them.
RESOURCE_REGISTRY: Final = "Enclava ResourceRegistry"
ATTESTATION_REGISTRY: Final = "Enclava AttestationRegistry"
MARKETPLACE: Final = "Enclava Marketplace"
SERVICE_MARKET: Final = "Enclava ServiceMarket"

#: One struct member: (name, Solidity type).
Field = tuple[str, str]

#: ``EIP712Domain`` as OpenZeppelin's EIP712 hashes it (no salt).
DOMAIN_FIELDS: Final[tuple[Field, ...]] = (
    ("name", "string"),
    ("version", "string"),
    ("chainId", "uint256"),
    ("verifyingContract", "address"),
)


@dataclass(frozen=True)
class TypedMessage:
    """One signed struct: the domain name of the contract that hashes it, and its fields."""

    domain: str
    fields: tuple[Field, ...]


MESSAGES: Final[Mapping[str, TypedMessage]] = MappingProxyType(
    {
        "ListResource": TypedMessage(
            RESOURCE_REGISTRY,
            (
                ("owner", "address"),
                ("kind", "uint8"),
                ("cid", "string"),
                ("contentHash", "bytes32"),
                ("price", "uint96"),
                ("metadataCid", "string"),
                ("nonce", "uint256"),
                ("deadline", "uint256"),
            ),
        ),
        "UpdateResource": TypedMessage(
            RESOURCE_REGISTRY,
            (
                ("resourceId", "uint256"),
                ("cid", "string"),
                ("contentHash", "bytes32"),
                ("price", "uint96"),
                ("metadataCid", "string"),
                ("active", "bool"),
                ("nonce", "uint256"),
                ("deadline", "uint256"),
            ),
        ),
        "RetireResource": TypedMessage(
            RESOURCE_REGISTRY,
            (("resourceId", "uint256"), ("nonce", "uint256"), ("deadline", "uint256")),
        ),
        "EnclaveCertificate": TypedMessage(
            ATTESTATION_REGISTRY,
            (
                ("enclave", "address"),
                ("teeType", "uint8"),
                ("measurement", "bytes32"),
                ("provider", "address"),
                ("expiresAt", "uint64"),
                ("nonce", "bytes32"),
                ("gpuClass", "bytes32"),
                ("gpuCount", "uint8"),
            ),
        ),
        "EnclaveConsent": TypedMessage(
            ATTESTATION_REGISTRY,
            (("enclave", "address"), ("provider", "address"), ("nonce", "bytes32")),
        ),
        "IntegrityReport": TypedMessage(
            MARKETPLACE,
            (
                ("orderId", "bytes32"),
                ("engineHash", "bytes32"),
                ("inputsHash", "bytes32"),
                ("outputHash", "bytes32"),
                ("outputCid", "string"),
                ("teeType", "uint8"),
                ("measurement", "bytes32"),
                ("enclave", "address"),
                ("startedAt", "uint64"),
                ("finishedAt", "uint64"),
            ),
        ),
        "OrderFailure": TypedMessage(
            MARKETPLACE,
            (
                ("orderId", "bytes32"),
                ("enclave", "address"),
                ("reasonCode", "uint32"),
                ("detailCid", "string"),
            ),
        ),
        "Voucher": TypedMessage(
            SERVICE_MARKET,
            (
                ("serviceId", "bytes32"),
                ("customer", "address"),
                ("inputTokens", "uint64"),
                ("outputTokens", "uint64"),
                ("computeMs", "uint64"),
                ("amount", "uint256"),
            ),
        ),
    }
)


def field_names(primary_type: str) -> tuple[str, ...]:
    """The member names of ``primary_type``, in struct (ABI tuple) order."""
    return tuple(name for name, _ in MESSAGES[primary_type].fields)


def message_types(primary_type: str) -> dict[str, list[dict[str, str]]]:
    """The ``types`` of the typed data: ``EIP712Domain`` and ``primary_type``'s members."""
    return {
        "EIP712Domain": _members(DOMAIN_FIELDS),
        primary_type: _members(MESSAGES[primary_type].fields),
    }


def domain(primary_type: str, *, chain_id: int, contract: str) -> dict[str, Any]:
    """The domain ``primary_type`` is signed under: its contract's, on chain ``chain_id``.

    ``contract`` is the verifying contract's address (any case; it is checksummed).
    """
    return {
        "name": MESSAGES[primary_type].domain,
        "version": VERSION,
        "chainId": int(chain_id),
        "verifyingContract": str(to_checksum_address(contract)),
    }


def typed_data(
    primary_type: str, message: dict[str, Any], *, chain_id: int, contract: str
) -> dict[str, Any]:
    """The full EIP-712 ``primary_type`` message ``message``, exactly as its contract hashes it.

    ``message`` is passed through as given (its values in eth-account's typed-data form).
    """
    return {
        "types": message_types(primary_type),
        "primaryType": primary_type,
        "domain": domain(primary_type, chain_id=chain_id, contract=contract),
        "message": message,
    }


def _members(fields: tuple[Field, ...]) -> list[dict[str, str]]:
    return [{"name": name, "type": kind} for name, kind in fields]
