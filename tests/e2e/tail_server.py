"""The model owner's tail service (engines/splitnn_model) on a uvicorn thread, for devnet tests."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import uvicorn

from enclava.splitnn.tail_service import create_tail_app
from tests.e2e.provider_process import free_port


@contextmanager
def serving_tail() -> Iterator[str]:
    """Serve the tail on a free local port; yields its base URL once it answers."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_tail_app(), host="127.0.0.1", port=port, log_config=None, log_level="warning"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                if httpx.get(f"{url}/v1/tail", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.05)
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=10)
