"""ServiceMarket's events into the ``services`` and ``token_prices`` tables (confidential serving).

A service's terms travel only in its ``ServiceStarted`` event; they are believed only when they
hash to the event's service id (``keccak256(abi.encode(terms))``, as
:func:`enclava.chain.services.read_service_terms` checks), so an RPC node that serves invented or
altered terms adds no service. Later events (endpoint, bound enclave, stop) change only a service
already indexed. Handlers take ``(session, args, pos, log)`` like the indexer's own and write
absolute values, so replaying a block changes nothing. A deployment without a ServiceMarket has
none of these events: the indexer simply does not subscribe to them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from eth_utils.address import to_checksum_address
from sqlalchemy.orm import Session

from enclava.logs import get_logger
from enclava.protocol.service_terms import ServiceTerms, ServiceTermsInvalid
from marketplace_api import db

__all__ = ["SERVICE_EVENTS", "SERVICE_HANDLERS", "started_values"]

log = get_logger("marketplace.indexer")

#: The ServiceMarket events the catalogue follows.
SERVICE_EVENTS: tuple[str, ...] = (
    "TokenPricesSet",
    "ServiceStarted",
    "ServiceEndpointSet",
    "ServiceEnclaveBound",
    "ServiceStopped",
)


def _hex(value: Any) -> str:
    return "0x" + bytes(value).hex()


def started_values(args: Mapping[str, Any], entry: Mapping[str, Any]) -> dict[str, Any] | None:
    """The ``services`` row of a ``ServiceStarted`` event, or None when its terms are malformed or
    do not hash to its ``serviceId`` (such an event is not believed)."""
    service_id = _hex(args["serviceId"])
    try:
        terms = ServiceTerms.from_abi(args["terms"])
    except ServiceTermsInvalid:
        log.warning("ServiceStarted with malformed terms left out", extra={"service": service_id})
        return None
    if terms.service_id != service_id:
        log.warning(
            "ServiceStarted whose terms do not hash to its id left out",
            extra={"service": service_id},
        )
        return None
    return {
        "service_id": service_id,
        "nonce": str(terms.nonce),
        "provider": terms.provider,
        "tee_offer_id": str(terms.tee_offer_id),
        "tee_type": int(terms.tee_type),
        "model_id": str(terms.model_id),
        "model_owner": terms.model_owner,
        "model_hash": terms.model_hash,
        "input_token_price_wei": str(terms.input_token_price),
        "output_token_price_wei": str(terms.output_token_price),
        "provider_per_token": terms.provider_per_token,
        "provider_price_wei": str(terms.provider_price),
        "ends_at": str(terms.ends_at),
        "ends_sort": float(terms.ends_at),
        "stopped_at": None,
        "enclave": None,
        "endpoint": None,
        "started_block": int(entry["blockNumber"]),
        "started_tx": _hex(entry["transactionHash"]),
    }


def _apply(
    s: Session, model: type[Any], key: str, pos: int, values: dict[str, Any], *, create: bool
) -> None:
    """Apply ``values`` unless the row already reflects a later event; create it only if allowed
    (the indexer's rule, for string keys)."""
    row = s.get(model, key)
    if row is None:
        if create:
            s.add(model(**values, pos=pos))
        return
    if row.pos < pos:
        for name, value in values.items():
            setattr(row, name, value)
        row.pos = pos


def on_service_started(s: Session, a: Any, pos: int, entry: Any) -> None:
    values = started_values(a, entry)
    if values is not None:
        _apply(s, db.Service, values["service_id"], pos, values, create=True)


def on_service_endpoint_set(s: Session, a: Any, pos: int, entry: Any) -> None:
    changes = {"endpoint": str(a["url"])}
    _apply(s, db.Service, _hex(a["serviceId"]), pos, changes, create=False)


def on_service_enclave_bound(s: Session, a: Any, pos: int, entry: Any) -> None:
    changes = {"enclave": to_checksum_address(a["enclave"])}
    _apply(s, db.Service, _hex(a["serviceId"]), pos, changes, create=False)


def on_service_stopped(s: Session, a: Any, pos: int, entry: Any) -> None:
    changes = {"stopped_at": int(a["stoppedAt"])}
    _apply(s, db.Service, _hex(a["serviceId"]), pos, changes, create=False)


def on_token_prices_set(s: Session, a: Any, pos: int, entry: Any) -> None:
    model_id = str(int(a["modelId"]))
    values = {
        "model_id": model_id,
        "input_price_wei": str(int(a["inputPrice"])),
        "output_price_wei": str(int(a["outputPrice"])),
    }
    _apply(s, db.TokenPrice, model_id, pos, values, create=True)


SERVICE_HANDLERS: dict[str, Callable[[Session, Any, int, Any], None]] = {
    "TokenPricesSet": on_token_prices_set,
    "ServiceStarted": on_service_started,
    "ServiceEndpointSet": on_service_endpoint_set,
    "ServiceEnclaveBound": on_service_enclave_bound,
    "ServiceStopped": on_service_stopped,
}
