"""`marketplace-api`: the marketplace service (settings from ``MARKET_*``).

uvicorn's own proxy-header handling is off: by default it believes ``X-Forwarded-For`` from
127.0.0.1, so anyone on the host could pick their address (and escape the rate limit). The app
decides who the client is itself, believing only ``MARKET_TRUSTED_PROXIES``
(:mod:`marketplace_api.proxies`). A configuration error stops the service with its hint.
"""

from __future__ import annotations

import argparse
import sys

import uvicorn

from enclava.errors import ConfigError
from enclava.logs import configure_logging


def main(argv: list[str] | None = None) -> None:
    from marketplace_api.app import DESCRIPTION, create_app

    parser = argparse.ArgumentParser(prog="marketplace-api", description=DESCRIPTION)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8800)
    parser.add_argument("--log-level", default="info")
    args = parser.parse_args(argv)
    configure_logging(args.log_level)
    try:
        app = create_app()
    except ConfigError as exc:
        print(f"marketplace-api: {exc.message}\nhint: {exc.hint}", file=sys.stderr)
        raise SystemExit(2) from exc
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_config=None,
        log_level=args.log_level,
        proxy_headers=False,
    )


if __name__ == "__main__":
    main()
