"""The serving engine's process: started in the sandbox on a Unix socket, waited for, stopped.

A stand-in engine package (stdlib only, no torch) takes the place of ``engines/chat_server`` so
these runs are quick; the real engine runs in test_serving.py. The sandbox needs root on Linux.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import httpx
import pytest

from enclava.protocol.engine import EngineNetworkDenied
from trusted_loader.scratch import Scratch
from trusted_loader.serving import EngineProcess, EngineUnavailable

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="the sandbox needs root")

_FAKE_ENGINE = """
import argparse, http.server, json, os, signal, socket, socketserver, sys

parser = argparse.ArgumentParser()
parser.add_argument("--model"); parser.add_argument("--uds"); parser.add_argument("--name")
parser.add_argument("--mode", default="serve")
args, _ = parser.parse_known_args()
if args.mode == "network":
    socket.create_connection(("192.0.2.1", 80), timeout=1)
if args.mode == "exit":
    sys.exit(3)


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        try:
            open(os.path.join(args.model, "planted"), "w")
            model_writable = True
        except OSError:
            model_writable = False
        body = json.dumps({
            "uid": os.getuid(),
            "model_files": sorted(os.listdir(args.model)),
            "model_writable": model_writable,
            "name": args.name,
        }).encode()
        self.send_response(200)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_):
        pass


class Server(socketserver.UnixStreamServer):
    def get_request(self):
        request, _ = super().get_request()
        return request, ("uds", 0)


server = Server(args.uds, Handler)
signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
server.serve_forever()
"""


@pytest.fixture
def fake_root(tmp_path: Path) -> Path:
    package = tmp_path / "image" / "engines" / "chat_server"
    package.mkdir(parents=True)
    (package.parent / "__init__.py").write_text("")
    (package / "__init__.py").write_text("")
    (package / "__main__.py").write_text(_FAKE_ENGINE)
    return tmp_path / "image"


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    return folder


@pytest.fixture
def scratch(tmp_path: Path):
    with Scratch(tmp_path / "scratch") as area:
        yield area


def _engine(model_dir, scratch, fake_root, *args: str, sandboxed: bool = True) -> EngineProcess:
    return EngineProcess(
        model_dir,
        scratch=scratch,
        lifetime_s=120,
        engine_args=("--name", "tiny", *args),
        memory_mb=512,
        sandboxed=sandboxed,
        startup_timeout_s=60,
        source_root=fake_root,
    )


def _health(engine: EngineProcess) -> dict:
    transport = httpx.HTTPTransport(uds=engine.socket_address)
    with httpx.Client(transport=transport, base_url="http://engine") as client:
        return json.loads(client.get("/healthz").content)


@needs_root
def test_sandboxed_engine_serves_on_its_socket_as_nobody_with_a_read_only_model(
    model_dir, scratch, fake_root
):
    engine = _engine(model_dir, scratch, fake_root)
    engine.start()
    try:
        assert engine.alive()
        seen = _health(engine)
        assert seen == {
            "uid": 65534,
            "model_files": ["config.json"],
            "model_writable": False,
            "name": "tiny",
        }
        assert scratch.contains(engine.socket_path)
    finally:
        engine.stop()
    assert not engine.alive() and engine._run is not None and engine._run.stopped
    assert not (model_dir / "planted").exists()
    engine.stop()  # twice is fine


@needs_root
def test_an_engine_that_reaches_for_the_network_never_becomes_ready(model_dir, scratch, fake_root):
    engine = _engine(model_dir, scratch, fake_root, "--mode", "network")
    with pytest.raises(EngineUnavailable) as caught:
        engine.start()
    assert isinstance(caught.value.__cause__, EngineNetworkDenied)


@pytest.mark.parametrize("sandboxed", [pytest.param(True, marks=needs_root), False])
def test_an_engine_that_exits_at_start_is_reported(model_dir, scratch, fake_root, sandboxed):
    engine = _engine(model_dir, scratch, fake_root, "--mode", "exit", sandboxed=sandboxed)
    with pytest.raises(EngineUnavailable, match="exited while starting"):
        engine.start()
    assert not engine.alive()


def test_unsandboxed_engine_runs_as_a_child_with_a_private_socket(model_dir, scratch, fake_root):
    with _engine(model_dir, scratch, fake_root, sandboxed=False) as engine:
        assert "config.json" in _health(engine)["model_files"]  # no sandbox: writable
        assert engine.socket_path is not None
        assert engine.socket_path.parent.stat().st_mode & 0o777 == 0o700
    assert not engine.alive()


def test_an_image_without_the_engine_is_refused(model_dir, scratch, tmp_path):
    with pytest.raises(EngineUnavailable, match="not in the image"):
        _engine(model_dir, scratch, tmp_path / "empty").start()
