"""Starting a confidential service in the enclave: nothing the host gives is believed beyond what
the service id commits to (docs/SERVING.md, "In the enclave").

Guards, in this order, each logged without secrets:

1. ``guard_service_terms``    the terms (from the host's RPC node) hash to the service id, the
                              service is LIVE on chain and within its lifetime, runs in this TEE
                              type and belongs to this enclave's provider
2. ``guard_service_bound``    the provider bound exactly this enclave to the service on chain (the
                              key broker and every client check the same binding)
3. the model's ciphertext, fetched by a CID the host names, must hash to ``terms.model_hash``
4. the broker's signed answer must name exactly one key: the model's, for ``terms.model_hash``
5. the archive must be a model folder the serving engine may load (no pickles, no code)

Then the model is unpacked into a scratch area wiped at stop, and :class:`ServingEnclave` serves
it; the returned :class:`RunningService` stops it all.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from enclava.chain.services import ServiceStatus, read_service_state, read_service_terms
from enclava.errors import EnclavaError
from enclava.logs import get_logger
from enclava.protocol.engine import ModelFolderInvalid, model_archive_sha256, unpack_model_folder
from enclava.protocol.errors import ReleaseAnswerMismatch
from enclava.protocol.key_release import ExpectedKey, require_release_matches
from enclava.protocol.service_terms import ServiceTerms
from enclava.protocol.serving import ServiceStatement
from trusted_loader.enclave import EnclaveCredential
from trusted_loader.errors import EngineInvalid, KeyReleaseInvalid, LoaderError
from trusted_loader.pipeline import LoaderContext, fetch_checked, open_released, open_resource
from trusted_loader.scratch import Scratch
from trusted_loader.serving import ServingEnclave, ServingSettings

__all__ = [
    "ServiceNotServable",
    "RunningService",
    "start_service",
    "guard_service_terms",
    "guard_service_bound",
]

log = get_logger("trusted_loader.service_mode")


class ServiceNotServable(LoaderError):
    """The chain does not let this enclave serve the service (yet): the host's to fix."""

    code = "service_not_servable"
    hint = (
        "Start the service on chain (ServiceMarket.startService), bind this enclave to it "
        "(bindEnclave) after its certification, and start it before its endsAt."
    )
    http_status = 409


@dataclass
class RunningService:
    """A started service: its signed statement, and ``stop()`` (server, engine, scratch)."""

    service_id: str
    terms: ServiceTerms
    statement: ServiceStatement
    serving: ServingEnclave = field(repr=False)
    scratch: Scratch = field(repr=False)
    _stopped: threading.Event = field(default_factory=threading.Event, repr=False)

    def stop(self) -> None:
        if self._stopped.is_set():
            return
        self._stopped.set()
        try:
            self.serving.stop()
        finally:
            self.scratch.__exit__(None, None, None)
        log.info("service stopped", extra={"service_id": self.service_id})


def guard_service_terms(
    ctx: LoaderContext, enclave: EnclaveCredential, service_id: str
) -> ServiceTerms:
    try:
        terms = read_service_terms(
            ctx.market.contracts, service_id, from_block=ctx.market.from_block
        )
        state = read_service_state(ctx.market.contracts, service_id)
    except EnclavaError as exc:
        raise ServiceNotServable(f"service {service_id}: {exc.message}") from exc
    if state.status is not ServiceStatus.LIVE or ctx.clock() >= state.ends_at:
        raise ServiceNotServable(f"service {service_id} is not live ({state.status.name})")
    if terms.provider != enclave.provider or int(terms.tee_type) != int(enclave.tee_type):
        raise ServiceNotServable(
            f"service {service_id} is another provider's or for another TEE type"
        )
    return terms


def guard_service_bound(ctx: LoaderContext, enclave: EnclaveCredential, service_id: str) -> None:
    state = read_service_state(ctx.market.contracts, service_id)
    if state.enclave != enclave.address:
        raise ServiceNotServable(
            f"service {service_id} is bound to {state.enclave or 'no enclave'}, "
            f"not to this enclave {enclave.address}"
        )


def _model_key(
    ctx: LoaderContext, enclave: EnclaveCredential, service_id: str, terms: ServiceTerms
) -> bytes:
    released = ctx.ca.release_keys(enclave=enclave, order_id=service_id)
    expected = [ExpectedKey("resource", terms.model_id, bytes.fromhex(terms.model_hash[2:]))]
    try:
        require_release_matches(released, expected)
    except ReleaseAnswerMismatch as mismatch:
        raise KeyReleaseInvalid(f"service {service_id}: {mismatch.message}") from mismatch
    return open_released(released[0].ciphertext, enclave)


def start_service(ctx: LoaderContext, service_id: str, settings: ServingSettings) -> RunningService:
    """Check, fetch, obtain the key, unpack and serve ``service_id``'s model."""
    service_id = service_id.lower()
    enclave = ctx.enclave()
    terms = guard_service_terms(ctx, enclave, service_id)
    guard_service_bound(ctx, enclave, service_id)
    record = ctx.market.resource(terms.model_id)
    ciphertext = fetch_checked(
        ctx, record["cid"], bytes.fromhex(terms.model_hash[2:]), f"model {terms.model_id}"
    )
    archive = open_resource(ciphertext, _model_key(ctx, enclave, service_id, terms), "model")
    scratch = Scratch(ctx.scratch_root, prefix="enclava-model-").__enter__()
    try:
        try:
            folder = unpack_model_folder(archive, scratch.sub("model", 0o755))
        except ModelFolderInvalid as exc:
            raise EngineInvalid(f"model {terms.model_id}: {exc.message}") from exc
        serving = ServingEnclave(
            account=enclave.account,
            enclave_certificate_pem=enclave.certificate_pem,
            terms=terms,
            service_id=service_id,
            model_dir=folder.path,
            model_hash=terms.model_hash,
            weights_sha256=model_archive_sha256(archive),
            settings=settings,
            clock=ctx.clock,
        )
        del archive
        serving.start()
        serving.serve_in_thread()
    except BaseException:
        scratch.__exit__(None, None, None)
        raise
    assert serving.statement is not None
    log.info(
        "service started",
        extra={"service_id": service_id, "model_id": terms.model_id, "port": settings.port},
    )
    return RunningService(service_id, terms, serving.statement, serving, scratch)
