"""The integrity report's EIP-712 digest and the order hashes, computed in Python.

Independent of the contract on purpose: a verifier recomputes every hash from the values in the
events and compares with what the contract says, so a bug or a lie on either side shows up. The
layouts follow contracts/NOTES.md ("EIP-712", "Orders are stored as a hash of their terms").
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from eth_abi import encode
from eth_utils import keccak, to_checksum_address

__all__ = [
    "REPORT_TYPE",
    "ORDER_TERMS_ABI",
    "domain_separator",
    "report_struct_hash",
    "report_digest",
    "report_typed_data",
    "inputs_hash",
    "order_id_of",
    "report_tuple",
]

REPORT_TYPE = ("IntegrityReport(bytes32 orderId,bytes32 engineHash,bytes32 inputsHash,bytes32 outputHash,"
               "string outputCid,uint8 teeType,bytes32 measurement,address enclave,uint64 startedAt,"
               "uint64 finishedAt)")
_DOMAIN_TYPE = "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
MARKETPLACE_DOMAIN_NAME = "Enclava Marketplace"
ORDER_TERMS_ABI = ("(uint256,address,address,uint256,uint8,uint256,uint256,bytes32,bytes32,bytes32,"
                   "(uint256,address,uint256)[])")
_REPORT_FIELDS = (("orderId", "bytes32"), ("engineHash", "bytes32"), ("inputsHash", "bytes32"),
                  ("outputHash", "bytes32"), ("outputCid", "string"), ("teeType", "uint8"),
                  ("measurement", "bytes32"), ("enclave", "address"), ("startedAt", "uint64"),
                  ("finishedAt", "uint64"))


def _b32(value: Any) -> bytes:
    if isinstance(value, str):
        value = bytes.fromhex(value.removeprefix("0x"))
    value = bytes(value)
    if len(value) != 32:
        raise ValueError(f"expected 32 bytes, got {len(value)}")
    return value


def domain_separator(chain_id: int, verifying_contract: str, name: str = MARKETPLACE_DOMAIN_NAME) -> bytes:
    return keccak(encode(["bytes32", "bytes32", "bytes32", "uint256", "address"],
                         [keccak(text=_DOMAIN_TYPE), keccak(text=name), keccak(text="1"), int(chain_id),
                          to_checksum_address(verifying_contract)]))


def report_struct_hash(report: Mapping[str, Any]) -> bytes:
    return keccak(encode(
        ["bytes32", "bytes32", "bytes32", "bytes32", "bytes32", "bytes32", "uint8", "bytes32", "address",
         "uint64", "uint64"],
        [keccak(text=REPORT_TYPE), _b32(report["orderId"]), _b32(report["engineHash"]),
         _b32(report["inputsHash"]), _b32(report["outputHash"]), keccak(text=report["outputCid"]),
         int(report["teeType"]), _b32(report["measurement"]), to_checksum_address(report["enclave"]),
         int(report["startedAt"]), int(report["finishedAt"])]))


def report_digest(report: Mapping[str, Any], *, chain_id: int, marketplace: str) -> bytes:
    """The digest an enclave signs for ``report`` (``\\x19\\x01 ‖ domain ‖ structHash``)."""
    return keccak(b"\x19\x01" + domain_separator(chain_id, marketplace) + report_struct_hash(report))


def report_typed_data(report: Mapping[str, Any], *, chain_id: int, marketplace: str) -> dict:
    """The same report as EIP-712 typed data for eth-account's ``encode_typed_data`` (signers)."""
    message = {name: report[name] for name, _ in _REPORT_FIELDS}
    for name in ("orderId", "engineHash", "inputsHash", "outputHash", "measurement"):
        message[name] = _b32(message[name])
    message["enclave"] = to_checksum_address(message["enclave"])
    return {
        "types": {
            "EIP712Domain": [{"name": "name", "type": "string"}, {"name": "version", "type": "string"},
                             {"name": "chainId", "type": "uint256"},
                             {"name": "verifyingContract", "type": "address"}],
            "IntegrityReport": [{"name": n, "type": t} for n, t in _REPORT_FIELDS],
        },
        "primaryType": "IntegrityReport",
        "domain": {"name": MARKETPLACE_DOMAIN_NAME, "version": "1", "chainId": int(chain_id),
                   "verifyingContract": to_checksum_address(marketplace)},
        "message": message,
    }


def report_tuple(report: Mapping[str, Any]) -> tuple:
    """The report as the ABI tuple contract calls take."""
    return tuple(
        _b32(report[n]) if t == "bytes32" else to_checksum_address(report[n]) if t == "address"
        else report[n] for n, t in _REPORT_FIELDS)


def inputs_hash(resource_hashes: Sequence[Any], input_hashes: Sequence[Any]) -> bytes:
    """``keccak256(abi.encodePacked(h_1..h_n))``: resource hashes in order, then the customer's inputs."""
    return keccak(b"".join(_b32(h) for h in [*resource_hashes, *input_hashes]))


def order_id_of(terms: Mapping[str, Any]) -> bytes:
    """``keccak256(abi.encode(terms))`` for an ``OrderTerms`` value as the event carries it."""
    value = (int(terms["nonce"]), to_checksum_address(terms["customer"]), to_checksum_address(terms["provider"]),
             int(terms["teeOfferId"]), int(terms["teeType"]), int(terms["pricePerSecond"]),
             int(terms["maxDuration"]), _b32(terms["engineHash"]), _b32(terms["inputsHash"]),
             _b32(terms["recipientKeyHash"]),
             [(int(p["resourceId"]), to_checksum_address(p["payee"]), int(p["amount"])) for p in terms["payments"]])
    return keccak(encode([ORDER_TERMS_ABI], [value]))
