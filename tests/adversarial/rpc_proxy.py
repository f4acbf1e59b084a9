"""A lying JSON-RPC node: a real HTTP proxy in front of anvil that rewrites chosen fields of the
``OrderCreated`` logs it relays, the way a provider controlling its machine's RPC node could."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from web3 import Web3

__all__ = ["ORDER_CREATED_TOPIC", "OrderCreatedData", "lying_rpc"]

ORDER_CREATED_TOPIC = "0x" + Web3.keccak(
    text="OrderCreated(bytes32,address,address,(uint256,address,address,uint256,uint8,uint256,uint256,bytes32,"
    "bytes32,bytes32,(uint256,address,uint256)[]),(string,bytes32)[],bytes32[],bytes)"
).hex().removeprefix("0x")
_DATA_TYPES = [
    "(uint256,address,address,uint256,uint8,uint256,uint256,bytes32,bytes32,bytes32,"
    "(uint256,address,uint256)[])",
    "(string,bytes32)[]",
    "bytes32[]",
    "bytes",
]

#: (terms as a list, inputs, resource hashes, recipient key) -> the same, rewritten
OrderCreatedData = tuple[list[Any], list[Any], list[bytes], bytes]
Rewrite = Callable[[OrderCreatedData], OrderCreatedData]


def _rewrite_log(log: dict[str, Any], rewrite: Rewrite) -> dict[str, Any]:
    if not log.get("topics") or log["topics"][0].lower() != ORDER_CREATED_TOPIC:
        return log
    terms, inputs, hashes, key = abi_decode(
        _DATA_TYPES, bytes.fromhex(log["data"].removeprefix("0x"))
    )
    terms, inputs, hashes, key = rewrite((list(terms), list(inputs), list(hashes), bytes(key)))
    data = abi_encode(_DATA_TYPES, [tuple(terms), inputs, hashes, key])
    return {**log, "data": "0x" + data.hex()}


class _Handler(BaseHTTPRequestHandler):
    upstream: str
    rewrite: Rewrite
    rewritten: list[str]

    def log_message(self, *_args: Any) -> None:  # keep the test output quiet
        return

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        reply = httpx.post(
            self.upstream, content=body, headers={"Content-Type": "application/json"}, timeout=30
        )
        answer = reply.json()
        request = json.loads(body)
        pairs = zip(request, answer) if isinstance(request, list) else [(request, answer)]
        for call, result in pairs:
            if call.get("method") == "eth_getLogs" and isinstance(result.get("result"), list):
                before = json.dumps(result["result"])
                result["result"] = [
                    _rewrite_log(log, type(self).rewrite) for log in result["result"]
                ]
                if json.dumps(result["result"]) != before:
                    type(self).rewritten.append(call["method"])
        out = json.dumps(answer).encode()
        self.send_response(reply.status_code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)


@contextmanager
def lying_rpc(upstream: str, rewrite: Rewrite) -> Iterator[tuple[str, list[str]]]:
    """An RPC URL whose ``OrderCreated`` logs pass through ``rewrite``; also the list of rewrites
    done."""
    rewritten: list[str] = []
    handler = type(
        "LyingRpc",
        (_Handler,),
        {"upstream": upstream, "rewrite": staticmethod(rewrite), "rewritten": rewritten},
    )
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", rewritten
    finally:
        server.shutdown()
        server.server_close()
