"""The CA as an HTTP service (FastAPI): challenge, certify, its own identity, revocations (listed
to anyone, made only by a signed admin request), and the key broker's deposit / release / audit
endpoints. Routes parse and delegate."""

from __future__ import annotations

import json
import time
from dataclasses import asdict

from cryptography.hazmat.primitives import serialization
from fastapi import FastAPI, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from certification_authority.admin import AdminGate, RevocationRequest
from certification_authority.authority import CertificationAuthority
from certification_authority.broker import (AuditReadRequest, OrderInputsDeposit, DepositReceipt, DepositRequest, KeyBroker,
                                            VerifiedEnclave, WrappedKey)
from certification_authority.broker.errors import SignatureInvalid
from certification_authority.broker.signing import recover_signer
from certification_authority.certificates import verify_enclave_certificate
from certification_authority.errors import CertificateInvalid
from certification_authority.onchain import EnclaveRegistrar
from certification_authority.verifiers import NonceStore
from enclava.attestation.errors import EvidenceFormatError
from enclava.attestation.evidence import Attester, Evidence
from enclava.attestation.binding import bind_report_data
from enclava.service import create_service_app

__all__ = ["build_app", "key_release_message", "RELEASE_WINDOW_S"]

RELEASE_WINDOW_S = 300


def key_release_message(ca_id: str, order_id: str, issued_at: int, offer_ids: list[int] | None = None) -> str:
    """What an enclave signs (EIP-191, with its certified key) to ask for an order's keys.

    ``offer_ids`` (decimal strings in the message) narrows the request to some of the order's
    resources; without it the message has no such field and asks for every key of the order.
    """
    fields = {"ca_id": ca_id, "domain": "enclava-key-release-v1", "issued_at": int(issued_at),
              "order_id": order_id.lower()}
    if offer_ids is not None:
        fields["offer_ids"] = [str(int(offer)) for offer in offer_ids]
    return json.dumps(fields, sort_keys=True, separators=(",", ":"))


class ChallengeReply(BaseModel):
    nonce: str
    expires_in: int


class CertifyRequest(BaseModel):
    evidence: dict = Field(description="Evidence JSON (enclava.attestation.Evidence.to_json)")
    csr_pem: str
    nonce: str
    provider: str
    provider_signature: str


class KeyReleaseRequest(BaseModel):
    certificate_pem: str
    order_id: str
    issued_at: int
    signature: str
    offer_ids: list[int] | None = Field(default=None, description="only these resources of the order")


class RevocationReply(BaseModel):
    kind: str
    subject: str
    reason: str
    revoked_at: int
    audit_seq: int
    by: str
    onchain: str = Field(description="revoked | already_revoked | not_registered | other_ca | not_applicable")
    onchain_tx: str | None = None


def build_app(authority: CertificationAuthority, broker: KeyBroker, nonces: NonceStore, *,
              ca_id: str, self_attester: Attester | None, nonce_ttl_s: int, admin_gate: AdminGate,
              registrar: EnclaveRegistrar | None = None, clock=time.time) -> FastAPI:
    app = create_service_app("enclava-ca", description="Enclava certification authority and key broker.")
    ca_pem = authority.ca_cert.public_bytes(serialization.Encoding.PEM).decode()

    @app.post("/v1/challenge", response_model=ChallengeReply, tags=["attestation"])
    def challenge() -> ChallengeReply:
        """A single-use nonce that the enclave's evidence must bind (report_data)."""
        return ChallengeReply(nonce=nonces.issue().hex(), expires_in=nonce_ttl_s)

    @app.post("/v1/certify", tags=["attestation"])
    def certify(request: CertifyRequest) -> dict:
        """Verify evidence + CSR; issue a certificate and register the enclave on chain."""
        try:
            evidence = Evidence.from_json(json.dumps(request.evidence))
            nonce = bytes.fromhex(request.nonce.removeprefix("0x"))
        except ValueError as exc:
            raise EvidenceFormatError("the evidence or nonce is malformed") from exc
        result = authority.certify(evidence=evidence, csr_pem=request.csr_pem, nonce=nonce,
                                   provider=request.provider, provider_signature=request.provider_signature)
        return {**asdict(result), "ca_certificate_pem": ca_pem}

    @app.get("/v1/ca", tags=["attestation"])
    def identity(nonce: str | None = None) -> dict:
        """The CA's certificate, signer address, age recipient, and its own TEE evidence.

        Pass ``nonce`` (32 bytes hex) to get fresh evidence that binds it to the CA's key.
        """
        reply = {"ca_id": ca_id, "ca_certificate_pem": ca_pem, "signer_address": authority.keys.signer.address,
                 "age_recipient": broker.ca_recipient, "evidence": None}
        if self_attester is not None:
            raw = bytes.fromhex(nonce.removeprefix("0x")) if nonce else bytes(32)
            spki = authority.ca_cert.public_key().public_bytes(serialization.Encoding.DER,
                                                               serialization.PublicFormat.SubjectPublicKeyInfo)
            reply["evidence"] = json.loads(self_attester.attest(bind_report_data(raw, spki)).to_json())
        return reply

    @app.get("/v1/revocations", tags=["attestation"])
    def revocations() -> list[dict]:
        """The revocation list: revoked certificate serials and enclave addresses."""
        return [r.model_dump() for r in broker.revocations()]

    @app.post("/v1/revocations", response_model=RevocationReply, tags=["attestation"],
              openapi_extra={"requestBody": {"required": True, "content": {"application/json": {
                  "schema": RevocationRequest.model_json_schema()}}}})
    async def revoke(request: Request) -> RevocationReply:
        """Revoke a certificate or an enclave: signed by a CA admin (CA_ADMIN_ADDRESSES), fresh, used once.

        An enclave is also revoked in the attestation registry when this CA's signer registered it,
        so the marketplace refuses its reports. Every decision goes to the audit log.
        """
        return await run_in_threadpool(_revoke, await request.body())

    def _revoke(body: bytes) -> RevocationReply:
        parsed = admin_gate.parse(body)  # anything but a well-formed request: 401, logged
        admin = admin_gate.authorize_revocation(parsed)
        if parsed.kind == "enclave":
            revocation = broker.revoke_enclave(parsed.subject, parsed.reason, by=admin)
            onchain = registrar.revoke(revocation.subject) if registrar is not None else None
        else:
            revocation = broker.revoke_certificate(parsed.subject, parsed.reason, by=admin)
            onchain = None
        return RevocationReply(**revocation.model_dump(), by=admin,
                               onchain=onchain.status if onchain else "not_applicable",
                               onchain_tx=onchain.tx_hash if onchain else None)

    @app.post("/v1/keys/deposit", response_model=DepositReceipt, tags=["keys"])
    def deposit(request: DepositRequest) -> DepositReceipt:
        """Deposit a resource key (age-encrypted to the CA) under a policy, signed by the owner."""
        return broker.deposit(request)

    @app.post("/v1/keys/order-inputs", tags=["keys"])
    def deposit_order_inputs(request: OrderInputsDeposit) -> dict:
        """The customer deposits the key of their order's own inputs (age-encrypted to the CA), signed."""
        return broker.deposit_order_inputs(request)

    @app.post("/v1/keys/release", response_model=list[WrappedKey], tags=["keys"])
    def release(request: KeyReleaseRequest) -> list[WrappedKey]:
        """An enclave asks for an order's keys; they leave wrapped to its certified age key."""
        now = int(clock())
        facts = verify_enclave_certificate(request.certificate_pem.encode(), authority.ca_cert, now=now)
        if abs(now - request.issued_at) > RELEASE_WINDOW_S:
            raise CertificateInvalid("the key request is stale", code="request_stale",
                                     hint="Sign a fresh request with the current time.")
        try:
            signer = recover_signer(key_release_message(ca_id, request.order_id, request.issued_at, request.offer_ids),
                                    request.signature)
        except SignatureInvalid as exc:
            raise CertificateInvalid("the key request signature is malformed") from exc
        if signer.lower() != facts.enclave_address.lower():
            raise CertificateInvalid("the key request is not signed by the certified enclave key")
        enclave = VerifiedEnclave(certificate_serial=facts.serial, tee_type=facts.tee_type,
                                  measurement=facts.measurement, enclave_address=facts.enclave_address,
                                  provider_address=facts.provider_address, age_recipient=facts.age_recipient,
                                  not_after=facts.not_after, simulated=facts.simulated)
        return broker.release(enclave, request.order_id, request.offer_ids)

    @app.post("/v1/audit", tags=["keys"])
    def audit(request: AuditReadRequest) -> dict:
        """An owner reads (with a wallet signature) the audit entries about their resource."""
        return broker.audit_for_owner(request).model_dump(mode="json")

    return app
