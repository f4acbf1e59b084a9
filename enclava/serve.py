"""Run one of Enclava's FastAPI services with uvicorn: ``--host``, ``--port``, structured logs, and
HTTPS when the service gives its TLS files (the CA always does: it serves HTTPS only).

:func:`serve` is the whole command; a service that must read its arguments before it builds its
app (the marketplace API, whose configuration errors stop it with a hint) calls
:func:`service_arguments` and then :func:`run_app`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import uvicorn
from fastapi import FastAPI

from enclava.errors import ConfigError
from enclava.logs import configure_logging

__all__ = ["serve", "service_arguments", "run_app"]


def service_arguments(
    prog: str, description: str, *, default_port: int, argv: list[str] | None = None
) -> argparse.Namespace:
    """Parse ``--host``, ``--port`` and ``--log-level`` and set up structured logs at that level."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=default_port)
    parser.add_argument("--log-level", default="info")
    args = parser.parse_args(argv)
    configure_logging(args.log_level)
    return args


def run_app(
    app: FastAPI,
    args: argparse.Namespace,
    *,
    ssl_certfile: str | Path | None = None,
    ssl_keyfile: str | Path | None = None,
    ssl_keyfile_password: str | None = None,
    proxy_headers: bool = True,
) -> None:
    """Serve ``app`` on ``args``' host and port (blocking); with ``ssl_certfile`` and
    ``ssl_keyfile`` (PEM; the key may be encrypted under ``ssl_keyfile_password``) over HTTPS
    only. ``proxy_headers=False`` stops uvicorn believing ``X-Forwarded-*``."""
    if (ssl_certfile is None) != (ssl_keyfile is None):
        raise ConfigError("HTTPS needs both a certificate file and a key file")
    https = ssl_certfile is not None
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_config=None,
        log_level=args.log_level,
        ssl_certfile=str(ssl_certfile) if https else None,
        ssl_keyfile=str(ssl_keyfile) if https else None,
        ssl_keyfile_password=ssl_keyfile_password if https else None,
        proxy_headers=proxy_headers,
    )


def serve(
    app: FastAPI,
    prog: str,
    *,
    default_port: int,
    argv: list[str] | None = None,
    ssl_certfile: str | Path | None = None,
    ssl_keyfile: str | Path | None = None,
    ssl_keyfile_password: str | None = None,
) -> None:
    """Serve ``app``; with ``ssl_certfile`` and ``ssl_keyfile`` (PEM; the key may be encrypted under
    ``ssl_keyfile_password``) over HTTPS only."""
    args = service_arguments(
        prog, app.description or app.title, default_port=default_port, argv=argv
    )
    run_app(
        app,
        args,
        ssl_certfile=ssl_certfile,
        ssl_keyfile=ssl_keyfile,
        ssl_keyfile_password=ssl_keyfile_password,
    )
