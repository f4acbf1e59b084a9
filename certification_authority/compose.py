"""Build a running CA from its settings: unseal keys, load or create the CA certificate and the TLS
certificate, connect to the chain, and assemble the verifier, the certifier, the key broker and the
admin gate. The app carries the TLS files it must be served with in ``app.state.tls``
(:class:`certification_authority.tls.TlsFiles`): the CA serves HTTPS only.

All state (nonces, deposits, policies, revocations, admin request digests, the audit log) lives in
one database (``CA_DATABASE_URL``, default SQLite in ``CA_STATE_DIR``), so building the app again
over the same database is a restart that loses nothing."""

from __future__ import annotations

from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from fastapi import FastAPI

from certification_authority.admin import AdminGate
from certification_authority.app import build_app
from certification_authority.authority import CertificationAuthority
from certification_authority.broker import KeyBroker
from certification_authority.certificates import issue_ca_certificate
from certification_authority.chain_view import Web3ChainView
from certification_authority.db import open_database
from certification_authority.nonce_store import SqlNonceStore
from certification_authority.onchain import EnclaveRegistrar
from certification_authority.sealing import CaKeys, FileSealingKey, load_or_create_keys
from certification_authority.settings import CaSettings
from certification_authority.tls import load_or_create_tls, tls_names
from enclava.attestation.simulated import SimulatedTdxAttester
from enclava.attestation.verifiers import EvidenceVerifier
from enclava.chain.allowlist import OnChainAllowList
from enclava.measure import running_measurement

__all__ = ["create_ca_app", "load_ca_certificate"]


def load_ca_certificate(keys: CaKeys, path: Path, ca_id: str) -> x509.Certificate:
    """The CA certificate for the sealed key: reused across restarts, reissued if the key
    changed."""
    public = keys.cert_key.public_key().public_numbers()
    if path.exists():
        cert = x509.load_pem_x509_certificate(path.read_bytes())
        if cert.public_key().public_numbers() == public:  # type: ignore[union-attr]
            return cert
    cert = issue_ca_certificate(keys.cert_key, ca_id)
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return cert


def create_ca_app(settings: CaSettings | None = None) -> FastAPI:
    settings = settings or CaSettings()
    state = settings.state_dir
    state.mkdir(parents=True, exist_ok=True)
    sealing = FileSealingKey(settings.sealing_key_file or state / "sealing.key")
    keys = load_or_create_keys(
        state / "ca-keys.sealed", sealing, signer_key=settings.signer_key or None
    )
    ca_cert = load_ca_certificate(keys, state / "ca-cert.pem", settings.ca_id)
    tls = load_or_create_tls(keys.tls_key, state, settings.ca_id, tls_names(settings.tls_hostnames))
    config = settings.chain_config()
    chain, contracts = config.connect()
    start_block = config.deploy_block
    sessions = open_database(settings.db_url())
    nonces = SqlNonceStore(sessions, ttl_s=settings.nonce_ttl_s)
    verifier = EvidenceVerifier(
        allow_list=OnChainAllowList(contracts),
        nonce_store=nonces,
        insecure_allow_simulated_tee=settings.insecure_allow_simulated_tee,
    )
    registrar = EnclaveRegistrar(chain, contracts, keys.signer)
    authority = CertificationAuthority(
        keys, ca_cert, verifier, registrar=registrar, lifetime_s=settings.certificate_lifetime_s
    )
    broker = KeyBroker(
        sessions,
        keys.age_identity,
        settings.ca_id,
        Web3ChainView(contracts, from_block=start_block),
        OnChainAllowList(contracts),
    )
    admin_gate = AdminGate(
        sessions, broker.audit, admins=settings.admin_addresses, ca_id=settings.ca_id
    )
    self_attester = (
        SimulatedTdxAttester(running_measurement("ca"))
        if settings.insecure_allow_simulated_tee
        else None
    )
    app = build_app(
        authority,
        broker,
        nonces,
        ca_id=settings.ca_id,
        self_attester=self_attester,
        nonce_ttl_s=settings.nonce_ttl_s,
        admin_gate=admin_gate,
        registrar=registrar,
        tls_certificate_pem=tls.certificate_pem,
    )
    app.state.tls = tls
    return app
