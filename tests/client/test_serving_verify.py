"""verify_service: each guard refuses its own failure, in the documented order, before anything is
sent; an honest enclave over real TLS passes them all."""

from __future__ import annotations

import logging
import socket
import ssl
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from eth_account import Account

from enclava.chain.types import EnclaveStatus
from enclava.client.serving import (
    EnclaveCertificateRefused,
    EnclaveNotForService,
    EnclaveNotValid,
    ModelHashMismatch,
    ServiceNotLive,
    ServiceUnreachable,
    ServiceUrlInsecure,
    SimulatedTeeRefused,
    StatementNotForService,
    TlsKeyNotBound,
    verify_service,
    verify_statement_bytes,
)
from enclava.client.serving._tls import pinned_context
from enclava.protocol.eip191 import sign_bytes
from enclava.protocol.errors import StatementForged, StatementMalformed
from enclava.protocol.serving import (
    ServiceStatement,
    certificate_spki_sha256,
    encode_statement,
    sign_statement,
)
from enclava.protocol.tee import TeeType
from tests.client.test_serving_fake_enclave import (
    CHAIN_ID,
    Ca,
    FakeChain,
    Served,
    enclave_identity,
    make_ca,
    make_terms,
    serve,
    tls_identity,
)

OTHER = Account.from_key("0x" + "77" * 32)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    s = serve(tmp_path)
    yield s
    s.stop()


def _der(pem: str) -> bytes:
    return x509.load_pem_x509_certificate(pem.encode()).public_bytes(serialization.Encoding.DER)


@dataclass
class Scenario:
    """A signed statement, the certificate that served it, a chain view and the CA."""

    statement: ServiceStatement
    presented: bytes
    chain: FakeChain
    ca: Ca

    def verify(self, **kwargs: Any) -> None:
        verify_statement_bytes(
            encode_statement(self.statement),
            self.presented,
            endpoint="https://127.0.0.1:1",
            service_id=self.chain.terms.service_id,
            chain=self.chain,
            ca_certificate_pem=self.ca.pem,
            **kwargs,
        )


def _scenario(
    tmp: Path,
    *,
    terms_changes: dict[str, Any] | None = None,
    statement_changes: dict[str, Any] | None = None,
    tee_type: int = TeeType.TDX,
    simulated: bool = False,
    issuing_ca: Ca | None = None,
) -> Scenario:
    ca = make_ca()
    account, enclave_pem = enclave_identity(
        issuing_ca or ca, tee_type=tee_type, simulated=simulated
    )
    _, _, tls_pem = tls_identity(tmp, "tls")
    terms = make_terms(**(terms_changes or {}))
    statement = ServiceStatement(
        service_id=terms.service_id,
        chain_id=CHAIN_ID,
        enclave=account.address,
        model_hash=terms.model_hash,
        weights_sha256="0x" + "ee" * 32,
        model_name="pydoc-tiny",
        tls_certificate=tls_pem,
        tls_spki_sha256=certificate_spki_sha256(tls_pem),
        enclave_certificate=enclave_pem,
        issued_at=int(time.time()),
    )
    statement = sign_statement(account, replace(statement, **(statement_changes or {})))
    chain = FakeChain(terms=terms, enclave=account.address, record_tee=int(tee_type))
    return Scenario(statement, _der(tls_pem), chain, ca)


def test_honest_enclave_passes_every_guard_in_order(
    served: Served, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="enclava.client.serving.verify")
    service = verify_service(
        served.enclave.url,
        served.enclave.terms.service_id,
        served.chain,
        ca_certificate_pem=served.ca.pem,
        timeout=10,
    )
    assert service.statement == served.enclave.statement
    assert service.enclave == served.enclave.account.address
    assert service.certificate_der == _der(served.cert_pem)
    passed = [r.getMessage().split("guard ")[1].split(" ")[0] for r in caplog.records]
    assert passed == [
        "statement_parse",
        "statement_signature",
        "tls_key_bound",
        "enclave_certificate",
        "enclave_on_chain",
        "service_terms",
        "enclave_for_service",
        "service_live",
        "model_hash",
    ]
    assert served.enclave.bodies == []


def test_revoked_enclave_is_refused_before_anything_is_sent(served: Served) -> None:
    served.chain.status = EnclaveStatus.REVOKED
    with pytest.raises(EnclaveNotValid) as info:
        verify_service(
            served.enclave.url,
            served.enclave.terms.service_id,
            served.chain,
            ca_certificate_pem=served.ca.pem,
            timeout=10,
        )
    assert info.value.code == "enclave_not_valid" and "Nothing was sent" in info.value.hint
    assert served.enclave.bodies == []


def test_statement_naming_another_tls_certificate_is_refused(tmp_path: Path) -> None:
    _, _, other_pem = tls_identity(tmp_path, "other")
    s = serve(tmp_path, statement_tls_pem=other_pem)
    try:
        with pytest.raises(TlsKeyNotBound):
            verify_service(
                s.enclave.url,
                s.enclave.terms.service_id,
                s.chain,
                ca_certificate_pem=s.ca.pem,
                timeout=10,
            )
    finally:
        s.stop()


def test_endpoint_must_be_https_and_reachable() -> None:
    chain = FakeChain(terms=make_terms(), enclave=OTHER.address)
    with pytest.raises(ServiceUrlInsecure):
        verify_service("http://127.0.0.1:1", chain.terms.service_id, chain, ca_certificate_pem="")
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    with pytest.raises(ServiceUnreachable):
        verify_service(
            f"https://127.0.0.1:{port}", chain.terms.service_id, chain, ca_certificate_pem=""
        )


def test_pinned_context_trusts_the_self_signed_leaf_and_nothing_else(
    served: Served, tmp_path: Path
) -> None:
    port = served.enclave.port
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with pinned_context(_der(served.cert_pem)).wrap_socket(raw, server_hostname="x") as tls:
            assert tls.getpeercert(binary_form=True) == _der(served.cert_pem)
    _, _, other_pem = tls_identity(tmp_path, "pin-other")
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with pytest.raises(ssl.SSLCertVerificationError):
            pinned_context(_der(other_pem)).wrap_socket(raw, server_hostname="x")


def test_honest_scenario_passes(tmp_path: Path) -> None:
    _scenario(tmp_path).verify()


def test_statement_signed_by_another_key_is_refused(tmp_path: Path) -> None:
    s = _scenario(tmp_path)
    forged = replace(s.statement, signature=sign_bytes(OTHER, s.statement.signing_bytes()))
    with pytest.raises(StatementForged):
        replace(s, statement=forged).verify()
    with pytest.raises(StatementForged):
        replace(s, statement=replace(s.statement, model_name="tampered")).verify()


def test_statement_that_is_not_a_statement_is_refused(tmp_path: Path) -> None:
    s = _scenario(tmp_path)
    with pytest.raises(StatementMalformed):
        verify_statement_bytes(
            b"{}",
            s.presented,
            endpoint="https://h:1",
            service_id=s.chain.terms.service_id,
            chain=s.chain,
            ca_certificate_pem=s.ca.pem,
        )


def test_statement_for_another_service_or_chain_is_refused(tmp_path: Path) -> None:
    with pytest.raises(StatementNotForService):
        _scenario(tmp_path, statement_changes={"service_id": "0x" + "00" * 32}).verify()
    with pytest.raises(StatementNotForService):
        _scenario(tmp_path, statement_changes={"chain_id": 1}).verify()


def test_tls_key_not_bound_is_refused(tmp_path: Path) -> None:
    s = _scenario(tmp_path)
    _, _, other_pem = tls_identity(tmp_path, "presented")
    with pytest.raises(TlsKeyNotBound):
        replace(s, presented=_der(other_pem)).verify()
    with pytest.raises(TlsKeyNotBound):
        _scenario(tmp_path, statement_changes={"tls_spki_sha256": "0x" + "00" * 32}).verify()


def test_enclave_certificate_of_another_ca_is_refused(tmp_path: Path) -> None:
    with pytest.raises(EnclaveCertificateRefused):
        _scenario(tmp_path, issuing_ca=make_ca("Rogue CA")).verify()


def test_enclave_certificate_naming_another_key_is_refused_after_a_valid_signature(
    tmp_path: Path,
) -> None:
    ca = make_ca()
    account, _ = enclave_identity(ca)
    _, foreign_pem = enclave_identity(ca)
    s = _scenario(tmp_path)
    statement = sign_statement(
        account,
        replace(
            s.statement, enclave=account.address, enclave_certificate=foreign_pem, signature=""
        ),
    )
    with pytest.raises(EnclaveCertificateRefused, match="another key"):
        replace(s, statement=statement, ca=ca).verify()


@pytest.mark.parametrize(
    "status",
    [
        EnclaveStatus.REVOKED,
        EnclaveStatus.UNKNOWN,
        EnclaveStatus.CA_REVOKED,
        EnclaveStatus.MEASUREMENT_NOT_ALLOWED,
        EnclaveStatus.EXPIRED,
    ],
)
def test_enclave_not_valid_on_chain_is_refused(tmp_path: Path, status: EnclaveStatus) -> None:
    s = _scenario(tmp_path)
    s.chain.status = status
    with pytest.raises(EnclaveNotValid, match=status.name):
        s.verify()


def test_chain_record_unlike_the_certificate_or_ca_is_refused(tmp_path: Path) -> None:
    s = _scenario(tmp_path)
    s.chain.record_provider = "0x" + "09" * 20
    with pytest.raises(EnclaveNotValid):
        s.verify()
    s = _scenario(tmp_path)
    with pytest.raises(EnclaveNotValid, match="another CA signer"):
        s.verify(ca_signer="0x" + "0b" * 20)
    s.verify(ca_signer=s.chain.record_ca)


def test_enclave_for_another_provider_tee_or_gpu_is_refused(tmp_path: Path) -> None:
    with pytest.raises(EnclaveNotForService):
        _scenario(tmp_path, terms_changes={"provider": "0x" + "08" * 20}).verify()
    with pytest.raises(EnclaveNotForService):
        _scenario(tmp_path, terms_changes={"tee_type": int(TeeType.SEV_SNP)}).verify()
    s = _scenario(tmp_path)
    s.chain.gpu_class = "H100"
    with pytest.raises(EnclaveNotForService):
        s.verify()


def test_enclave_not_bound_to_the_service_is_refused(tmp_path: Path) -> None:
    s = _scenario(tmp_path)
    s.chain.bound = None
    with pytest.raises(EnclaveNotForService, match="bound"):
        s.verify()
    s.chain.bound = OTHER.address  # a restarted enclave was bound since: this one is stale
    with pytest.raises(EnclaveNotForService, match="bound"):
        s.verify()


def test_simulated_enclave_is_refused_unless_allowed(tmp_path: Path) -> None:
    s = _scenario(
        tmp_path,
        terms_changes={"tee_type": int(TeeType.SIMULATED)},
        tee_type=TeeType.SIMULATED,
        simulated=True,
    )
    with pytest.raises(SimulatedTeeRefused):
        s.verify()
    s.verify(insecure_allow_simulated_tee=True)


def test_service_not_live_is_refused(tmp_path: Path) -> None:
    s = _scenario(tmp_path)
    s.chain.live = False
    with pytest.raises(ServiceNotLive):
        s.verify()
    with pytest.raises(ServiceNotLive):
        _scenario(tmp_path, terms_changes={"ends_at": int(time.time()) - 1}).verify()


def test_model_hash_other_than_the_terms_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ModelHashMismatch):
        _scenario(tmp_path, statement_changes={"model_hash": "0x" + "0f" * 32}).verify()


def test_guards_run_in_order_first_failure_wins(tmp_path: Path) -> None:
    s = _scenario(tmp_path, statement_changes={"model_hash": "0x" + "0f" * 32})
    s.chain.status = EnclaveStatus.REVOKED
    s.chain.live = False
    with pytest.raises(EnclaveNotValid):
        s.verify()
