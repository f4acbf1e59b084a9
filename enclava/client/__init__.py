"""What the parties do, as library calls the CLI, the demo, the benchmark and the tests share:
publish resources, place orders, fetch and check results."""

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
from enclava.client.publish import PublishedResource, publish_engine, publish_resource

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
]
