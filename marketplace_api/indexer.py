"""Follows the contracts' events into the marketplace tables, from a persisted block cursor.

One ``eth_getLogs`` per batch of blocks over the four contracts (and ServiceMarket's serving
events, :mod:`marketplace_api.indexer_services`, where the deployment has one); logs are decoded
by topic, applied in chain order, and committed in the same transaction as the new cursor. Every
handler writes absolute values taken from its event and skips rows already at a later event
position, so running over the same blocks again changes nothing (the devnet's anvil has no
reorgs; a chain with reorgs would need a confirmation depth before this indexer, see
``confirmations``).
"""

from __future__ import annotations

import threading
from typing import Any, Callable

from eth_utils.abi import event_abi_to_log_topic
from eth_utils.address import to_checksum_address
from sqlalchemy.orm import Session, sessionmaker
from web3.contract import Contract
from web3.exceptions import Web3Exception

from enclava.errors import ChainError, EnclavaError
from enclava.logs import get_logger
from enclava.protocol.order import OrderStatus, OrderTerms
from enclava.protocol.tee import decode_gpu_class
from marketplace_api import db
from marketplace_api.chain import MarketChain
from marketplace_api.indexer_services import SERVICE_EVENTS, SERVICE_HANDLERS

__all__ = ["Indexer", "index_once", "EVENTS"]

log = get_logger("marketplace.indexer")

EVENTS: dict[str, tuple[str, ...]] = {
    "ProviderRegistry": (
        "ProviderRegistered",
        "StakeAdded",
        "TeeOfferPublished",
        "TeeOfferUpdated",
        "TeeOfferRetired",
    ),
    "ResourceRegistry": ("ResourceListed", "ResourceUpdated", "ResourceRetired"),
    "Marketplace": (
        "OrderCreated",
        "OrderAccepted",
        "OrderCompleted",
        "OrderFailed",
        "OrderTimedOut",
        "OrderCancelled",
        "Credited",
        "Refunded",
    ),
    "AttestationRegistry": ("EnclaveRegistered",),
    "ServiceMarket": SERVICE_EVENTS,  # followed only where the deployment has one
}
CURSOR = "chain"


def _hex(value: Any) -> str:
    return "0x" + bytes(value).hex()


def _jsonable(value: Any) -> Any:
    if hasattr(value, "items"):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (bytes, bytearray)):
        return _hex(value)
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 2**53:
        return str(value)
    return value


def _upsert(
    session: Session, model: type[Any], key: Any, pos: int, values: dict[str, Any], *, create: bool
) -> None:
    """Apply ``values`` unless the row already reflects a later event; create it only if allowed."""
    row = session.get(model, key)
    if row is None:
        if create:
            session.add(model(**values, pos=pos))
        return
    if row.pos < pos:
        for name, value in values.items():
            setattr(row, name, value)
        row.pos = pos


def _contract(chain: MarketChain, name: str) -> Contract:
    c = chain.contracts
    if name == "ServiceMarket":
        return c.service_market
    return {
        "ProviderRegistry": c.provider_registry,
        "ResourceRegistry": c.resource_registry,
        "AttestationRegistry": c.attestation_registry,
        "Marketplace": c.marketplace,
    }[name]


class Indexer:
    def __init__(
        self,
        chain: MarketChain,
        sessions: sessionmaker[Session],
        *,
        batch_blocks: int = 2000,
        confirmations: int = 0,
    ) -> None:
        self.chain = chain
        self.sessions = sessions
        self.batch_blocks = max(1, batch_blocks)
        self.confirmations = confirmations
        self._topics: dict[tuple[str, bytes], tuple[Any, Callable[..., Any]]] = {}
        for contract_name, names in EVENTS.items():
            if contract_name == "ServiceMarket" and not chain.contracts.has_service_market:
                continue  # an older deployment: no services to index
            contract = _contract(chain, contract_name)
            for name in names:
                event = getattr(contract.events, name)
                topic = event_abi_to_log_topic(event.abi)
                self._topics[(contract.address.lower(), bytes(topic))] = (
                    event(),
                    SERVICE_HANDLERS.get(name) or getattr(self, f"_on_{name}"),
                )
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ driving
    def cursor(self) -> int:
        with self.sessions() as session:
            row = session.get(db.Cursor, CURSOR)
            return row.block if row else self.chain.start_block - 1

    def run_once(self) -> int:
        """Index every block up to the chain head; returns the number of events applied."""
        try:
            head = int(self.chain.client.w3.eth.block_number) - self.confirmations
        except (Web3Exception, ValueError, ConnectionError) as exc:
            raise ChainError(f"indexer cannot read the chain head: {exc}") from exc
        applied, cursor = 0, self.cursor()
        while cursor < head:
            upto = min(cursor + self.batch_blocks, head)
            applied += self.index_range(cursor + 1, upto, move_cursor=True)
            cursor = upto
        return applied

    def index_range(self, from_block: int, to_block: int, *, move_cursor: bool = False) -> int:
        """Apply the events of ``from_block..to_block`` (inclusive) in one transaction."""
        addresses = list(self.chain.contracts.addresses.values())
        try:
            logs = self.chain.client.w3.eth.get_logs(
                {"fromBlock": from_block, "toBlock": to_block, "address": addresses}
            )
        except (Web3Exception, ValueError, ConnectionError) as exc:
            raise ChainError(f"indexer cannot read logs {from_block}..{to_block}: {exc}") from exc
        logs = sorted(logs, key=lambda entry: (int(entry["blockNumber"]), int(entry["logIndex"])))
        applied = 0
        with self.sessions.begin() as session:
            for entry in logs:
                if not entry["topics"]:
                    continue
                known = self._topics.get((str(entry["address"]).lower(), bytes(entry["topics"][0])))
                if known is None:
                    continue
                event, handler = known
                decoded = event.process_log(entry)
                handler(
                    session,
                    decoded["args"],
                    db.event_pos(entry["blockNumber"], entry["logIndex"]),
                    entry,
                )
                applied += 1
            if move_cursor:
                row = session.get(db.Cursor, CURSOR)
                if row is None:
                    session.add(db.Cursor(name=CURSOR, block=to_block))
                elif row.block < to_block:
                    row.block = to_block
        return applied

    def start(self, interval_s: float = 1.0) -> None:
        """Run :meth:`run_once` every ``interval_s`` in a daemon thread until :meth:`stop`."""
        if self._thread and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._loop, args=(interval_s,), name="market-indexer", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=10)

    def _loop(self, interval_s: float) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except EnclavaError as exc:
                log.warning("indexing failed; retrying", extra={"error_type": exc.code})
            except Exception as exc:  # keep following the chain; the cause is logged
                log.error("indexer error", extra={"error_type": type(exc).__name__})
            self._stop.wait(interval_s)

    # ------------------------------------------------------------------ handlers
    def _on_ProviderRegistered(self, s: Session, a: Any, pos: int, entry: Any) -> None:
        _upsert(
            s,
            db.Provider,
            a["provider"],
            pos,
            {
                "address": a["provider"],
                "stake_wei": str(a["stake"]),
                "registered_block": int(entry["blockNumber"]),
            },
            create=True,
        )

    def _on_StakeAdded(self, s: Session, a: Any, pos: int, entry: Any) -> None:
        _upsert(s, db.Provider, a["provider"], pos, {"stake_wei": str(a["stake"])}, create=False)

    def _on_TeeOfferPublished(self, s: Session, a: Any, pos: int, entry: Any) -> None:
        _upsert(
            s,
            db.TeeOffer,
            int(a["teeOfferId"]),
            pos,
            {
                "tee_offer_id": int(a["teeOfferId"]),
                "provider": a["provider"],
                "tee_type": int(a["teeType"]),
                "gpu_class": decode_gpu_class(bytes(a["gpuClass"])),
                "price_per_second_wei": str(a["pricePerSecond"]),
                "price_sort": float(a["pricePerSecond"]),
                "slots": int(a["slots"]),
                "active": True,
                "retired": False,
            },
            create=True,
        )

    def _on_TeeOfferUpdated(self, s: Session, a: Any, pos: int, entry: Any) -> None:
        _upsert(
            s,
            db.TeeOffer,
            int(a["teeOfferId"]),
            pos,
            {
                "price_per_second_wei": str(a["pricePerSecond"]),
                "price_sort": float(a["pricePerSecond"]),
                "slots": int(a["slots"]),
                "active": bool(a["active"]),
            },
            create=False,
        )

    def _on_TeeOfferRetired(self, s: Session, a: Any, pos: int, entry: Any) -> None:
        changes = {"active": False, "retired": True}
        _upsert(s, db.TeeOffer, int(a["teeOfferId"]), pos, changes, create=False)

    def _on_ResourceListed(self, s: Session, a: Any, pos: int, entry: Any) -> None:
        _upsert(
            s,
            db.Resource,
            int(a["resourceId"]),
            pos,
            {
                "resource_id": int(a["resourceId"]),
                "owner": a["owner"],
                "kind": int(a["kind"]),
                "cid": a["cid"],
                "content_hash": _hex(a["contentHash"]),
                "price_wei": str(a["price"]),
                "price_sort": float(a["price"]),
                "metadata_cid": a["metadataCid"],
                "active": True,
                "retired": False,
                "listed_block": int(entry["blockNumber"]),
                "listed_tx": _hex(entry["transactionHash"]),
            },
            create=True,
        )

    def _on_ResourceUpdated(self, s: Session, a: Any, pos: int, entry: Any) -> None:
        _upsert(
            s,
            db.Resource,
            int(a["resourceId"]),
            pos,
            {
                "cid": a["cid"],
                "content_hash": _hex(a["contentHash"]),
                "price_wei": str(a["price"]),
                "price_sort": float(a["price"]),
                "metadata_cid": a["metadataCid"],
                "active": bool(a["active"]),
            },
            create=False,
        )

    def _on_ResourceRetired(self, s: Session, a: Any, pos: int, entry: Any) -> None:
        _upsert(
            s,
            db.Resource,
            int(a["resourceId"]),
            pos,
            {"active": False, "retired": True},
            create=False,
        )

    def _on_OrderCreated(self, s: Session, a: Any, pos: int, entry: Any) -> None:
        terms = a["terms"]
        order = OrderTerms.from_event(terms)  # the one reading of an order's terms
        _upsert(
            s,
            db.Order,
            _hex(a["orderId"]),
            pos,
            {
                "order_id": _hex(a["orderId"]),
                "nonce": order.nonce,
                "customer": a["customer"],
                "provider": a["provider"],
                "tee_offer_id": int(order.tee_offer_id),
                "tee_type": order.tee_type,
                "engine_id": int(order.engine_resource_id),
                "engine_hash": _hex(order.engine_hash),
                "inputs_hash": _hex(order.inputs_hash),
                "escrow_wei": str(order.escrow),
                "terms": _jsonable(terms),
                "inputs": _jsonable(a["inputs"]),
                "resource_hashes": _jsonable(a["resourceHashes"]),
                "status": int(OrderStatus.OPEN),
                "created_block": int(entry["blockNumber"]),
                "created_tx": _hex(entry["transactionHash"]),
            },
            create=True,
        )

    def _status(
        self, s: Session, order_id: bytes, pos: int, status: OrderStatus, **values: Any
    ) -> None:
        _upsert(s, db.Order, _hex(order_id), pos, {"status": int(status), **values}, create=False)

    def _on_OrderAccepted(self, s: Session, a: Any, pos: int, entry: Any) -> None:
        self._status(s, a["orderId"], pos, OrderStatus.ACCEPTED, accepted_at=int(a["acceptedAt"]))

    def _on_OrderCompleted(self, s: Session, a: Any, pos: int, entry: Any) -> None:
        self._status(
            s,
            a["orderId"],
            pos,
            OrderStatus.COMPLETED,
            enclave=a["report"]["enclave"],
            report={
                **_jsonable(a["report"]),
                "reportHash": _hex(a["reportHash"]),
                "signature": _hex(a["signature"]),
            },
            report_tx=_hex(entry["transactionHash"]),
        )

    def _on_OrderFailed(self, s: Session, a: Any, pos: int, entry: Any) -> None:
        self._status(
            s,
            a["orderId"],
            pos,
            OrderStatus.FAILED,
            enclave=a["enclave"],
            failure_code=int(a["reasonCode"]),
            # "" or the CID of the failure detail only the customer can decrypt (older
            # deployments' OrderFailed has no such field)
            failure_detail_cid=str(a.get("detailCid", "")) or None,
        )

    def _on_OrderTimedOut(self, s: Session, a: Any, pos: int, entry: Any) -> None:
        self._status(s, a["orderId"], pos, OrderStatus.TIMED_OUT)

    def _on_OrderCancelled(self, s: Session, a: Any, pos: int, entry: Any) -> None:
        self._status(s, a["orderId"], pos, OrderStatus.CANCELLED)

    def _money(self, s: Session, a: Any, pos: int, entry: Any, kind: str, account: str) -> None:
        """A payment of an order as it happened on chain; the event position is the key, so a
        replayed block adds nothing."""
        if s.get(db.OrderMoney, pos) is None:
            s.add(
                db.OrderMoney(
                    pos=pos,
                    order_id=_hex(a["orderId"]),
                    event=kind,
                    account=account,
                    amount_wei=str(a["amount"]),
                    tx=_hex(entry["transactionHash"]),
                )
            )

    def _on_Credited(self, s: Session, a: Any, pos: int, entry: Any) -> None:
        self._money(s, a, pos, entry, "credited", a["account"])

    def _on_Refunded(self, s: Session, a: Any, pos: int, entry: Any) -> None:
        self._money(s, a, pos, entry, "refunded", a["customer"])

    def _on_EnclaveRegistered(self, s: Session, a: Any, pos: int, entry: Any) -> None:
        _upsert(
            s,
            db.Enclave,
            a["enclave"],
            pos,
            {
                "address": to_checksum_address(a["enclave"]),
                "provider": a["provider"],
                "ca": a["ca"],
                "tee_type": int(a["teeType"]),
                "measurement": _hex(a["measurement"]),
                "expires_at": int(a["expiresAt"]),
                "gpu_class": decode_gpu_class(bytes(a["gpuClass"])),
                "gpu_count": int(a["gpuCount"]),
            },
            create=True,
        )


def index_once(
    chain: MarketChain, sessions: sessionmaker[Session], *, batch_blocks: int = 2000
) -> int:
    """Index up to the chain head once (for scripts and tests); returns the events applied."""
    return Indexer(chain, sessions, batch_blocks=batch_blocks).run_once()
