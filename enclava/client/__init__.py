"""What the parties do, as library calls the CLI, the demo, the benchmark and the tests share:
publish resources, place orders, fetch and check results."""

from __future__ import annotations

from typing import TYPE_CHECKING

from enclava.lazy import lazy_exports

if TYPE_CHECKING:
    from enclava.client.broker_http import BrokerHttpClient
    from enclava.client.errors import (
        BrokerRefused,
        BrokerUnavailable,
        OrderFailedError,
        OrderWaitTimeout,
    )
    from enclava.client.orders import (
        PlacedOrder,
        completed_report,
        fetch_result,
        place_order,
        wait_for_order,
    )
    from enclava.client.publish import (
        PublishedResource,
        publish_engine,
        publish_model_folder,
        publish_resource,
    )

# Imported on first use (PEP 562): `enclava.client.market_api` or `.errors` must not pay for every
# client module (CLI start-up, issue 15).
_LAZY = {
    "BrokerHttpClient": "enclava.client.broker_http",
    "BrokerRefused": "enclava.client.errors",
    "BrokerUnavailable": "enclava.client.errors",
    "OrderFailedError": "enclava.client.errors",
    "OrderWaitTimeout": "enclava.client.errors",
    "PlacedOrder": "enclava.client.orders",
    "completed_report": "enclava.client.orders",
    "fetch_result": "enclava.client.orders",
    "place_order": "enclava.client.orders",
    "wait_for_order": "enclava.client.orders",
    "PublishedResource": "enclava.client.publish",
    "publish_engine": "enclava.client.publish",
    "publish_model_folder": "enclava.client.publish",
    "publish_resource": "enclava.client.publish",
}

__all__ = [
    "BrokerHttpClient",
    "BrokerRefused",
    "BrokerUnavailable",
    "PlacedOrder",
    "place_order",
    "wait_for_order",
    "completed_report",
    "fetch_result",
    "OrderFailedError",
    "OrderWaitTimeout",
    "PublishedResource",
    "publish_resource",
    "publish_engine",
    "publish_model_folder",
]


__getattr__ = lazy_exports(__name__, _LAZY)
