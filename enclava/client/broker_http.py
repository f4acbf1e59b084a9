"""The key broker over HTTPS, from an owner's or a customer's side: deposit keys, read the audit
log, pre-check an order against the owners' policies before paying (:meth:`check_policy`).

The client talks to the CA only over the attested channel
(:func:`enclava.ca_link.connect_attested_ca`): before the first request it checks the CA's own
evidence (``verify_evidence``) and then pins its TLS key, so the age recipient that owners encrypt
their keys to is the attested CA's. Requests are built and signed by the protocol's builders
(:mod:`enclava.protocol.broker`), the very ones the broker verifies with, so what is sent is
byte-for-byte what the broker checks. CA refusals come back as :class:`BrokerRefused` with the
CA's error type; transport failures as :class:`BrokerUnavailable`; a CA that cannot be trusted as
the ``enclava.ca_link`` error that says why.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from enclava.ca_link import AttestedCa, CaUnreachable, EvidenceCheck, connect_attested_ca
from enclava.client.errors import BrokerRefused, BrokerUnavailable
from enclava.protocol.broker import (
    build_audit_request,
    build_deposit_request,
    build_order_inputs_deposit,
    check_audit_view,
)
from enclava.protocol.broker.requests import PolicyCheckAnswer, build_policy_check_request
from enclava.service_http import refusal, send

if TYPE_CHECKING:
    from enclava.chain.config import Manifest

__all__ = ["BrokerHttpClient"]


class BrokerHttpClient:
    """The broker at ``base_url`` (https), trusted once ``verify_evidence`` accepts its evidence.

    ``verify_evidence`` is ``enclava.attestation.verifiers.ca_evidence_verifier(...)`` over the
    chain's allow-list; :meth:`from_manifest` builds the devnet's. The channel is attested on first
    use, and again after a transport failure (a changed TLS key fails every pinned request).
    """

    def __init__(
        self,
        base_url: str,
        *,
        verify_evidence: EvidenceCheck,
        expected_signer: str | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._verify, self._expected_signer, self._timeout = (
            verify_evidence,
            expected_signer,
            timeout,
        )
        self._lock = threading.Lock()
        self._ca: AttestedCa | None = None

    @classmethod
    def from_manifest(cls, manifest: Manifest, *, timeout: float = 30.0) -> BrokerHttpClient:
        """The devnet's broker: the CA's evidence checked against the devnet's on-chain allow-list,
        with the simulated TEE allowed (``insecure_allow_simulated_tee``: a devnet has no
        hardware)."""
        from enclava.attestation.verifiers import ca_evidence_verifier
        from enclava.chain.allowlist import OnChainAllowList
        from enclava.chain.config import ChainConfig

        _, contracts = ChainConfig.from_manifest(manifest).connect()
        verify = ca_evidence_verifier(
            OnChainAllowList(contracts), insecure_allow_simulated_tee=True
        )
        return cls(manifest.services["ca"].url, verify_evidence=verify, timeout=timeout)

    def attested(self) -> AttestedCa:
        """The attested CA (connecting and checking its evidence on first use)."""
        with self._lock:
            if self._ca is None:
                try:
                    self._ca = connect_attested_ca(
                        self.base_url,
                        verify_evidence=self._verify,
                        expected_signer=self._expected_signer,
                        timeout=self._timeout,
                    )
                except CaUnreachable as exc:
                    raise BrokerUnavailable(exc.message) from exc
            return self._ca

    def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        ca = self.attested()
        try:
            reply = send(ca.client, method, path, BrokerUnavailable, **kwargs)
        except BrokerUnavailable:
            self._forget(ca)
            raise
        if reply.status_code >= 400:
            raise refusal(reply, BrokerRefused, path)
        body: dict[str, Any] = reply.json()  # the CA's JSON answer
        return body

    def _forget(self, ca: AttestedCa) -> None:
        with self._lock:
            if self._ca is ca:
                self._ca = None
        ca.close()

    def identity(self) -> dict[str, Any]:
        """The attested CA's public identity (``ca_id``, ``age_recipient``, ``signer_address``,
        ...)."""
        public = self.attested().identity.to_json()
        return {key: value for key, value in public.items() if key != "evidence"}

    def deposit(
        self, owner: Any, resource_id: int, resource_key: bytes, policy: Any
    ) -> dict[str, Any]:
        """Deposit ``resource_key`` for resource ``resource_id`` under ``policy``, signed by
        ``owner``."""
        ident = self.identity()
        request = build_deposit_request(
            owner, ident["age_recipient"], ident["ca_id"], resource_id, resource_key, policy
        )
        return self._call("POST", "/v1/keys/deposit", json=request.model_dump(mode="json"))

    def deposit_order_inputs(
        self, customer: Any, order_id: str, input_key: bytes
    ) -> dict[str, Any]:
        """Deposit the key of an order's own inputs; only that order's enclave can obtain it."""
        ident = self.identity()
        request = build_order_inputs_deposit(
            customer, ident["age_recipient"], ident["ca_id"], order_id, input_key
        )
        return self._call("POST", "/v1/keys/order-inputs", json=request.model_dump(mode="json"))

    def audit(self, owner: Any, resource_id: int) -> dict[str, Any]:
        """The audit entries about ``resource_id``, verified as a hash chain before they are
        returned."""
        request = build_audit_request(owner, self.identity()["ca_id"], resource_id)
        view = self._call("POST", "/v1/audit", json=request.model_dump(mode="json"))
        check_audit_view(view)
        return view

    def check_policy(
        self,
        customer: Any,
        resource_ids: Sequence[int],
        *,
        engine_hash: str,
        tee_type: int,
        simulated: bool,
        gpu_class: str = "",
    ) -> PolicyCheckAnswer:
        """Would the owners' policies release these resources' keys to ``customer``'s order of the
        engine with content hash ``engine_hash`` on a TEE of ``tee_type`` (with a GPU of
        ``gpu_class``, "" for none)? Signed by the customer; nothing is released or counted."""
        request = build_policy_check_request(
            customer,
            self.identity()["ca_id"],
            resource_ids,
            engine_hash=engine_hash,
            tee_type=tee_type,
            simulated=simulated,
            gpu_class=gpu_class,
        )
        answer = self._call("POST", "/v1/keys/check", json=request.model_dump(mode="json"))
        return PolicyCheckAnswer.model_validate(answer)

    def close(self) -> None:
        with self._lock:
            ca, self._ca = self._ca, None
        if ca is not None:
            ca.close()
