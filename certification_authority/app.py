"""The CA as an HTTPS service (FastAPI): challenge, certify, its own attested identity, revocations
(listed to anyone, made only by a signed admin request), and the key broker's deposit / release /
audit endpoints. Routes parse and delegate.

``GET /v1/ca?nonce=N`` binds the CA's identity, including the TLS key it serves with, to ``N`` in
its own evidence (:func:`enclava.ca_link.bind_ca_identity`); without a nonce it carries no evidence
at all, since unbound evidence could be replayed by anyone. ``POST /v1/keys/release`` answers a
signed, single-use request with a signed answer (:mod:`certification_authority.release_gate`).
``POST /v1/keys/check`` answers a customer's signed pre-check (would the owners' policies admit
this order?) without releasing or counting anything.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict
from typing import Annotated, Any

from cryptography.hazmat.primitives import serialization
from fastapi import FastAPI, Query, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from certification_authority.admin import AdminGate, RevocationRequest
from certification_authority.authority import CertificationAuthority
from certification_authority.broker import DepositReceipt, KeyBroker
from certification_authority.onchain import EnclaveRegistrar
from certification_authority.release_gate import (
    RELEASE_WINDOW_S,
    KeyReleaseRequest,
    authenticate_release,
    signed_release_answer,
)
from enclava.attestation.errors import EvidenceFormatError
from enclava.attestation.evidence import Attester, Evidence
from enclava.attestation.verifiers import NonceStore
from enclava.ca_link import CaIdentity, bind_ca_identity
from enclava.protocol.broker import AuditReadRequest, DepositRequest, OrderInputsDeposit
from enclava.protocol.broker.requests import PolicyCheckAnswer, PolicyCheckRequest
from enclava.protocol.key_release import key_release_message
from enclava.service import create_service_app

__all__ = ["build_app", "key_release_message", "RELEASE_WINDOW_S", "KeyReleaseRequest"]

#: 32 bytes as 64 hex digits (an optional 0x): anything else is a 422, never a 500
NONCE_PATTERN = r"^(0x)?[0-9a-fA-F]{64}$"


class ChallengeReply(BaseModel):
    nonce: str
    expires_in: int


class CertifyRequest(BaseModel):
    evidence: dict[str, Any] = Field(
        description="Evidence JSON (enclava.attestation.Evidence.to_json)"
    )
    csr_pem: str
    nonce: str
    provider: str
    provider_signature: str


class CaIdentityReply(BaseModel):
    """``GET /v1/ca``: see :class:`enclava.ca_link.CaIdentity`; ``evidence`` only with a nonce."""

    ca_id: str
    ca_certificate_pem: str
    signer_address: str
    age_recipient: str
    tls_certificate_pem: str
    evidence: dict[str, Any] | None = Field(
        description="Evidence JSON whose report_data is bind_ca_identity(nonce, ...)"
    )


class ReleaseReply(BaseModel):
    """``POST /v1/keys/release``: see :mod:`enclava.protocol.key_release` for ``release``."""

    release: dict[str, Any] = Field(
        description="canonical-JSON object: domain, ca_id, order_id, enclave, request_nonce, "
        "issued_at, keys [{kind, resource_id, content_hash, policy_version, ciphertext}]"
    )
    signature: str = Field(
        description="the CA signer's EIP-191 signature over the canonical bytes of release"
    )


class RevocationReply(BaseModel):
    kind: str
    subject: str
    reason: str
    revoked_at: int
    audit_seq: int
    by: str
    onchain: str = Field(
        description="revoked | already_revoked | not_registered | other_ca | not_applicable"
    )
    onchain_tx: str | None = None


def build_app(
    authority: CertificationAuthority,
    broker: KeyBroker,
    nonces: NonceStore,
    *,
    ca_id: str,
    self_attester: Attester | None,
    nonce_ttl_s: int,
    admin_gate: AdminGate,
    tls_certificate_pem: str,
    registrar: EnclaveRegistrar | None = None,
    clock: Callable[[], float] = time.time,
) -> FastAPI:
    app = create_service_app(
        "enclava-ca", description="Enclava certification authority and key broker."
    )
    ca_pem = authority.ca_cert.public_bytes(serialization.Encoding.PEM).decode()
    public = CaIdentity(
        ca_id=ca_id,
        ca_certificate_pem=ca_pem,
        signer_address=authority.keys.signer.address,
        age_recipient=broker.ca_recipient,
        tls_certificate_pem=tls_certificate_pem,
    )
    public.binding_fields()  # every certificate parses: refuse to start otherwise

    @app.post("/v1/challenge", response_model=ChallengeReply, tags=["attestation"])
    def challenge() -> ChallengeReply:
        """A single-use nonce that the enclave's evidence must bind (report_data)."""
        return ChallengeReply(nonce=nonces.issue().hex(), expires_in=nonce_ttl_s)

    @app.post("/v1/certify", tags=["attestation"])
    def certify(request: CertifyRequest) -> dict[str, Any]:
        """Verify evidence + CSR; issue a certificate and register the enclave on chain."""
        try:
            evidence = Evidence.from_json(json.dumps(request.evidence))
            nonce = bytes.fromhex(request.nonce.removeprefix("0x"))
        except ValueError as exc:
            raise EvidenceFormatError("the evidence or nonce is malformed") from exc
        result = authority.certify(
            evidence=evidence,
            csr_pem=request.csr_pem,
            nonce=nonce,
            provider=request.provider,
            provider_signature=request.provider_signature,
        )
        return {**asdict(result), "ca_certificate_pem": ca_pem}

    @app.get("/v1/ca", response_model=CaIdentityReply, tags=["attestation"])
    def identity(
        nonce: Annotated[
            str | None, Query(pattern=NONCE_PATTERN, description="32 random bytes, hex")
        ] = None,
    ) -> dict[str, Any]:
        """The CA's certificate, signer address, age recipient, TLS certificate and its own TEE
        evidence.

        With ``nonce`` the evidence's report_data is ``bind_ca_identity(nonce, identity)``: it
        vouches that the measured CA holds exactly these keys, for this request. Without a nonce, no
        evidence.
        """
        reply = public.to_json()
        if self_attester is not None and nonce is not None:
            raw = bytes.fromhex(nonce.removeprefix("0x"))
            reply["evidence"] = json.loads(
                self_attester.attest(bind_ca_identity(raw, public)).to_json()
            )
        return reply

    @app.get("/v1/revocations", tags=["attestation"])
    def revocations() -> list[dict[str, Any]]:
        """The revocation list: revoked certificate serials and enclave addresses."""
        return [r.model_dump() for r in broker.revocations()]

    @app.post(
        "/v1/revocations",
        response_model=RevocationReply,
        tags=["attestation"],
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": RevocationRequest.model_json_schema()}},
            }
        },
    )
    async def revoke(request: Request) -> RevocationReply:
        """Revoke a certificate or an enclave: signed by a CA admin (CA_ADMIN_ADDRESSES), fresh,
        used once.

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
        return RevocationReply(
            **revocation.model_dump(),
            by=admin,
            onchain=onchain.status if onchain else "not_applicable",
            onchain_tx=onchain.tx_hash if onchain else None,
        )

    @app.post("/v1/keys/deposit", response_model=DepositReceipt, tags=["keys"])
    def deposit(request: DepositRequest) -> DepositReceipt:
        """Deposit a resource key (age-encrypted to the CA) under a policy, signed by the owner."""
        return broker.deposit(request)

    @app.post("/v1/keys/order-inputs", tags=["keys"])
    def deposit_order_inputs(request: OrderInputsDeposit) -> dict[str, Any]:
        """The customer deposits the key of their order's own inputs (age-encrypted to the CA),
        signed."""
        return broker.deposit_order_inputs(request)

    @app.post("/v1/keys/check", response_model=PolicyCheckAnswer, tags=["keys"])
    def check_policy(request: PolicyCheckRequest) -> PolicyCheckAnswer:
        """A customer asks, signed, before paying, whether each resource's policy admits their
        order (engine hash, TEE type, simulated or not); refused ones name the guard's reason."""
        return broker.check_policy(request)

    @app.post("/v1/keys/release", response_model=ReleaseReply, tags=["keys"])
    def release(request: KeyReleaseRequest) -> dict[str, Any]:
        """An enclave asks for an order's keys with a signed, single-use request.

        The keys leave wrapped to its certified age key, in ``{"release", "signature"}``: the CA
        signer's signature over the order, the enclave, the request nonce and each key's resource
        id and on-chain content hash. A request seen before is refused (409) and spends nothing.
        """
        now = int(clock())
        enclave = authenticate_release(request, ca_cert=authority.ca_cert, ca_id=ca_id, now=now)
        keys = broker.release(
            enclave,
            request.order_id,
            request.resource_ids,
            request_nonce=request.request_nonce,
            issued_at=request.issued_at,
        )
        return signed_release_answer(
            authority.keys.signer,
            ca_id=ca_id,
            request=request,
            enclave=enclave.enclave_address,
            keys=keys,
            now=now,
        )

    @app.post("/v1/audit", tags=["keys"])
    def audit(request: AuditReadRequest) -> dict[str, Any]:
        """An owner reads (with a wallet signature) the audit entries about their resource."""
        return broker.audit_for_owner(request).model_dump(mode="json")

    return app
