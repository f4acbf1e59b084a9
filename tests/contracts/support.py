"""Helpers shared by the contract tests: EIP-712 signing with eth-account, custom-error assertions,
and the order flow (create, accept, report) in a few calls.

Signing goes through eth-account's ``encode_typed_data``, the same library the Python services use,
so a test that passes here also pins the typed-data layout those services must produce.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
from dataclasses import dataclass

from brownie.exceptions import VirtualMachineError
from eth_account import Account
from eth_account.messages import _hash_eip191_message, encode_typed_data
from eth_utils import keccak

from enclava.protocol import eip712

CHAIN_ID = 31337

# The deployment the tests use (conftest) and the prices of the standard market.
MIN_STAKE = 10**18
UNBONDING_DELAY = 7 * 24 * 3600
SLASH_BPS = 2_000
GRACE = 3600
PRICE_PER_SECOND = 10**12
ENGINE_PRICE = 10**15
MODEL_PRICE = 2 * 10**15
DATASET_PRICE = 3 * 10**15
CERT_LIFETIME = 30 * 24 * 3600

# TeeType and ResourceKind mirror contracts/interfaces/EnclavaTypes.sol.
TDX, SEV_SNP, SIMULATED = 1, 2, 3
ENGINE, MODEL, DATASET = 1, 2, 3
# IMarketplace.OrderStatus
NONE, OPEN, ACCEPTED, COMPLETED, FAILED, TIMED_OUT, CANCELLED = range(7)

MEASUREMENT = bytes.fromhex("aa" * 32)
OTHER_MEASUREMENT = bytes.fromhex("bb" * 32)

# GPU classes: the standard TEE offer's and its enclave's; "cpu" (or none) promises no GPU.
GPU = b"H100"
OTHER_GPU = b"H200"
CPU = b"cpu"


def gpu_label(label: bytes) -> bytes:
    """A GPU class as the chain holds it: left-aligned, zero-padded to 32 bytes (b"": none)."""
    assert len(label) <= 32
    return label.ljust(32, b"\0")


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def new_key(label: str):
    """A deterministic local signer (not a brownie account: it only signs)."""
    return Account.from_key(keccak(text=f"enclava-test-{label}"))


# Brownie's anvil starts with anvil's default mnemonic; its accounts sign locally through these
# keys.
ANVIL_MNEMONIC = "test test test test test test test test test test test junk"


@functools.lru_cache(maxsize=None)
def _dev_wallets(count: int = 20) -> dict:
    Account.enable_unaudited_hdwallet_features()
    wallets = [
        Account.from_mnemonic(ANVIL_MNEMONIC, account_path=f"m/44'/60'/0'/0/{i}")
        for i in range(count)
    ]
    return {w.address: w for w in wallets}


def wallet(account):
    """An eth-account signer for a brownie account (anvil's dev accounts, or one added by key)."""
    if hasattr(account, "sign_message"):  # already an eth-account signer (the CA and enclave keys)
        return account
    key = getattr(account, "private_key", None)
    if key:
        return Account.from_key(key)
    return _dev_wallets()[str(account)]


def typed_data(primary: str, contract, message: dict):
    """The EIP-712 signable message `primary` for `contract`'s domain, built by eth-account."""
    full = eip712.typed_data(primary, message, chain_id=CHAIN_ID, contract=contract.address)
    return encode_typed_data(full_message=full)


def sign(signer, primary: str, contract, message: dict) -> bytes:
    """Signs `message` as EIP-712 `primary` for `contract`'s domain with eth-account."""
    return bytes(signer.sign_message(typed_data(primary, contract, message)).signature)


def digest(primary: str, contract, message: dict) -> bytes:
    """The EIP-712 digest eth-account signs for `message`."""
    return _hash_eip191_message(typed_data(primary, contract, message))


def as_tuple(message: dict, primary: str) -> tuple:
    """The ABI tuple of a typed-data `message`, in the struct's field order."""
    return tuple(message[name] for name in eip712.field_names(primary))


@contextlib.contextmanager
def reverts(error: str):
    """Asserts that the block reverts with the custom error named `error` (any arguments).

    Brownie decodes a custom error from the ABIs it has loaded as ``"Name: arg, ..."`` (a reverted
    transaction raises VirtualMachineError, a reverted call ValueError "Call reverted: ..."); an
    error it could not decode reads ``"Unknown typed error: 0x..."`` and fails the assertion.
    """
    try:
        yield
    except VirtualMachineError as exc:
        _assert_error(error, exc.revert_msg or "")
    except ValueError as exc:
        message = str(exc)
        if not message.startswith("Call reverted: "):
            raise
        _assert_error(error, message.removeprefix("Call reverted: "))
    else:
        raise AssertionError(f"expected revert {error}, but the call succeeded")


def _assert_error(expected: str, message: str) -> None:
    name = message.split(":", 1)[0].strip()
    assert name == expected, f"expected revert {expected}, got {message!r}"


@dataclass
class Order:
    """An order as the tests hold it: its id and the terms tuple the contract hashes."""

    id: bytes
    terms: tuple
    tx: object

    @property
    def escrow(self) -> int:
        return self.price_per_second * self.max_duration + sum(p[2] for p in self.payments)

    @property
    def customer(self):
        return self.terms[1]

    @property
    def provider(self):
        return self.terms[2]

    @property
    def price_per_second(self) -> int:
        return self.terms[5]

    @property
    def max_duration(self) -> int:
        return self.terms[6]

    @property
    def engine_hash(self) -> bytes:
        return bytes(self.terms[7])

    @property
    def inputs_hash(self) -> bytes:
        return bytes(self.terms[8])

    @property
    def payments(self) -> list:
        return list(self.terms[10])


def terms_from_event(event) -> tuple:
    """Rebuilds the OrderTerms tuple from an OrderCreated event, as an indexer would."""
    t = event["terms"]
    payments = [(int(p[0]), str(p[1]), int(p[2])) for p in t[10]]
    return (
        int(t[0]),
        str(t[1]),
        str(t[2]),
        int(t[3]),
        int(t[4]),
        int(t[5]),
        int(t[6]),
        bytes(t[7]),
        bytes(t[8]),
        bytes(t[9]),
        payments,
    )


def inputs_hash(hashes: list[bytes]) -> bytes:
    """keccak256 over the concatenated SHA-256 hashes: resources first, then customer inputs."""
    return keccak(b"".join(hashes))
