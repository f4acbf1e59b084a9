"""Each customer's account in the enclave: receipts' sequence, cumulative usage, latest voucher.

The enclave is paid by cumulative EIP-712 vouchers its customers sign
(``enclava.protocol.service_terms``). A voucher is kept only if it verifies: signed by the
customer it names, for this service, its amount ``price_of`` its counts, and claiming no more
than the receipts this enclave issued showed (a customer is never asked to pay for, and a provider
never settles, usage nobody was served). The newest voucher that covers every count of an older
one replaces it; an older or incomparable one changes nothing.

Vouchers are cumulative since the customer's account on chain began, and an enclave's memory is
not: a voucher that comes with a customer's first request to this enclave (before any receipt) is
taken as the usage counted before (by an earlier enclave of the service) and becomes the start of
the customer's cumulative counts here. It is the customer's own signature over their own account,
so it can only make them pay what they already agreed to; from the first receipt on, a voucher
may count no more than the receipts showed.

The credit rule: the enclave serves a customer only while the usage it has not seen vouched for
is at most ``credit_responses`` responses (one, per the spec) — counting the request being admitted,
the ones still in flight, and completed responses whose cumulative counts the latest voucher does
not cover. Otherwise it answers 402 :class:`PaymentRequired` with the counts to vouch for.

Every method takes one lock for a few dictionary operations, never across an ``await``, so the
ledger is safe to use from the event loop and from threads alike.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from enclava.protocol.errors import ProtocolError
from enclava.protocol.service_terms import ServiceTerms, price_of, service_id_of
from enclava.protocol.serving import Cumulative, SignedVoucher, verify_voucher_envelope
from trusted_loader.serving.errors import PaymentRequired, VoucherRefused

__all__ = ["Completed", "Ledger", "Ticket", "covers"]


def _highest(a: Cumulative, b: Cumulative) -> Cumulative:
    return Cumulative(
        max(a.input_tokens, b.input_tokens),
        max(a.output_tokens, b.output_tokens),
        max(a.compute_ms, b.compute_ms),
    )


def covers(held: Cumulative, counts: Cumulative) -> bool:
    """Whether ``held`` counts at least as much as ``counts`` in every count."""
    return (
        counts.input_tokens <= held.input_tokens
        and counts.output_tokens <= held.output_tokens
        and counts.compute_ms <= held.compute_ms
    )


@dataclass(frozen=True)
class Ticket:
    """One admitted request of ``customer``; complete or abort it exactly once."""

    customer: str
    number: int
    free: bool = False  # a request that costs nothing (``GET /v1/models``)


@dataclass
class _Account:
    sequence: int = 0
    cumulative: Cumulative = field(default_factory=Cumulative)
    #: cumulative counts after each receipt, oldest first, only those no voucher covers yet
    unvouched: list[Cumulative] = field(default_factory=list)
    in_flight: set[int] = field(default_factory=set)
    voucher: SignedVoucher | None = None


@dataclass(frozen=True)
class Completed:
    """What a receipt states: its sequence number and the customer's new cumulative counts."""

    sequence: int
    cumulative: Cumulative


class Ledger:
    """The accounts of one service's customers (checksum addresses)."""

    def __init__(
        self,
        terms: ServiceTerms,
        *,
        chain_id: int,
        market: str,
        credit_responses: int = 1,
    ) -> None:
        if credit_responses < 1:
            raise ValueError("credit_responses must be at least 1")
        self.terms = terms
        self.service_id = service_id_of(terms)
        self.chain_id = chain_id
        self.market = market
        self.credit_responses = credit_responses
        self._lock = threading.Lock()
        self._accounts: dict[str, _Account] = {}
        self._tickets = 0

    def _account(self, customer: str) -> _Account:
        account = self._accounts.get(customer)
        if account is None:
            account = self._accounts[customer] = _Account()
        return account

    # -- vouchers --------------------------------------------------------------------------------

    def _verified(self, customer: str, signed: SignedVoucher) -> SignedVoucher:
        """Refuse a voucher that is another's, another service's, mispriced or unsigned (no
        lock needed: it reads only the terms)."""
        voucher = signed.voucher
        if voucher.service_id != self.service_id:
            raise VoucherRefused("the voucher is for another service")
        if voucher.customer != customer:
            raise VoucherRefused("the voucher names another customer than the session")
        _, _, amount = price_of(
            self.terms, voucher.input_tokens, voucher.output_tokens, voucher.compute_ms
        )
        if voucher.amount != amount:
            raise VoucherRefused("the voucher's amount is not the service's price of its counts")
        try:
            verify_voucher_envelope(signed, chain_id=self.chain_id, contract=self.market)
        except ProtocolError as exc:
            raise VoucherRefused("the voucher is not signed by its customer") from exc
        return signed

    def accept_voucher(self, customer: str, signed: SignedVoucher) -> None:
        """Verify ``signed`` and keep it if it is ``customer``'s newest; :class:`VoucherRefused`
        otherwise (also when it claims more than the receipts showed)."""
        self._verified(customer, signed)
        counts = Cumulative.of_voucher(signed.voucher)
        with self._lock:
            account = self._account(customer)
            if account.sequence == 0 and not account.in_flight:
                # the customer's first request to this enclave: its voucher is the usage of the
                # account before (an earlier enclave of the service), signed by the customer
                account.cumulative = _highest(account.cumulative, counts)
            if not covers(account.cumulative, counts):
                raise VoucherRefused("the voucher counts more usage than the receipts showed")
            held = account.voucher
            if held is not None and not covers(counts, Cumulative.of_voucher(held.voucher)):
                return  # older or incomparable: the held one stays
            account.voucher = signed
            account.unvouched = [c for c in account.unvouched if not covers(counts, c)]

    # -- requests --------------------------------------------------------------------------------

    def admit(self, customer: str, *, free: bool = False) -> Ticket:
        """Admit one request of ``customer`` under the credit rule, or raise
        :class:`PaymentRequired`. A ``free`` request (no usage) is always admitted."""
        with self._lock:
            account = self._account(customer)
            self._tickets += 1
            if free:
                return Ticket(customer, self._tickets, free=True)
            owed = len(account.unvouched) + len(account.in_flight)
            if owed + 1 > self.credit_responses:
                due = account.unvouched[-1] if account.unvouched else account.cumulative
                raise PaymentRequired(
                    f"{owed} response(s) are not vouched for yet (sequence {account.sequence})",
                    hint=(
                        "Send the 'enclava-voucher' header with a voucher for input_tokens "
                        f"{due.input_tokens}, output_tokens {due.output_tokens}, compute_ms "
                        f"{due.compute_ms} (the cumulative counts of your latest receipt); "
                        "wait for a response in flight to finish first."
                    ),
                )
            account.in_flight.add(self._tickets)
            return Ticket(customer, self._tickets)

    def complete(
        self, ticket: Ticket, *, input_tokens: int, output_tokens: int, compute_ms: int
    ) -> Completed:
        """Count one response's usage: the receipt's sequence and cumulative counts."""
        with self._lock:
            account = self._account(ticket.customer)
            account.in_flight.discard(ticket.number)
            account.sequence += 1
            account.cumulative = account.cumulative.plus(input_tokens, output_tokens, compute_ms)
            held = account.voucher
            used = input_tokens or output_tokens or compute_ms
            covered = held is not None and covers(
                Cumulative.of_voucher(held.voucher), account.cumulative
            )
            if used and not covered:
                account.unvouched.append(account.cumulative)
            return Completed(account.sequence, account.cumulative)

    def abort(self, ticket: Ticket) -> None:
        """A request that produced no receipt (the engine failed): nothing is counted."""
        with self._lock:
            self._account(ticket.customer).in_flight.discard(ticket.number)

    # -- reads -----------------------------------------------------------------------------------

    def cumulative(self, customer: str) -> Cumulative:
        with self._lock:
            account = self._accounts.get(customer)
            return account.cumulative if account else Cumulative()

    def sequence(self, customer: str) -> int:
        with self._lock:
            account = self._accounts.get(customer)
            return account.sequence if account else 0

    def in_flight(self, customer: str) -> int:
        """How many of ``customer``'s requests are admitted and not answered yet."""
        with self._lock:
            account = self._accounts.get(customer)
            return len(account.in_flight) if account else 0

    def latest_vouchers(self) -> list[SignedVoucher]:
        """The latest voucher of every customer who sent one (for the provider to settle)."""
        with self._lock:
            held = [a.voucher for _, a in sorted(self._accounts.items()) if a.voucher is not None]
        return held
