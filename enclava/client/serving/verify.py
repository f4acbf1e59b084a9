"""Verify a service enclave before sending it anything: seven guards, always in this order.

:func:`verify_service` fetches the public statement over one unverified TLS connection that
carries no credential (:func:`enclava.client.serving._tls.fetch_statement`), then runs:

1. :func:`guard_statement_signature`  signed by the enclave it names, for this service and chain
2. :func:`guard_tls_key_bound`        the TLS certificate that answered is the statement's
3. :func:`guard_enclave_certificate`  the enclave's certificate chains to the attested CA
4. :func:`guard_enclave_on_chain`     AttestationRegistry: valid now (not revoked, measurement
                                      allowed), and its record is the certificate's
5. :func:`guard_enclave_for_service`  the enclave is the one bound to the service, and its
                                      provider and TEE type (and GPU) are the terms'
6. :func:`guard_service_live`         the service is started, not stopped and not ended
7. :func:`guard_model_hash`           the model the enclave serves is the terms' ``modelHash``

Each guard raises its own :class:`~enclava.client.serving.errors.ServiceRefused` leaf and is
logged (what passed or why it failed; never a key or token). The result,
:class:`VerifiedService`, pins every later connection to the statement's certificate.
"""

from __future__ import annotations

import hashlib
import logging
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from eth_utils.address import to_checksum_address

from enclava.chain.types import EnclaveRecord, EnclaveStatus
from enclava.client.serving._certificates import (
    CertifiedFacts,
    check_tls_certificate,
    read_enclave_certificate,
)
from enclava.client.serving._tls import Origin, fetch_statement, parse_origin, pinned_context
from enclava.client.serving.chain_view import ServiceChainView
from enclava.client.serving.errors import (
    EnclaveCertificateRefused,
    EnclaveNotForService,
    EnclaveNotValid,
    ModelHashMismatch,
    ServiceNotLive,
    SimulatedTeeRefused,
    StatementNotForService,
    TlsKeyNotBound,
)
from enclava.errors import EnclavaError
from enclava.protocol.service_terms import ServiceTerms
from enclava.protocol.serving import ServiceStatement, decode_statement, verify_statement
from enclava.protocol.tee import TeeType, offer_requires_gpu

__all__ = [
    "VerifiedService",
    "verify_service",
    "verify_statement_bytes",
    "guard_statement_signature",
    "guard_tls_key_bound",
    "guard_enclave_certificate",
    "guard_enclave_on_chain",
    "guard_enclave_for_service",
    "guard_service_live",
    "guard_model_hash",
]

log = logging.getLogger(__name__)
_T = TypeVar("_T")


@dataclass(frozen=True)
class VerifiedService:
    """A service that passed every guard; connect to it only through :meth:`ssl_context`."""

    endpoint: str
    origin: Origin
    statement: ServiceStatement
    terms: ServiceTerms
    chain_id: int
    service_market: str
    certificate_der: bytes = field(repr=False)
    facts: CertifiedFacts

    @property
    def service_id(self) -> str:
        return self.statement.service_id

    @property
    def enclave(self) -> str:
        return self.statement.enclave

    def ssl_context(self) -> ssl.SSLContext:
        """A TLS client context that trusts the statement's certificate and nothing else."""
        return pinned_context(self.certificate_der)


def _guarded(name: str, service_id: str, check: Callable[[], _T]) -> _T:
    try:
        result = check()
    except EnclavaError as exc:
        log.warning(
            "service %s: guard %s refused (%s): %s", service_id, name, exc.code, exc.message
        )
        raise
    log.info("service %s: guard %s passed", service_id, name)
    return result


def guard_statement_signature(
    statement: ServiceStatement, *, service_id: str, chain_id: int
) -> None:
    """Signed by its own enclave (``StatementForged``), for ``service_id`` on ``chain_id``."""
    verify_statement(statement)
    if statement.service_id != service_id.lower():
        raise StatementNotForService(
            f"the endpoint states service {statement.service_id}, not {service_id}"
        )
    if statement.chain_id != chain_id:
        raise StatementNotForService(
            f"the statement is for chain {statement.chain_id}, not {chain_id}"
        )


def guard_tls_key_bound(statement: ServiceStatement, *, presented_der: bytes) -> None:
    """The certificate the server presented is the statement's (P-256, self-signed)."""
    check_tls_certificate(
        statement.tls_certificate,
        presented_der=presented_der,
        spki_sha256=statement.tls_spki_sha256,
    )


def guard_enclave_certificate(
    statement: ServiceStatement, *, ca_certificate_pem: str, now: int
) -> CertifiedFacts:
    """The enclave certificate verifies under the attested CA and certifies the statement's key."""
    facts = read_enclave_certificate(
        statement.enclave_certificate, ca_certificate_pem=ca_certificate_pem, now=now
    )
    if facts.enclave != statement.enclave:
        raise EnclaveCertificateRefused("the enclave certificate certifies another key")
    return facts


def guard_enclave_on_chain(
    chain: ServiceChainView, facts: CertifiedFacts, *, ca_signer: str | None
) -> EnclaveRecord:
    """The registry holds the enclave VALID, with the certificate's facts (and CA signer)."""
    status, record = chain.enclave_status(facts.enclave)
    if status != EnclaveStatus.VALID:
        raise EnclaveNotValid(f"the registry holds the enclave as {EnclaveStatus(status).name}")
    if (
        record.provider != facts.provider
        or record.tee_type != facts.tee_type
        or bytes(record.measurement) != hashlib.sha256(facts.measurement).digest()
    ):
        raise EnclaveNotValid("the registry's record of the enclave is not its certificate's")
    if ca_signer is not None and _checksum(record.ca) != _checksum(ca_signer):
        raise EnclaveNotValid("the enclave was certified by another CA signer than the attested CA")
    return record


def guard_enclave_for_service(
    chain: ServiceChainView,
    record: EnclaveRecord,
    facts: CertifiedFacts,
    terms: ServiceTerms,
    *,
    insecure_allow_simulated_tee: bool,
) -> None:
    """The enclave is the one bound to the service on chain, and runs for the terms' provider,
    TEE type and (if the offer has one) GPU class."""
    bound = chain.service_enclave(terms.service_id)
    if bound is None or _checksum(bound) != facts.enclave:
        raise EnclaveNotForService("the enclave is not the one bound to the service on chain")
    if _checksum(record.provider) != terms.provider:
        raise EnclaveNotForService("the enclave runs for another provider than the service's")
    if record.tee_type != terms.tee_type:
        raise EnclaveNotForService("the enclave's TEE type is not the service's")
    gpu_class = chain.tee_offer_gpu_class(terms.tee_offer_id)
    if offer_requires_gpu(gpu_class) and record.gpu_class != gpu_class:
        raise EnclaveNotForService("the enclave is not certified with the offer's GPU class")
    simulated = facts.simulated or record.tee_type == TeeType.SIMULATED
    if simulated and not insecure_allow_simulated_tee:
        raise SimulatedTeeRefused("the service's enclave runs in a simulated TEE")


def guard_service_live(chain: ServiceChainView, terms: ServiceTerms, *, now: int) -> None:
    """Started on chain, not stopped, and before its ``endsAt``."""
    if not chain.service_live(terms.service_id) or terms.ends_at <= now:
        raise ServiceNotLive(f"service {terms.service_id} is not live on chain")


def guard_model_hash(statement: ServiceStatement, terms: ServiceTerms) -> None:
    """The statement's model (ciphertext) hash is the terms' ``modelHash``."""
    if statement.model_hash != terms.model_hash:
        raise ModelHashMismatch("the enclave serves another model than the service's terms")


def _checksum(address: str) -> str:
    return str(to_checksum_address(address))


def _terms(chain: ServiceChainView, service_id: str) -> ServiceTerms:
    terms = chain.service_terms(service_id)
    if terms is None or terms.service_id != service_id.lower():
        raise ServiceNotLive(f"service {service_id} is not started on chain")
    return terms


def verify_statement_bytes(
    body: bytes,
    presented_der: bytes,
    *,
    endpoint: str,
    service_id: str,
    chain: ServiceChainView,
    ca_certificate_pem: str,
    ca_signer: str | None = None,
    now: int | None = None,
    insecure_allow_simulated_tee: bool = False,
) -> VerifiedService:
    """The seven guards over a fetched statement and the certificate that served it."""
    at = int(time.time()) if now is None else now
    sid = service_id
    statement = _guarded("statement_parse", sid, lambda: decode_statement(body))

    _guarded(
        "statement_signature",
        sid,
        lambda: guard_statement_signature(
            statement, service_id=service_id, chain_id=chain.chain_id
        ),
    )
    _guarded(
        "tls_key_bound", sid, lambda: guard_tls_key_bound(statement, presented_der=presented_der)
    )
    facts = _guarded(
        "enclave_certificate",
        sid,
        lambda: guard_enclave_certificate(statement, ca_certificate_pem=ca_certificate_pem, now=at),
    )
    record = _guarded(
        "enclave_on_chain", sid, lambda: guard_enclave_on_chain(chain, facts, ca_signer=ca_signer)
    )
    terms = _guarded("service_terms", sid, lambda: _terms(chain, service_id))
    _guarded(
        "enclave_for_service",
        sid,
        lambda: guard_enclave_for_service(
            chain, record, facts, terms, insecure_allow_simulated_tee=insecure_allow_simulated_tee
        ),
    )
    _guarded("service_live", sid, lambda: guard_service_live(chain, terms, now=at))
    _guarded("model_hash", sid, lambda: guard_model_hash(statement, terms))
    return VerifiedService(
        endpoint=endpoint.rstrip("/"),
        origin=parse_origin(endpoint),
        statement=statement,
        terms=terms,
        chain_id=chain.chain_id,
        service_market=str(to_checksum_address(chain.service_market)),
        certificate_der=x509.load_pem_x509_certificate(
            statement.tls_certificate.encode("ascii")
        ).public_bytes(serialization.Encoding.DER),
        facts=facts,
    )


def verify_service(
    endpoint: str,
    service_id: str,
    chain: ServiceChainView,
    *,
    ca_certificate_pem: str,
    ca_signer: str | None = None,
    now: int | None = None,
    timeout: float = 30.0,
    insecure_allow_simulated_tee: bool = False,
) -> VerifiedService:
    """Fetch the service's statement (sending nothing secret) and run every guard on it.

    ``ca_certificate_pem`` is the attested CA's certificate (``AttestedCa.identity
    .ca_certificate_pem`` of :mod:`enclava.ca_link`) and ``ca_signer`` its signer address, which
    must be the CA the registry says certified the enclave. A simulated TEE is refused unless
    ``insecure_allow_simulated_tee`` (a development devnet).
    """
    origin = parse_origin(endpoint)
    presented_der, body = fetch_statement(origin, timeout=timeout)
    if not presented_der:
        raise TlsKeyNotBound("the service presented no TLS certificate")
    return verify_statement_bytes(
        body,
        presented_der,
        endpoint=endpoint,
        service_id=service_id,
        chain=chain,
        ca_certificate_pem=ca_certificate_pem,
        ca_signer=ca_signer,
        now=now,
        insecure_allow_simulated_tee=insecure_allow_simulated_tee,
    )
