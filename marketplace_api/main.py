"""`marketplace-api`: the marketplace service (settings from ``MARKET_*``).

uvicorn's own proxy-header handling is off: by default it believes ``X-Forwarded-For`` from
127.0.0.1, so anyone on the host could pick their address (and escape the rate limit). The app
decides who the client is itself, believing only ``MARKET_TRUSTED_PROXIES``
(:mod:`marketplace_api.proxies`). A configuration error stops the service with its hint.
"""

from __future__ import annotations

import sys

from enclava.errors import ConfigError
from enclava.serve import run_app, service_arguments


def main(argv: list[str] | None = None) -> None:
    from marketplace_api.app import DESCRIPTION, create_app

    args = service_arguments("marketplace-api", DESCRIPTION, default_port=8800, argv=argv)
    try:
        app = create_app()
    except ConfigError as exc:
        print(f"marketplace-api: {exc.message}\nhint: {exc.hint}", file=sys.stderr)
        raise SystemExit(2) from exc
    run_app(app, args, proxy_headers=False)


if __name__ == "__main__":
    main()
