"""Orders as Python values, with the hashes and EIP-712 messages the Marketplace contract checks.

An order lives on chain as ``keccak256(abi.encode(OrderTerms))`` plus one state word; its terms,
inputs and recipient key travel in the ``OrderCreated`` event. :class:`Order` is that event plus
the current state, and every hash here is computed exactly as contracts/Marketplace.sol does, so
an enclave, a customer and an auditor reach the same bytes as the contract.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from eth_abi.abi import encode as abi_encode
from eth_account.messages import encode_typed_data
from eth_account.signers.local import LocalAccount
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

from enclava.protocol.eip712 import typed_data
from enclava.protocol.ids import OrderId, ResourceId, TeeOfferId

__all__ = [
    "OrderStatus",
    "OrderInput",
    "Payment",
    "OrderTerms",
    "Order",
    "IntegrityReport",
    "OrderFailure",
    "inputs_hash",
    "recipient_key_hash",
    "report_typed_data",
    "failure_typed_data",
    "sign_report",
    "sign_failure",
]

_TERMS_ABI = (
    "(uint256,address,address,uint256,uint8,uint256,uint256,bytes32,bytes32,bytes32,"
    "(uint256,address,uint256)[])"
)


class OrderStatus(enum.IntEnum):
    """``OrderStatus`` in contracts/interfaces/IMarketplace.sol."""

    NONE = 0
    OPEN = 1
    ACCEPTED = 2
    COMPLETED = 3
    FAILED = 4
    TIMED_OUT = 5
    CANCELLED = 6

    @property
    def terminal(self) -> bool:
        """The order has ended: completed, failed, timed out or cancelled."""
        return self in (
            OrderStatus.COMPLETED,
            OrderStatus.FAILED,
            OrderStatus.TIMED_OUT,
            OrderStatus.CANCELLED,
        )


def _b32(value: Any) -> bytes:
    raw = bytes.fromhex(value.removeprefix("0x")) if isinstance(value, str) else bytes(value)
    if len(raw) != 32:
        raise ValueError(f"expected 32 bytes, got {len(raw)}")
    return raw


@dataclass(frozen=True)
class OrderInput:
    """A customer's own encrypted input: its IPFS CID and the SHA-256 of the ciphertext."""

    cid: str
    content_hash: bytes

    def as_tuple(self) -> tuple[str, bytes]:
        return (self.cid, self.content_hash)


@dataclass(frozen=True)
class Payment:
    resource_id: ResourceId
    payee: str
    amount: int


@dataclass(frozen=True)
class OrderTerms:
    """``IMarketplace.OrderTerms``; ``payments[0]`` is the engine, then each model/dataset
    resource."""

    nonce: int
    customer: str
    provider: str
    tee_offer_id: TeeOfferId
    tee_type: int
    price_per_second: int
    max_duration: int
    engine_hash: bytes
    inputs_hash: bytes
    recipient_key_hash: bytes
    payments: tuple[Payment, ...]

    @classmethod
    def from_event(cls, terms: Any) -> OrderTerms:
        return cls(
            nonce=int(terms["nonce"]),
            customer=to_checksum_address(terms["customer"]),
            provider=to_checksum_address(terms["provider"]),
            tee_offer_id=TeeOfferId(int(terms["teeOfferId"])),
            tee_type=int(terms["teeType"]),
            price_per_second=int(terms["pricePerSecond"]),
            max_duration=int(terms["maxDuration"]),
            engine_hash=bytes(terms["engineHash"]),
            inputs_hash=bytes(terms["inputsHash"]),
            recipient_key_hash=bytes(terms["recipientKeyHash"]),
            payments=tuple(
                Payment(
                    ResourceId(int(p["resourceId"])),
                    to_checksum_address(p["payee"]),
                    int(p["amount"]),
                )
                for p in terms["payments"]
            ),
        )

    def as_tuple(self) -> tuple[Any, ...]:
        """The tuple a contract call takes for an ``OrderTerms`` argument."""
        return (
            self.nonce,
            self.customer,
            self.provider,
            self.tee_offer_id,
            self.tee_type,
            self.price_per_second,
            self.max_duration,
            self.engine_hash,
            self.inputs_hash,
            self.recipient_key_hash,
            [(p.resource_id, p.payee, p.amount) for p in self.payments],
        )

    @property
    def order_id(self) -> OrderId:
        digest = keccak(abi_encode([_TERMS_ABI], [self.as_tuple()]))
        return OrderId("0x" + digest.hex().removeprefix("0x"))

    @property
    def escrow(self) -> int:
        return self.price_per_second * self.max_duration + sum(p.amount for p in self.payments)

    @property
    def engine_resource_id(self) -> ResourceId:
        return self.payments[0].resource_id

    @property
    def resource_ids(self) -> tuple[ResourceId, ...]:
        """The model/dataset resources, in order (the engine excluded)."""
        return tuple(p.resource_id for p in self.payments[1:])


@dataclass(frozen=True)
class Order:
    """An order as the chain knows it: the creation event plus the current state word."""

    order_id: str
    terms: OrderTerms
    inputs: tuple[OrderInput, ...]
    resource_hashes: tuple[bytes, ...]
    recipient_key: bytes
    status: OrderStatus
    accepted_at: int
    enclave: str | None
    created_block: int
    deadline: int = 0
    extra: dict[str, Any] = field(default_factory=dict, compare=False)


def inputs_hash(resource_hashes: list[bytes], input_hashes: list[bytes]) -> bytes:
    """``keccak256`` over the SHA-256 of every model/dataset resource, then every customer input."""
    return bytes(keccak(b"".join(_b32(h) for h in [*resource_hashes, *input_hashes])))


def recipient_key_hash(recipient_key: bytes) -> bytes:
    return bytes(keccak(recipient_key))


@dataclass(frozen=True)
class IntegrityReport:
    """``IMarketplace.IntegrityReport``: what the enclave signs when an order completes."""

    order_id: bytes
    engine_hash: bytes
    inputs_hash: bytes
    output_hash: bytes
    output_cid: str
    tee_type: int
    measurement: bytes
    enclave: str
    started_at: int
    finished_at: int

    def as_tuple(self) -> tuple[Any, ...]:
        return (
            self.order_id,
            self.engine_hash,
            self.inputs_hash,
            self.output_hash,
            self.output_cid,
            self.tee_type,
            self.measurement,
            self.enclave,
            self.started_at,
            self.finished_at,
        )

    def as_message(self) -> dict[str, Any]:
        return {
            "orderId": self.order_id,
            "engineHash": self.engine_hash,
            "inputsHash": self.inputs_hash,
            "outputHash": self.output_hash,
            "outputCid": self.output_cid,
            "teeType": self.tee_type,
            "measurement": self.measurement,
            "enclave": self.enclave,
            "startedAt": self.started_at,
            "finishedAt": self.finished_at,
        }

    @classmethod
    def from_event(cls, report: Any) -> IntegrityReport:
        return cls(
            order_id=bytes(report["orderId"]),
            engine_hash=bytes(report["engineHash"]),
            inputs_hash=bytes(report["inputsHash"]),
            output_hash=bytes(report["outputHash"]),
            output_cid=str(report["outputCid"]),
            tee_type=int(report["teeType"]),
            measurement=bytes(report["measurement"]),
            enclave=to_checksum_address(report["enclave"]),
            started_at=int(report["startedAt"]),
            finished_at=int(report["finishedAt"]),
        )


@dataclass(frozen=True)
class OrderFailure:
    """``IMarketplace.OrderFailure``: what the enclave signs when it gives up on an order.

    ``detail_cid`` is "" or the IPFS CID of the failure detail (:mod:`enclava.protocol.
    failure_detail`), an envelope only the order's customer can open; the signature covers it, so
    nobody between the enclave and the chain can swap it.
    """

    order_id: bytes
    enclave: str
    reason_code: int
    detail_cid: str = ""

    def as_tuple(self) -> tuple[bytes, str, int, str]:
        return (self.order_id, self.enclave, self.reason_code, self.detail_cid)


def report_typed_data(
    report: IntegrityReport, *, chain_id: int, marketplace: str
) -> dict[str, Any]:
    """The EIP-712 message for ``report``, exactly as the Marketplace hashes it."""
    return typed_data(
        "IntegrityReport", report.as_message(), chain_id=chain_id, contract=marketplace
    )


def failure_typed_data(failure: OrderFailure, *, chain_id: int, marketplace: str) -> dict[str, Any]:
    message = {
        "orderId": failure.order_id,
        "enclave": failure.enclave,
        "reasonCode": failure.reason_code,
        "detailCid": failure.detail_cid,
    }
    return typed_data("OrderFailure", message, chain_id=chain_id, contract=marketplace)


def sign_report(
    enclave_account: LocalAccount, report: IntegrityReport, *, chain_id: int, marketplace: str
) -> bytes:
    typed = report_typed_data(report, chain_id=chain_id, marketplace=marketplace)
    return bytes(enclave_account.sign_message(encode_typed_data(full_message=typed)).signature)


def sign_failure(
    enclave_account: LocalAccount, failure: OrderFailure, *, chain_id: int, marketplace: str
) -> bytes:
    typed = failure_typed_data(failure, chain_id=chain_id, marketplace=marketplace)
    return bytes(enclave_account.sign_message(encode_typed_data(full_message=typed)).signature)
