"""The marketplace API: wallet sign-in, listings, catalogue, orders and report verification over
HTTP.

``create_app(settings)`` builds the FastAPI service; ``Indexer`` follows the chain into the database
(a background thread in the service, or ``index_once`` from scripts and tests).
"""

from marketplace_api.app import create_app
from marketplace_api.indexer import Indexer, index_once
from marketplace_api.relay import list_resource_typed_data
from marketplace_api.settings import MarketSettings
from marketplace_api.siwe import SiweMessage, build_message, parse_message

__all__ = [
    "create_app",
    "Indexer",
    "index_once",
    "MarketSettings",
    "list_resource_typed_data",
    "SiweMessage",
    "build_message",
    "parse_message",
]
