"""Start the engine: load the model, start the scheduler, serve over a Unix socket or TCP."""

from __future__ import annotations

import argparse
import os
import socket
import stat
import sys
from collections.abc import Sequence

from .errors import ChatServerError

__all__ = ["bind_unix_socket", "main", "parse_args"]


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m engines.chat_server",
        description="OpenAI-compatible server over a Hugging Face causal-LM folder.",
    )
    parser.add_argument(
        "--model", required=True, help="the model folder (config.json, *.safetensors, tokenizer)"
    )
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--uds", help="serve on this Unix socket path")
    where.add_argument("--port", type=int, help="serve on this TCP port")
    parser.add_argument("--host", default="127.0.0.1", help="TCP address (with --port)")
    parser.add_argument("--max-batch", type=int, default=16, help="requests decoded together")
    parser.add_argument("--max-waiting", type=int, default=1024, help="requests queued for a row")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--name", help="the model id the API answers with (default: folder name)")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch CPU threads (default 1: small models decode fastest on one; 0: torch's choice)",
    )
    args = parser.parse_args(argv)
    if args.max_batch < 1:
        parser.error("--max-batch must be at least 1")
    return args


def bind_unix_socket(path: str) -> socket.socket:
    """A listening Unix socket at ``path`` that only its owner may use (mode 0600; uvicorn's own
    ``--uds`` makes it 0666). A stale socket there is replaced; any other file is refused."""
    try:
        if stat.S_ISSOCK(os.lstat(path).st_mode):
            os.unlink(path)
    except FileNotFoundError:
        pass
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    previous = os.umask(0o177)
    try:
        sock.bind(path)
    except OSError:
        sock.close()
        raise
    finally:
        os.umask(previous)
    return sock


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_HUB_DISABLE_TELEMETRY"):
        os.environ.setdefault(name, "1")  # never reach for the network, in or out of the sandbox
    import torch
    import transformers
    import uvicorn

    from .app import build_app
    from .loading import load_model
    from .scheduler import Scheduler

    transformers.utils.logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    if args.threads < 0:
        print("chat_server: --threads must be 0 or more", file=sys.stderr)
        return 2
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        loaded = load_model(args.model, args.device, args.name)
    except ChatServerError as error:
        print(f"chat_server: {error.code}: {error}", file=sys.stderr, flush=True)
        return 2
    scheduler = Scheduler(loaded, max_batch=args.max_batch, max_waiting=args.max_waiting)
    print(
        f"chat_server: model={loaded.name} device={loaded.device.type} "
        f"batched={scheduler.batched} max_batch={args.max_batch}",
        file=sys.stderr,
        flush=True,
    )
    app = build_app(loaded, scheduler)
    if args.uds:
        try:
            sock = bind_unix_socket(args.uds)
        except OSError as exc:
            print(f"chat_server: cannot listen on {args.uds!r}: {exc}", file=sys.stderr)
            return 2
        config = uvicorn.Config(app, fd=sock.fileno(), log_level="warning", access_log=False)
    else:
        config = uvicorn.Config(
            app, host=args.host, port=args.port, log_level="warning", access_log=False
        )
    uvicorn.Server(config).run()
    return 0
