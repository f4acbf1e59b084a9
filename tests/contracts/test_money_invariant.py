"""Stateful property test of the money rules.

Hypothesis drives random sequences of register / create / accept / complete / fail / cancel /
timeout / withdraw (and stake unbonding) against the deployed contracts. After every step:

- the marketplace holds exactly the escrow of its open and accepted orders plus every credited
  balance, read back from the chain (order states and `creditOf`), and the provider registry holds
  exactly the providers' stakes;
- every account's credit equals the model's, so nothing was paid that the rules do not state;
- every settled order paid money in exactly one transaction (no order pays out twice), and each
  customer's wallet received exactly its refund.

Reports carry honest times (started at the acceptance, finished no later than the settling block),
so the provider is paid for the seconds that passed, at most the order's maximum duration.
"""

import pytest
from brownie import chain
from hypothesis import HealthCheck, Verbosity, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from support import (
    ACCEPTED,
    CANCELLED,
    COMPLETED,
    DATASET,
    ENGINE,
    FAILED,
    GRACE,
    MODEL,
    OPEN,
    SLASH_BPS,
    TIMED_OUT,
    new_key,
    reverts,
)

SHORT_UNBONDING = 100
STAKE = 10**18
LIVE = (OPEN, ACCEPTED)


@pytest.fixture(scope="module")
def deployed(gov):
    """This module's registry unbonds in 100 s, so stake withdrawal fits in a short sequence."""
    from scripts.deploy import deploy_contracts

    return deploy_contracts(
        gov,
        min_stake=STAKE,
        unbonding_delay=SHORT_UNBONDING,
        slash_bps=SLASH_BPS,
        allow_simulated=True,
        report_grace=GRACE,
    )


PARTY = st.integers(min_value=0, max_value=1)
PICK = st.integers(min_value=0, max_value=255)
DURATION = st.integers(min_value=1, max_value=900)
USED = st.integers(min_value=0, max_value=1200)


class MoneyRules(RuleBasedStateMachine):
    """Brownie 1.22's own `state_machine` fixture cannot subclass its compiled base class, so this
    is a plain hypothesis state machine that reverts brownie's chain to a snapshot per example."""

    @classmethod
    def configure(cls, market, accounts, enclaves):
        cls.m = market
        cls.providers_ = [accounts[1], accounts[7]]
        cls.customers = [accounts[4], accounts[8]]
        cls.owners = [accounts[2], accounts[3]]
        cls.relayer = accounts[5]
        cls.enclaves = enclaves
        cls.everyone = list(
            {a.address: a for a in cls.providers_ + cls.customers + cls.owners}.values()
        )

    def __init__(self):
        super().__init__()
        chain.revert()
        self.tee_offer_of = {}  # provider index -> TEE offer id
        self.registered = {0: False, 1: False}
        self.stakes = {0: 0, 1: 0}
        self.unbonding = {0: False, 1: False}
        self.orders = []  # [Order, status, provider index]
        self.credits = {a.address: 0 for a in self.everyone}
        self.paid_orders = set()

    # ------------------------------------------------------------------------------ rules

    @initialize()
    def both_providers_register(self):
        """Sequences start with both providers bonded, so orders flow from the first steps."""
        self.register(0)
        self.register(1)

    @rule(p=PARTY)
    def register(self, p):
        provider = self.providers_[p]
        if self.registered[p]:
            with reverts("ProviderAlreadyRegistered"):
                self.m.register(provider, STAKE)
            return
        self.m.register(provider, STAKE)
        self.registered[p] = True
        self.stakes[p] = STAKE
        self.unbonding[p] = False
        if p not in self.tee_offer_of:
            self.tee_offer_of[p] = self.m.publish(provider, slots=2)

    @rule(p=PARTY, c=PARTY, duration=DURATION, with_resources=st.booleans())
    def create(self, p, c, duration, with_resources):
        if p not in self.tee_offer_of:
            return
        resources = [self.m.model, self.m.dataset] if with_resources else []
        customer = self.customers[c]
        if not self._available(p):
            with reverts("MarketplaceTeeOfferUnavailable"):
                self.m.create(
                    customer,
                    self.m.engine,
                    resources,
                    self.tee_offer_of[p],
                    duration=duration,
                    value=0,
                )
            return
        order = self.m.create(
            customer,
            self.m.engine,
            resources,
            self.tee_offer_of[p],
            [b"x", b"y"],
            duration=duration,
        )
        self.orders.append([order, OPEN, p])

    @precondition(lambda self: self._has(OPEN))
    @rule(i=PICK)
    def accept(self, i):
        entry = self._pick(i, OPEN)
        order, _, p = entry
        running = sum(1 for o in self.orders if o[2] == p and o[1] == ACCEPTED)
        if running >= 2 or not self._available(p):
            with _any_revert():
                self.m.accept(order, self.providers_[p])
        else:
            self.m.accept(order, self.providers_[p])
            entry[1] = ACCEPTED

    @precondition(lambda self: self._has(ACCEPTED))
    @rule(i=PICK, used=USED)
    def complete(self, i, used):
        entry = self._pick(i, ACCEPTED)
        order, _, p = entry
        # Honest time: the run starts at the acceptance and ends `used` seconds later, so the chain
        # is first moved on until those seconds have passed.
        started = self.m.accepted_at(order)
        behind = started + used - self.m.block_time()
        if behind > 0:
            self.m.elapse(behind)
        fields = {"startedAt": started, "finishedAt": started + used}
        before = self._wallet(order.customer)
        tx = self.m.complete(order, self.enclaves[p], self.relayer, **fields)
        paid = min(used, order.max_duration)
        for _, payee, amount in order.payments:
            self._expect_credit(payee, amount)
        self._expect_credit(order.provider, order.price_per_second * paid)
        self._expect_refund(order, before, order.price_per_second * (order.max_duration - paid))
        self._settled(entry, COMPLETED, tx)

    @precondition(lambda self: self._has(ACCEPTED))
    @rule(i=PICK)
    def fail(self, i):
        entry = self._pick(i, ACCEPTED)
        order, _, p = entry
        failure, signature = self.m.failure(order, self.enclaves[p])
        before = self._wallet(order.customer)
        tx = self.m.marketplace.failOrder(order.terms, failure, signature, {"from": self.relayer})
        self._expect_refund(order, before, order.escrow)
        self._settled(entry, FAILED, tx)

    @precondition(lambda self: self._has(OPEN))
    @rule(i=PICK)
    def cancel(self, i):
        entry = self._pick(i, OPEN)
        order = entry[0]
        before = self._wallet(order.customer)
        tx = self.m.marketplace.cancelOrder(order.terms, {"from": order.customer})
        self._expect_refund(order, before, order.escrow)
        self._settled(entry, CANCELLED, tx)

    @precondition(lambda self: self._has(ACCEPTED))
    @rule(i=PICK)
    def timeout(self, i):
        entry = self._pick(i, ACCEPTED)
        order, _, p = entry
        deadline = self.m.marketplace.deadlineOf(order.terms)
        self.m.chain.sleep(max(0, deadline - self.m.chain.time()) + 1)
        before = self._wallet(order.customer)
        tx = self.m.marketplace.timeoutOrder(order.terms, {"from": self.relayer})
        slashed = self.stakes[p] * self.m.providers.slashBps() // 10_000
        self.stakes[p] -= slashed
        self._expect_refund(order, before, order.escrow + slashed)
        self._settled(entry, TIMED_OUT, tx)

    @precondition(lambda self: self._has(COMPLETED, FAILED, CANCELLED, TIMED_OUT))
    @rule(i=PICK, how=st.sampled_from(["complete", "fail", "cancel", "timeout", "accept"]))
    def settle_again(self, i, how):
        """Every attempt to settle (or reopen) an order a second time reverts and pays nothing."""
        order, _, p = self._pick(i, COMPLETED, FAILED, CANCELLED, TIMED_OUT)
        market = self.m.marketplace
        if how == "complete":
            with reverts("MarketplaceOrderNotAccepted"):
                self.m.complete(order, self.enclaves[p], self.relayer)
        elif how == "fail":
            with reverts("MarketplaceOrderNotAccepted"):
                market.failOrder(
                    order.terms, *self.m.failure(order, self.enclaves[p]), {"from": self.relayer}
                )
        elif how == "cancel":
            with reverts("MarketplaceOrderNotOpen"):
                market.cancelOrder(order.terms, {"from": order.customer})
        elif how == "timeout":
            self.m.chain.sleep(order.max_duration + 3601)
            with reverts("MarketplaceOrderNotAccepted"):
                market.timeoutOrder(order.terms, {"from": self.relayer})
        else:
            with reverts("MarketplaceOrderNotOpen"):
                self.m.accept(order, self.providers_[p])

    @rule(who=PICK)
    def withdraw(self, who):
        account = self.everyone[who % len(self.everyone)]
        owed = self.credits[account.address]
        if owed == 0:
            with reverts("MarketplaceNothingToWithdraw"):
                self.m.marketplace.withdraw({"from": account})
            return
        before = account.balance()
        self.m.marketplace.withdraw({"from": account})
        assert account.balance() == before + owed
        self.credits[account.address] = 0

    @rule(p=PARTY)
    def unbond_and_withdraw_stake(self, p):
        provider = self.providers_[p]
        if not self.registered[p]:
            return
        if not self.unbonding[p]:
            self.m.providers.requestUnbonding({"from": provider})
            self.unbonding[p] = True
        self.m.chain.sleep(SHORT_UNBONDING + 1)
        if any(o[2] == p and o[1] == ACCEPTED for o in self.orders):
            with reverts("ProviderHasOpenOrders"):
                self.m.providers.withdrawStake({"from": provider})
            return
        self.m.providers.withdrawStake({"from": provider})
        self.registered[p] = False
        self.stakes[p] = 0
        self.unbonding[p] = False

    # ------------------------------------------------------------------------- invariants

    @invariant()
    def marketplace_holds_escrow_plus_credits(self):
        market = self.m.marketplace
        escrow = 0
        for order, status, _ in self.orders:
            on_chain = market.orderState(order.id)["status"]
            assert on_chain == status
            if on_chain in LIVE:
                escrow += order.escrow
        credited = 0
        for account in self.everyone:
            credit = market.creditOf(account)
            assert credit == self.credits[account.address]
            credited += credit
        assert market.balance() == escrow + credited

    @invariant()
    def registry_holds_the_stakes(self):
        registry = self.m.providers
        stakes = [registry.getProvider(p)["stake"] for p in self.providers_]
        assert stakes == [self.stakes[0], self.stakes[1]]
        assert registry.balance() == sum(stakes)

    # ---------------------------------------------------------------------------- helpers

    def _has(self, *statuses):
        return any(o[1] in statuses for o in self.orders)

    def _pick(self, i, *statuses):
        candidates = [o for o in self.orders if o[1] in statuses]
        return candidates[i % len(candidates)]

    def _available(self, p):
        return self.registered[p] and self.stakes[p] >= STAKE and not self.unbonding[p]

    def _expect_credit(self, account, amount):
        self.credits[str(account)] += amount

    def _wallet(self, address):
        return next(a for a in self.everyone if a.address == str(address)).balance()

    def _expect_refund(self, order, before, amount):
        """Customers (EOAs here) get what a settlement owes them in their wallet, not as a credit
        (the chain's gas price is zero, so the balance moves by exactly the refund)."""
        assert self._wallet(order.customer) == before + amount

    def _settled(self, entry, status, tx):
        order = entry[0]
        assert order.id not in self.paid_orders, "order paid out twice"
        paid = set()
        for name in ("Credited", "Refunded"):
            paid |= {bytes(e["orderId"]) for e in tx.events[name]} if name in tx.events else set()
        assert paid <= {order.id}
        self.paid_orders.add(order.id)
        entry[1] = status


class _any_revert:
    """Expects a revert whose reason depends on registry state (full TEE offer, unbonding, low
    stake)."""

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        from brownie.exceptions import VirtualMachineError

        assert exc_type is VirtualMachineError, "expected the call to revert"
        assert exc.revert_msg.split(":")[0] in {
            "ProviderTeeOfferFull",
            "ProviderIsUnbonding",
            "ProviderStakeTooLow",
        }
        return True


@pytest.fixture(scope="module")
def world(trusted, model_owner, data_owner, provider, other_provider):
    m = trusted
    m.engine = m.list(model_owner, ENGINE, b"engine")
    m.model = m.list(model_owner, MODEL, b"model")
    m.dataset = m.list(data_owner, DATASET, b"dataset")
    enclaves = [new_key("enclave-0"), new_key("enclave-1")]
    m.certify(enclaves[0], provider)
    m.certify(enclaves[1], other_provider)
    return m, enclaves


def test_money_is_conserved_and_no_order_pays_twice(world, accounts):
    market, enclaves = world
    MoneyRules.configure(market, accounts, enclaves)
    chain.snapshot()
    run_state_machine_as_test(
        MoneyRules,
        settings=settings(
            max_examples=50,
            stateful_step_count=30,
            verbosity=Verbosity.quiet,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        ),
    )
