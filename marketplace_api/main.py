"""`marketplace-api`: Marketplace API. Listings, catalogue and orders arrive with issue 6; today it serves health and metrics."""

from __future__ import annotations

from enclava.serve import serve
from enclava.service import create_service_app

app = create_service_app("marketplace-api", description="Marketplace API. Listings, catalogue and orders arrive with issue 6; today it serves health and metrics.")


def main(argv: list[str] | None = None) -> None:
    serve(app, "marketplace-api", default_port=8800, argv=argv)
