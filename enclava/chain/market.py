"""The marketplace contracts as one client: providers, TEE offers, resources, orders, payouts.

Every party uses it: a provider registers and accepts, an owner lists, a customer orders, the
loader completes or fails, an auditor reads. Reverts and RPC failures leave as
:class:`enclava.errors.ChainError` (from :class:`ChainClient`); reads of unknown things raise
:class:`OrderNotFound` / return ``None``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

from eth_account.signers.local import LocalAccount
from eth_typing import HexStr
from web3 import Web3
from web3.logs import DISCARD as _DISCARD

from enclava.chain.config import ChainConfig, Manifest
from enclava.chain.contracts import ContractSet
from enclava.chain.errors import CallInvalid, OrderNotFound
from enclava.chain.rpc import ChainClient, TxResult
from enclava.chain.types import EnclaveRecord, EnclaveStatus, ResourceKind
from enclava.errors import ChainError
from enclava.protocol.order import (
    IntegrityReport,
    Order,
    OrderFailure,
    OrderInput,
    OrderStatus,
    OrderTerms,
    inputs_hash,
    sign_failure,
    sign_report,
)
from enclava.protocol.tee import decode_gpu_class, encode_gpu_class

__all__ = [
    "MarketClient",
    "read_order",
    "check_order_commitments",
    "deadline_of",
    "tee_offer_gpu_class",
    "orders_created",
    "CreatedOrder",
    "order_id_bytes",
    "order_logs",
]


def order_id_bytes(order_id: str | bytes) -> bytes:
    """The 32 bytes of an order id given as 0x-hex or bytes; anything else is
    :class:`OrderNotFound`."""
    try:
        raw = (
            bytes.fromhex(order_id.removeprefix("0x"))
            if isinstance(order_id, str)
            else bytes(order_id)
        )
    except (ValueError, TypeError) as exc:
        raise OrderNotFound(f"{order_id!r} is not an order id") from exc
    if len(raw) != 32:
        raise OrderNotFound(f"{order_id!r} is not an order id (32 bytes expected)")
    return raw


def order_logs(
    contracts: ContractSet, event: str, order_id: str | bytes, *, from_block: int, **filters: Any
) -> list[Any]:
    """The marketplace's ``event`` logs for one order (its indexed ``orderId``) since
    ``from_block``; ``filters`` narrow them by other indexed arguments."""
    logs: list[Any] = getattr(contracts.marketplace.events, event).get_logs(
        from_block=from_block, argument_filters={"orderId": order_id_bytes(order_id), **filters}
    )
    return logs


def _hex(raw: bytes) -> str:
    return "0x" + bytes(raw).hex()


def read_order(
    contracts: ContractSet,
    order_id: str | bytes,
    *,
    from_block: int = 0,
    with_deadline: bool = True,
) -> Order:
    """THE order reader: the order's ``OrderCreated`` event (its terms and inputs) plus the
    marketplace's ``orderState`` (and ``deadlineOf`` unless ``with_deadline`` is False).

    The event comes from an RPC node: it is returned as read. A reader that must not believe more
    than the order id commits to calls :func:`check_order_commitments` on it (the CA does; the
    loader checks it itself, with its own refusal reasons). No event: :class:`OrderNotFound`.
    """
    raw = order_id_bytes(order_id)
    logs = order_logs(contracts, "OrderCreated", raw, from_block=from_block)
    if not logs:
        raise OrderNotFound(f"no order {_hex(raw)} on this chain")
    args = logs[-1]["args"]
    terms = OrderTerms.from_event(args["terms"])
    state = contracts.marketplace.functions.orderState(raw).call()
    status = OrderStatus(int(state[0]))
    enclave = None if int(state[3], 16) == 0 else Web3.to_checksum_address(state[3])
    deadline = deadline_of(contracts, terms) if with_deadline else 0
    return Order(
        order_id=_hex(raw),
        terms=terms,
        inputs=tuple(OrderInput(i["cid"], bytes(i["contentHash"])) for i in args["inputs"]),
        resource_hashes=tuple(bytes(h) for h in args["resourceHashes"]),
        recipient_key=bytes(args["recipientKey"]),
        status=status,
        accepted_at=int(state[1]),
        enclave=enclave,
        created_block=int(logs[-1]["blockNumber"]),
        deadline=deadline,
    )


def deadline_of(contracts: ContractSet, terms: OrderTerms) -> int:
    """The marketplace's ``deadlineOf`` an accepted order: its window plus the report grace."""
    return int(contracts.marketplace.functions.deadlineOf(terms.as_tuple()).call())


def tee_offer_gpu_class(contracts: ContractSet, tee_offer_id: int) -> str:
    """The GPU class TEE offer ``tee_offer_id`` promises, decoded (``""`` for none; ``"cpu"``
    is none too). Fixed once published, so an order's offer class is this for its lifetime."""
    raw = contracts.provider_registry.functions.teeOfferGpuClass(int(tee_offer_id)).call()
    return decode_gpu_class(bytes(raw))


@dataclass(frozen=True)
class CreatedOrder:
    """One ``OrderCreated`` event as read from a block range (terms as the RPC node gave them)."""

    order_id: str
    terms: OrderTerms
    block_number: int
    log_index: int


def orders_created(
    contracts: ContractSet, from_block: int, to_block: int, *, provider: str | None = None
) -> list[CreatedOrder]:
    """The ``OrderCreated`` events in ``from_block..to_block`` (for ``provider`` if given), in
    chain order."""
    filters = {} if provider is None else {"provider": provider}
    logs = contracts.marketplace.events.OrderCreated.get_logs(
        from_block=from_block, to_block=to_block, argument_filters=filters
    )
    found = [
        CreatedOrder(
            order_id=_hex(entry["args"]["orderId"]),
            terms=OrderTerms.from_event(entry["args"]["terms"]),
            block_number=int(entry["blockNumber"]),
            log_index=int(entry["logIndex"]),
        )
        for entry in logs
    ]
    return sorted(found, key=lambda c: (c.block_number, c.log_index))


def check_order_commitments(order: Order) -> Order:
    """``order`` if its terms hash to its id and its resource and input hashes to the terms'
    ``inputsHash``; else :class:`enclava.errors.ChainError` (the RPC node lied about the event)."""
    terms = order.terms
    if terms.order_id.lower() != order.order_id.lower():
        raise ChainError(
            f"the OrderCreated event of {order.order_id} carries terms of another order"
        )
    input_hashes = [i.content_hash for i in order.inputs]
    if (
        len(order.resource_hashes) != len(terms.resource_ids)
        or inputs_hash(list(order.resource_hashes), input_hashes) != terms.inputs_hash
    ):
        raise ChainError(
            f"the OrderCreated event of {order.order_id} carries hashes its terms do not commit to"
        )
    return order


class MarketClient:
    """Transactions and reads over a :class:`ContractSet`, signed locally by the caller's
    account."""

    def __init__(self, chain: ChainClient, contracts: ContractSet, *, from_block: int = 0) -> None:
        self.chain = chain
        self.contracts = contracts
        self.from_block = from_block

    @classmethod
    def from_config(cls, config: ChainConfig) -> MarketClient:
        chain, contracts = config.connect()
        return cls(chain, contracts, from_block=config.deploy_block)

    @classmethod
    def from_manifest(cls, manifest: Manifest) -> MarketClient:
        return cls.from_config(ChainConfig.from_manifest(manifest))

    @property
    def w3(self) -> Web3:
        return self.chain.w3

    def chain_time(self) -> int:
        """The latest block's timestamp: the clock the contract judges report times by."""
        return int(self.w3.eth.get_block("latest")["timestamp"])

    # ------------------------------------------------------------------ plumbing

    def _send(self, account: LocalAccount, call: Any, *, value: int = 0) -> TxResult:
        return self.chain.send_call(account, call, value=value)

    def _events(self, tx: TxResult, contract: Any, event: str) -> list[Any]:
        receipt = self.w3.eth.get_transaction_receipt(HexStr(tx.tx_hash))
        return list(getattr(contract.events, event)().process_receipt(receipt, errors=_DISCARD))

    # ------------------------------------------------------------------ providers

    def register_provider(self, account: LocalAccount, stake: int) -> TxResult:
        return self._send(
            account, self.contracts.provider_registry.functions.register(), value=stake
        )

    def is_provider(self, address: str) -> bool:
        record = self.contracts.provider_registry.functions.getProvider(
            Web3.to_checksum_address(address)
        ).call()
        return bool(record[3])  # registered

    def min_stake(self) -> int:
        return int(self.contracts.provider_registry.functions.minStake().call())

    def publish_tee_offer(
        self,
        account: LocalAccount,
        *,
        tee_type: int,
        gpu_class: str,
        price_per_second: int,
        slots: int,
    ) -> int:
        """Publishes a TEE offer of ``gpu_class`` (``"cpu"`` or ``""``: no GPU, see
        :func:`enclava.protocol.tee.offer_requires_gpu`); returns its id. A class that does not fit
        the chain's ``bytes32`` unchanged is :class:`CallInvalid`."""
        try:
            gpu = encode_gpu_class(gpu_class)
        except ValueError as exc:
            raise CallInvalid(str(exc)) from exc
        tx = self._send(
            account,
            self.contracts.provider_registry.functions.publishTeeOffer(
                int(tee_type), gpu, int(price_per_second), int(slots)
            ),
        )
        return int(
            self._events(tx, self.contracts.provider_registry, "TeeOfferPublished")[0]["args"][
                "teeOfferId"
            ]
        )

    def tee_offer_terms(self, tee_offer_id: int) -> dict[str, Any]:
        registry = self.contracts.provider_registry
        provider, tee, price, available = registry.functions.teeOfferTerms(int(tee_offer_id)).call()
        return {
            "provider": provider,
            "tee_type": int(tee),
            "price_per_second": int(price),
            "available": bool(available),
        }

    def tee_offer_gpu_class(self, tee_offer_id: int) -> str:
        """:func:`tee_offer_gpu_class` of this chain's registry."""
        return tee_offer_gpu_class(self.contracts, tee_offer_id)

    # ------------------------------------------------------------------ enclaves

    def enclave(self, address: str) -> EnclaveRecord:
        """The attestation registry's record of ``address`` (``registered`` false when unknown),
        with its certified GPUs (``gpu_class``, ``gpu_count``)."""
        checksummed = Web3.to_checksum_address(address)
        record = self.contracts.attestation_registry.functions.getEnclave(checksummed).call()
        return EnclaveRecord.from_abi(checksummed, record)

    def enclave_status(self, address: str) -> tuple[EnclaveStatus, EnclaveRecord]:
        """Whether ``address`` is a valid enclave now (``EnclaveStatus.VALID``), and its record."""
        checksummed = Web3.to_checksum_address(address)
        status, record = self.contracts.attestation_registry.functions.enclaveStatus(
            checksummed
        ).call()
        return EnclaveStatus(int(status)), EnclaveRecord.from_abi(checksummed, record)

    # ------------------------------------------------------------------ resources

    def list_resource(
        self,
        account: LocalAccount,
        *,
        kind: ResourceKind,
        cid: str,
        content_hash: bytes,
        price: int,
        metadata_cid: str = "",
    ) -> int:
        listing = (int(kind), cid, bytes(content_hash), int(price), metadata_cid)
        tx = self._send(account, self.contracts.resource_registry.functions.listResource(listing))
        return int(
            self._events(tx, self.contracts.resource_registry, "ResourceListed")[0]["args"][
                "resourceId"
            ]
        )

    def resource(self, resource_id: int) -> dict[str, Any]:
        r = self.contracts.resource_registry.functions.getResource(int(resource_id)).call()
        return {
            "owner": r[0],
            "price": int(r[1]),
            "content_hash": bytes(r[2]),
            "kind": ResourceKind(int(r[3])),
            "active": bool(r[4]),
            "retired": bool(r[5]),
            "cid": r[6],
            "metadata_cid": r[7],
        }

    # ------------------------------------------------------------------ orders

    def quote(
        self, engine_id: int, resource_ids: Iterable[int], tee_offer_id: int, max_duration: int
    ) -> int:
        """The exact escrow ``createOrder`` asks for, at today's prices."""
        total = int(self.tee_offer_terms(tee_offer_id)["price_per_second"]) * int(max_duration)
        return total + sum(int(self.resource(rid)["price"]) for rid in [engine_id, *resource_ids])

    def create_order(
        self,
        account: LocalAccount,
        *,
        engine_id: int,
        resource_ids: list[int],
        tee_offer_id: int,
        inputs: list[OrderInput],
        recipient_key: bytes,
        max_duration: int,
        value: int | None = None,
    ) -> tuple[str, TxResult]:
        escrow = (
            self.quote(engine_id, resource_ids, tee_offer_id, max_duration)
            if value is None
            else value
        )
        tx = self._send(
            account,
            self.contracts.marketplace.functions.createOrder(
                int(engine_id),
                [int(r) for r in resource_ids],
                int(tee_offer_id),
                [i.as_tuple() for i in inputs],
                bytes(recipient_key),
                int(max_duration),
            ),
            value=escrow,
        )
        event = self._events(tx, self.contracts.marketplace, "OrderCreated")[0]
        return _hex(event["args"]["orderId"]), tx

    def order(self, order_id: str | bytes) -> Order:
        return read_order(self.contracts, order_id, from_block=self.from_block)

    def status(self, order_id: str | bytes) -> OrderStatus:
        return OrderStatus(
            int(self.contracts.marketplace.functions.orderState(order_id_bytes(order_id)).call()[0])
        )

    def accept_order(self, account: LocalAccount, order_id: str) -> TxResult:
        return self._send(
            account, self.contracts.marketplace.functions.acceptOrder(order_id_bytes(order_id))
        )

    def cancel_order(self, account: LocalAccount, terms: OrderTerms) -> TxResult:
        return self._send(
            account, self.contracts.marketplace.functions.cancelOrder(terms.as_tuple())
        )

    def timeout_order(self, account: LocalAccount, terms: OrderTerms) -> TxResult:
        return self._send(
            account, self.contracts.marketplace.functions.timeoutOrder(terms.as_tuple())
        )

    def sign_report(self, enclave_account: LocalAccount, report: IntegrityReport) -> bytes:
        return sign_report(
            enclave_account,
            report,
            chain_id=self.chain.chain_id(),
            marketplace=self.contracts.marketplace.address,
        )

    def sign_failure(self, enclave_account: LocalAccount, failure: OrderFailure) -> bytes:
        return sign_failure(
            enclave_account,
            failure,
            chain_id=self.chain.chain_id(),
            marketplace=self.contracts.marketplace.address,
        )

    def complete_order(
        self, account: LocalAccount, terms: OrderTerms, report: IntegrityReport, signature: bytes
    ) -> TxResult:
        return self._send(
            account,
            self.contracts.marketplace.functions.completeOrder(
                terms.as_tuple(), report.as_tuple(), bytes(signature)
            ),
        )

    def fail_order(
        self, account: LocalAccount, terms: OrderTerms, failure: OrderFailure, signature: bytes
    ) -> TxResult:
        return self._send(
            account,
            self.contracts.marketplace.functions.failOrder(
                terms.as_tuple(), failure.as_tuple(), bytes(signature)
            ),
        )

    def verify_report(self, order_id: str) -> tuple[bool, str]:
        valid, reason = self.contracts.marketplace.functions.verifyReport(
            order_id_bytes(order_id)
        ).call()
        return bool(valid), str(reason)

    def failure_reason(self, order_id: str) -> int | None:
        """The reason code an order failed with (``OrderFailed``), or None if it did not fail."""
        found = self.failure(order_id)
        return found[0] if found else None

    def completion(self, order_id: str) -> tuple[IntegrityReport, bytes] | None:
        """The report and signature an order completed with (``OrderCompleted``), or None if it
        did not complete."""
        logs = self._order_logs("OrderCompleted", order_id)
        if not logs:
            return None
        args = logs[-1]["args"]
        return IntegrityReport.from_event(args["report"]), bytes(args["signature"])

    def failure(self, order_id: str) -> tuple[int, str] | None:
        """``(reason code, detail CID)`` of a failed order (``OrderFailed``), or None if it did
        not fail. The CID is "" when the enclave stored no detail; the detail is encrypted to the
        customer (``enclava.client.orders.failure_detail`` opens it)."""
        logs = self._order_logs("OrderFailed", order_id)
        if not logs:
            return None
        args = logs[-1]["args"]
        return int(args["reasonCode"]), str(args.get("detailCid", ""))

    # ------------------------------------------------------------------ payouts

    def credit_of(self, address: str) -> int:
        return int(
            self.contracts.marketplace.functions.creditOf(Web3.to_checksum_address(address)).call()
        )

    def withdraw(self, account: LocalAccount) -> TxResult:
        return self._send(account, self.contracts.marketplace.functions.withdraw())

    def payouts_for_order(self, order_id: str) -> dict[str, int]:
        """Who was paid how much for ``order_id``: credits (``Credited``, withdrawn later) plus what
        was sent straight to the customer (``Refunded``)."""
        paid: dict[str, int] = {}
        for event, who in (("Credited", "account"), ("Refunded", "customer")):
            for log in self._order_logs(event, order_id):
                account = Web3.to_checksum_address(log["args"][who])
                paid[account] = paid.get(account, 0) + int(log["args"]["amount"])
        return paid

    def refunded(self, order_id: str, customer: str) -> int:
        """What ``order_id`` sent straight to ``customer``'s wallet (0 if it was credited
        instead)."""
        logs = self._order_logs("Refunded", order_id, customer=Web3.to_checksum_address(customer))
        return sum(int(log["args"]["amount"]) for log in logs)

    def _order_logs(self, event: str, order_id: str | bytes, **filters: Any) -> list[Any]:
        return order_logs(self.contracts, event, order_id, from_block=self.from_block, **filters)
