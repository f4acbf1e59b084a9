"""`marketplace-api`: the marketplace service (settings from ``MARKET_*``)."""

from __future__ import annotations

from enclava.serve import serve


def main(argv: list[str] | None = None) -> None:
    from marketplace_api.app import create_app

    serve(create_app(), "marketplace-api", default_port=8800, argv=argv)


if __name__ == "__main__":
    main()
