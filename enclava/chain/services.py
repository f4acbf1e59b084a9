"""Confidential serving on chain: ServiceMarket as one client (prices, services, accounts).

A model owner prices a model per token, a provider prices its TEE offer and starts a service, a
customer deposits and signs cumulative vouchers, anyone settles the latest one, payees withdraw.
Terms, ids, prices and vouchers are :mod:`enclava.protocol.service_terms` values (hashed, priced
and signed exactly as the contract does). Reverts leave as
:class:`~enclava.chain.errors.TransactionReverted` with the contract's ``Service...`` error
decoded; a service id with no ``ServiceStarted`` event is :class:`ServiceNotFound`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_typing import HexStr
from web3 import Web3
from web3.contract import Contract
from web3.logs import DISCARD as _DISCARD

from enclava.chain.config import ChainConfig, Manifest
from enclava.chain.contracts import ContractSet
from enclava.chain.rpc import ChainClient, TxResult, translated
from enclava.errors import ChainError, EnclavaError
from enclava.protocol.service_terms import (
    ServiceTerms,
    ServiceTermsInvalid,
    Voucher,
    price_of,
    service_id_of,
    sign_voucher,
    voucher_for,
)

__all__ = [
    "ServiceClient",
    "ServiceNotFound",
    "ServiceStatus",
    "ServiceState",
    "ServiceView",
    "ServiceAccount",
    "service_id_bytes",
    "read_service_state",
    "read_service_terms",
    "service_id_of",
    "price_of",
]


class ServiceNotFound(EnclavaError):
    """No service with this id on this chain (or not a service id at all)."""

    http_status = 404
    code = "service_not_found"
    hint = (
        "Check the service id (0x + 64 hex digits, from the ServiceStarted event or the service's "
        "statement) and that you are on the chain where it was started."
    )


class ServiceStatus(enum.IntEnum):
    """``IServiceMarket.ServiceStatus``; a ``LIVE`` service past its ``endsAt`` has ended."""

    NONE = 0
    LIVE = 1
    STOPPED = 2


@dataclass(frozen=True)
class ServiceState:
    """``serviceState(id)``: the status, the end of the lifetime, when it was stopped (0: not),
    and the enclave its provider bound (None until one is)."""

    status: ServiceStatus
    ends_at: int
    stopped_at: int
    enclave: str | None = None

    def live_at(self, timestamp: int) -> bool:
        """Whether deposits, endpoints and stops are allowed at block time ``timestamp``."""
        return self.status is ServiceStatus.LIVE and timestamp < self.ends_at


@dataclass(frozen=True)
class ServiceView:
    """A service as a key broker or a client checks it: its state word plus its terms, which
    hash to ``service_id`` (None when no ``ServiceStarted`` event exists, i.e. no service)."""

    service_id: str
    state: ServiceState
    terms: ServiceTerms | None

    @property
    def status(self) -> ServiceStatus:
        return self.state.status

    @property
    def ends_at(self) -> int:
        return self.state.ends_at

    @property
    def enclave(self) -> str | None:
        return self.state.enclave


@dataclass(frozen=True)
class ServiceAccount:
    """``account(id, customer)``: the balance left, the last settled voucher (amount and
    cumulative counts), and when the account closes (0 for an unknown service)."""

    balance: int
    settled_amount: int
    input_tokens: int
    output_tokens: int
    compute_ms: int
    closable_at: int


def service_id_bytes(service_id: str | bytes) -> bytes:
    """The 32 bytes of a service id given as 0x-hex or bytes; else :class:`ServiceNotFound`."""
    try:
        raw = (
            bytes.fromhex(service_id.removeprefix("0x"))
            if isinstance(service_id, str)
            else bytes(service_id)
        )
    except (ValueError, TypeError) as exc:
        raise ServiceNotFound(f"{service_id!r} is not a service id") from exc
    if len(raw) != 32:
        raise ServiceNotFound(f"{service_id!r} is not a service id (32 bytes expected)")
    return raw


def _hex(raw: bytes) -> str:
    return "0x" + bytes(raw).hex()


def _service_logs(
    contracts: ContractSet, event: str, service_id: bytes, *, from_block: int
) -> list[Any]:
    with translated(f"{event} logs"):
        logs: list[Any] = getattr(contracts.service_market.events, event).get_logs(
            from_block=from_block, argument_filters={"serviceId": service_id}
        )
    return logs


def read_service_terms(
    contracts: ContractSet, service_id: str | bytes, *, from_block: int = 0
) -> ServiceTerms:
    """The terms of ``service_id`` from its ``ServiceStarted`` event, checked against the id
    (an RPC node that serves other terms is a ChainError); no event: :class:`ServiceNotFound`.
    Needs no account: the CA's key broker and clients read it too."""
    raw = service_id_bytes(service_id)
    logs = _service_logs(contracts, "ServiceStarted", raw, from_block=from_block)
    if not logs:
        raise ServiceNotFound(f"no service {_hex(raw)} on this chain")
    try:
        terms = ServiceTerms.from_abi(logs[-1]["args"]["terms"])
    except ServiceTermsInvalid as exc:
        raise ChainError(f"the ServiceStarted event of {_hex(raw)} is malformed") from exc
    if terms.service_id != _hex(raw):
        raise ChainError(f"the ServiceStarted event of {_hex(raw)} carries other terms")
    return terms


def read_service_state(contracts: ContractSet, service_id: str | bytes) -> ServiceState:
    """The service's state word (status ``NONE`` for an unknown id, and on a deployment without a
    ServiceMarket: nothing can be served there)."""
    if not contracts.has_service_market:
        return ServiceState(ServiceStatus.NONE, 0, 0)
    call = contracts.service_market.functions.serviceState(service_id_bytes(service_id))
    with translated("serviceState"):
        status, ends_at, stopped_at, enclave = call.call()
    bound = None if int(enclave, 16) == 0 else Web3.to_checksum_address(enclave)
    return ServiceState(ServiceStatus(int(status)), int(ends_at), int(stopped_at), bound)


class ServiceClient:
    """ServiceMarket's transactions and reads, signed locally by the caller's account."""

    def __init__(self, chain: ChainClient, contracts: ContractSet, *, from_block: int = 0) -> None:
        self.chain = chain
        self.contracts = contracts
        self.from_block = from_block
        self._chain_id: int | None = None

    @classmethod
    def from_config(cls, config: ChainConfig) -> ServiceClient:
        chain, contracts = config.connect()
        return cls(chain, contracts, from_block=config.deploy_block)

    @classmethod
    def from_manifest(cls, manifest: Manifest) -> ServiceClient:
        return cls.from_config(ChainConfig.from_manifest(manifest))

    @property
    def market(self) -> Contract:
        """The bound ServiceMarket (a ChainError when the deployment has none)."""
        return self.contracts.service_market

    @property
    def address(self) -> str:
        """ServiceMarket's address: the ``verifyingContract`` of every voucher."""
        return str(self.market.address)

    def chain_id(self) -> int:
        if self._chain_id is None:
            self._chain_id = self.chain.chain_id()
        return self._chain_id

    def chain_time(self) -> int:
        """The latest block's timestamp: the clock the contract judges lifetimes and notices by."""
        with translated("latest block"):
            return int(self.chain.w3.eth.get_block("latest")["timestamp"])

    # ------------------------------------------------------------------ prices

    def set_token_prices(
        self, account: LocalAccount, model_id: int, *, input_price: int, output_price: int
    ) -> TxResult:
        """The model owner prices ``model_id`` per input and output token (both 0: not served)."""
        call = self.market.functions.setTokenPrices(
            int(model_id), int(input_price), int(output_price)
        )
        return self._send(account, call)

    def token_prices(self, model_id: int) -> tuple[int, int]:
        """``(input_price, output_price)`` of ``model_id`` in wei per token."""
        inp, out = self._call(self.market.functions.tokenPrices(int(model_id)), "tokenPrices")
        return int(inp), int(out)

    def set_serving_price(
        self, account: LocalAccount, tee_offer_id: int, *, per_token: bool, price: int
    ) -> TxResult:
        """The provider prices its offer: wei per token when ``per_token``, else per second."""
        call = self.market.functions.setServingPrice(int(tee_offer_id), bool(per_token), int(price))
        return self._send(account, call)

    def serving_price(self, tee_offer_id: int) -> tuple[bool, int]:
        """``(per_token, price)`` a service on ``tee_offer_id`` takes now."""
        call = self.market.functions.servingPrice(int(tee_offer_id))
        per_token, price = self._call(call, "servingPrice")
        return bool(per_token), int(price)

    # ------------------------------------------------------------------ services

    def terms_for(
        self, provider: str, *, tee_offer_id: int, model_id: int, ends_at: int
    ) -> ServiceTerms:
        """Terms :meth:`start_service` accepts now: the offer's TEE type and serving price, the
        model's owner, content hash and token prices, read from the chain (nonce 0: the contract
        sets it)."""
        registry = self.contracts.provider_registry.functions
        _, tee_type, _, _ = self._call(registry.teeOfferTerms(int(tee_offer_id)), "teeOfferTerms")
        resources = self.contracts.resource_registry.functions
        owner, _, _, _, content_hash = self._call(
            resources.resourceTerms(int(model_id)), "resourceTerms"
        )
        input_price, output_price = self.token_prices(model_id)
        per_token, price = self.serving_price(tee_offer_id)
        return ServiceTerms(
            nonce=0,
            provider=provider,
            tee_offer_id=int(tee_offer_id),
            tee_type=int(tee_type),
            model_id=int(model_id),
            model_owner=str(owner),
            model_hash=_hex(content_hash),
            input_token_price=input_price,
            output_token_price=output_price,
            provider_per_token=per_token,
            provider_price=price,
            ends_at=int(ends_at),
        )

    def start_service(self, account: LocalAccount, terms: ServiceTerms) -> str:
        """Starts a service of ``terms`` (the provider's account); returns its id. The stored
        terms (with the contract's nonce) are :meth:`terms` of that id."""
        tx = self._send(account, self.market.functions.startService(terms.to_abi()))
        event = self._events(tx, "ServiceStarted")[0]
        return _hex(event["args"]["serviceId"])

    def set_endpoint(self, account: LocalAccount, terms: ServiceTerms, url: str) -> TxResult:
        """Publishes the URL of a live service's endpoint (its provider only)."""
        return self._send(account, self.market.functions.setEndpoint(terms.to_abi(), str(url)))

    def bind_enclave(self, account: LocalAccount, terms: ServiceTerms, enclave: str) -> TxResult:
        """Binds ``enclave`` (valid, certified for the provider and the terms' TEE type) to a live
        service: the one enclave its model key goes to. Binding again replaces it."""
        call = self.market.functions.bindEnclave(terms.to_abi(), Web3.to_checksum_address(enclave))
        return self._send(account, call)

    def stop_service(self, account: LocalAccount, terms: ServiceTerms) -> TxResult:
        """Ends a live service now (its provider only)."""
        return self._send(account, self.market.functions.stopService(terms.to_abi()))

    def terms(self, service_id: str | bytes) -> ServiceTerms:
        """:func:`read_service_terms` on this client's deployment."""
        return read_service_terms(self.contracts, service_id, from_block=self.from_block)

    def started_services(
        self, *, provider: str | None = None, to_block: int | str = "latest"
    ) -> list[ServiceTerms]:
        """The terms of every service started since the deployment (by ``provider`` if given), in
        chain order: what a catalogue lists. Events whose terms do not hash to their id are left
        out (an RPC node that invents them is not believed)."""
        filters = {} if provider is None else {"provider": Web3.to_checksum_address(provider)}
        with translated("ServiceStarted logs"):
            logs = self.market.events.ServiceStarted.get_logs(
                from_block=self.from_block, to_block=to_block, argument_filters=filters
            )
        found = []
        for entry in sorted(logs, key=lambda e: (int(e["blockNumber"]), int(e["logIndex"]))):
            try:
                terms = ServiceTerms.from_abi(entry["args"]["terms"])
            except ServiceTermsInvalid:
                continue
            if terms.service_id == _hex(entry["args"]["serviceId"]):
                found.append(terms)
        return found

    def endpoint(self, service_id: str | bytes) -> str | None:
        """The URL the provider last published for ``service_id`` (None if never)."""
        logs = self._logs("ServiceEndpointSet", service_id_bytes(service_id))
        return str(logs[-1]["args"]["url"]) if logs else None

    def service_state(self, service_id: str | bytes) -> ServiceState:
        """:func:`read_service_state` on this client's deployment."""
        return read_service_state(self.contracts, service_id)

    def service_view(self, service_id: str | bytes) -> ServiceView:
        """The state word and the terms of ``service_id``. The terms come from an RPC node's
        event and are returned only if they hash to the id (else a ChainError); an unknown id
        reads as status ``NONE`` with no terms."""
        raw = service_id_bytes(service_id)
        state = self.service_state(raw)
        try:
            terms: ServiceTerms | None = self.terms(raw)
        except ServiceNotFound:
            terms = None
        if terms is None and state.status is not ServiceStatus.NONE:
            raise ChainError(f"service {_hex(raw)} is started but its ServiceStarted event is gone")
        return ServiceView(_hex(raw), state, terms)

    def is_live(self, service_id: str | bytes) -> bool:
        """Started, not stopped and before its end, by the latest block's clock."""
        return self.service_state(service_id).live_at(self.chain_time())

    # ------------------------------------------------------------------ accounts

    def deposit(self, account: LocalAccount, service_id: str | bytes, value: int) -> TxResult:
        """Adds ``value`` wei to the caller's balance for a live service."""
        call = self.market.functions.deposit(service_id_bytes(service_id))
        return self._send(account, call, value=value)

    def request_close(self, account: LocalAccount, service_id: str | bytes) -> TxResult:
        """Starts the close notice of the caller's account."""
        return self._send(account, self.market.functions.requestClose(service_id_bytes(service_id)))

    def reclaim(self, account: LocalAccount, service_id: str | bytes) -> TxResult:
        """Pays the caller what is left once its account has closed."""
        return self._send(account, self.market.functions.reclaim(service_id_bytes(service_id)))

    def account(self, service_id: str | bytes, customer: str) -> ServiceAccount:
        """``customer``'s account for ``service_id``."""
        call = self.market.functions.account(
            service_id_bytes(service_id), Web3.to_checksum_address(customer)
        )
        values = self._call(call, "account")
        return ServiceAccount(*(int(v) for v in values))

    def close_notice(self) -> int:
        """Seconds an account stays open for settlement after a close request or the end."""
        return int(self._call(self.market.functions.closeNotice(), "closeNotice"))

    # ------------------------------------------------------------------ vouchers, payouts

    def voucher(
        self,
        terms: ServiceTerms,
        customer: str,
        *,
        input_tokens: int,
        output_tokens: int,
        compute_ms: int,
    ) -> Voucher:
        """The voucher for ``customer``'s cumulative counts, priced by ``terms``."""
        return voucher_for(terms, customer, input_tokens, output_tokens, compute_ms)

    def sign_voucher(self, account: LocalAccount, voucher: Voucher) -> str:
        """The customer's EIP-712 signature of ``voucher`` for this chain's ServiceMarket."""
        return sign_voucher(account, voucher, chain_id=self.chain_id(), contract=self.address)

    def settle(
        self, account: LocalAccount, terms: ServiceTerms, voucher: Voucher, signature: str | bytes
    ) -> TxResult:
        """Settles ``voucher`` (anyone may send it; the payees are the terms')."""
        raw = (
            bytes.fromhex(signature.removeprefix("0x"))
            if isinstance(signature, str)
            else bytes(signature)
        )
        call = self.market.functions.settle(terms.to_abi(), voucher.to_abi(), raw)
        return self._send(account, call)

    def settled(self, tx: TxResult) -> list[dict[str, Any]]:
        """The ``VoucherSettled`` events of a settlement: cumulative figures and new credits."""
        return [dict(e["args"]) for e in self._events(tx, "VoucherSettled")]

    def credit_of(self, address: str) -> int:
        """What ``address`` may withdraw."""
        call = self.market.functions.creditOf(Web3.to_checksum_address(address))
        return int(self._call(call, "creditOf"))

    def withdraw(self, account: LocalAccount) -> TxResult:
        """Sends the caller its credits."""
        return self._send(account, self.market.functions.withdraw())

    # ------------------------------------------------------------------ plumbing

    def _send(self, account: LocalAccount, call: Any, *, value: int = 0) -> TxResult:
        return self.chain.send_call(account, call, value=value)

    def _call(self, call: Any, what: str) -> Any:
        with translated(what):
            return call.call()

    def _events(self, tx: TxResult, event: str) -> list[Any]:
        with translated("receipt"):
            receipt = self.chain.w3.eth.get_transaction_receipt(HexStr(tx.tx_hash))
        return list(getattr(self.market.events, event)().process_receipt(receipt, errors=_DISCARD))

    def _logs(self, event: str, service_id: bytes) -> list[Any]:
        return _service_logs(self.contracts, event, service_id, from_block=self.from_block)
