"""Run one of Enclava's FastAPI services with uvicorn: ``--host``, ``--port``, structured logs."""

from __future__ import annotations

import argparse

import uvicorn
from fastapi import FastAPI

from enclava.logs import configure_logging

__all__ = ["serve"]


def serve(app: FastAPI, prog: str, *, default_port: int, argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog=prog, description=app.description or app.title)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=default_port)
    parser.add_argument("--log-level", default="info")
    args = parser.parse_args(argv)
    configure_logging(args.log_level)
    uvicorn.run(app, host=args.host, port=args.port, log_config=None, log_level=args.log_level)
