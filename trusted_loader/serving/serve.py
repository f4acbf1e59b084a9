"""``ServingEnclave``: one service enclave, composed and served over HTTPS.

Given the enclave's certified identity (its signing account and CA-issued certificate), the
service's terms, the decrypted model folder and its hashes, :meth:`ServingEnclave.start`:

1. enters a private scratch area (memory-backed, wiped at stop);
2. makes a fresh P-256 TLS key and a self-signed certificate for the service's host names, valid
   until the service ends (``tls``);
3. starts ``engines.chat_server`` in the sandbox on a Unix socket and waits for it
   (``engine_process``);
4. signs the service statement (``enclava.protocol.serving``): service id, chain, enclave, model
   and weights hashes, the TLS certificate and its SPKI hash, the enclave certificate;
5. serves the proxy (``proxy``) with uvicorn over TLS; the key and certificate files uvicorn loads
   are wiped from the scratch area as soon as it has loaded them.

:meth:`stop` stops the server, then the engine, then wipes the scratch area.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import uvicorn
from eth_account.signers.local import LocalAccount

from enclava.logs import get_logger
from enclava.protocol.service_terms import ServiceTerms, service_id_of
from enclava.protocol.serving import ServiceStatement, encode_statement, sign_statement
from trusted_loader.sandbox import DeviceNode
from trusted_loader.scratch import Scratch, wipe_tree
from trusted_loader.serving.engine_process import EngineProcess
from trusted_loader.serving.errors import ServingSetupFailed
from trusted_loader.serving.ledger import Ledger
from trusted_loader.serving.proxy import ProxyConfig, build_proxy_app
from trusted_loader.serving.settings import ServingSettings
from trusted_loader.serving.tls import TlsIdentity, make_tls_identity

__all__ = ["ServingEnclave"]

log = get_logger("trusted_loader.serving")

_START_WAIT_S = 30.0


class ServingEnclave:
    """One service: ``start()``, then ``serve()`` (blocking) or ``serve_in_thread()``;
    ``stop()``."""

    def __init__(
        self,
        *,
        account: LocalAccount,
        enclave_certificate_pem: str,
        terms: ServiceTerms,
        service_id: str,
        model_dir: Path,
        model_hash: str,
        weights_sha256: str,
        settings: ServingSettings,
        clock: Callable[[], float] = time.time,
        gpu_devices: tuple[DeviceNode, ...] = (),
        engine_source_root: Path | None = None,
    ) -> None:
        if service_id_of(terms) != service_id.lower():
            raise ServingSetupFailed("the service id is not the hash of the service terms")
        if terms.model_hash != model_hash.lower():
            raise ServingSetupFailed("the model hash is not the one the service terms name")
        if clock() >= terms.ends_at:
            raise ServingSetupFailed("the service has already ended")
        self.account = account
        self.enclave_certificate_pem = enclave_certificate_pem
        self.terms = terms
        self.service_id = service_id.lower()
        self.model_dir = Path(model_dir)
        self.model_hash = model_hash.lower()
        self.weights_sha256 = weights_sha256.lower()
        self.settings = settings
        self.clock = clock
        self.gpu_devices = gpu_devices
        self.engine_source_root = engine_source_root
        self.scratch = Scratch(
            Path(settings.scratch_root) if settings.scratch_root else None,
            prefix="enclava-service-",
        )
        self.tls: TlsIdentity | None = None
        self.engine: EngineProcess | None = None
        self.statement: ServiceStatement | None = None
        self.ledger = Ledger(
            terms,
            chain_id=settings.chain_id,
            market=settings.service_market,
            credit_responses=settings.credit_responses,
        )
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._entered = False

    # -- start -----------------------------------------------------------------------------------

    def start(self) -> None:
        """Scratch, TLS identity, engine, signed statement, and the server's loaded config."""
        self.scratch.__enter__()
        self._entered = True
        try:
            self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> None:
        settings = self.settings
        self.tls = make_tls_identity(settings.hosts, not_after=self.terms.ends_at, now=self.clock())
        engine_args = ("--name", settings.model_name, *settings.engine_args)
        if settings.engine_threads:
            engine_args += ("--threads", str(settings.engine_threads))
        self.engine = EngineProcess(
            self.model_dir,
            scratch=self.scratch,
            lifetime_s=self.terms.ends_at - self.clock(),
            engine_args=engine_args,
            memory_mb=settings.engine_memory_mb,
            threads=settings.engine_threads or None,
            sandboxed=not settings.insecure_unsandboxed_engine,
            gpu_devices=self.gpu_devices,
            startup_timeout_s=settings.engine_startup_timeout_s,
            source_root=self.engine_source_root,
        )
        self.engine.start()
        assert self.engine.socket_path is not None
        self.statement = sign_statement(
            self.account,
            ServiceStatement(
                service_id=self.service_id,
                chain_id=settings.chain_id,
                enclave=self.account.address,
                model_hash=self.model_hash,
                weights_sha256=self.weights_sha256,
                model_name=settings.model_name,
                tls_certificate=self.tls.certificate_pem,
                tls_spki_sha256=self.tls.spki_sha256,
                enclave_certificate=self.enclave_certificate_pem,
                issued_at=int(self.clock()),
            ),
        )
        engine = self.engine
        app = build_proxy_app(
            ProxyConfig(
                account=self.account,
                service_id=self.service_id,
                model_hash=self.model_hash,
                statement=encode_statement(self.statement),
                ledger=self.ledger,
                engine_socket=self.engine.socket_address,
                clock=self.clock,
                engine_alive=engine.alive,
            )
        )
        tls_folder = self.scratch.sub("tls")
        key_file, cert_file = self.tls.server_files(tls_folder)
        try:
            config = uvicorn.Config(
                app,
                host=settings.bind_host,
                port=settings.port,
                ssl_keyfile=str(key_file),
                ssl_certfile=str(cert_file),
                log_config=None,
                access_log=False,
                lifespan="on",
                timeout_graceful_shutdown=10,
            )
            config.load()  # reads the key into the SSL context
        finally:
            wipe_tree(tls_folder)
        self._server = uvicorn.Server(config)
        log.info(
            "service enclave ready",
            extra={
                "service_id": self.service_id,
                "enclave": self.account.address,
                "tls_spki_sha256": self.tls.spki_sha256,
            },
        )

    # -- serve -----------------------------------------------------------------------------------

    def serve(self) -> None:
        """Serve HTTPS until :meth:`stop` (or a signal, in the main thread)."""
        if self._server is None:
            raise ServingSetupFailed("start the service enclave first")
        self._server.run()

    def serve_in_thread(self) -> None:
        """Serve in a background thread; returns once the server listens."""
        if self._server is None:
            raise ServingSetupFailed("start the service enclave first")
        server = self._server
        self._thread = threading.Thread(target=server.run, name="service-https", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + _START_WAIT_S
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise ServingSetupFailed("the HTTPS server did not start")
            time.sleep(0.02)

    @property
    def port(self) -> int:
        """The port the server listens on (the one the OS chose for port 0)."""
        server = self._server
        if server is None or not server.servers:
            return self.settings.port
        return int(server.servers[0].sockets[0].getsockname()[1])

    # -- stop ------------------------------------------------------------------------------------

    def stop(self) -> None:
        """Stop the server, the engine, and wipe the scratch area; safe to call twice."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None
        if self.engine is not None:
            self.engine.stop()
        if self._entered:
            self._entered = False
            self.scratch.__exit__(None, None, None)
        log.info("service enclave stopped", extra={"service_id": self.service_id})

    def __enter__(self) -> ServingEnclave:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
