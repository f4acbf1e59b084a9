"""Service terms and vouchers as Python values, hashed and priced exactly as ServiceMarket does.

A confidential-serving service lives on chain as ``keccak256(abi.encode(ServiceTerms))`` plus one
state word (contracts/ServiceMarket.sol); its terms travel in the ``ServiceStarted`` event. A
customer pays with cumulative EIP-712 vouchers::

    Voucher(bytes32 serviceId,address customer,uint64 inputTokens,uint64 outputTokens,
            uint64 computeMs,uint256 amount)

under the domain "Enclava ServiceMarket" version "1", where ``amount`` must equal
:func:`price_of` the counts. Everything here (:func:`service_id_of`, :func:`price_of`,
:func:`voucher_typed_data`) is computed as the contract computes it, so the customer's client, the
enclave, the provider and an auditor reach the same bytes and the same wei.

Hashes are ``0x`` + 64 lowercase hex digits; addresses are checksummed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any, Final

from eth_abi.abi import encode as abi_encode
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_keys.exceptions import BadSignature
from eth_utils.address import is_address, to_checksum_address
from eth_utils.crypto import keccak
from eth_utils.exceptions import ValidationError as EthUtilsValidationError

from enclava.protocol.eip712 import typed_data
from enclava.protocol.errors import ProtocolError

__all__ = [
    "TERMS_ABI",
    "ServiceTermsInvalid",
    "VoucherInvalid",
    "ServiceTerms",
    "Voucher",
    "service_id_of",
    "price_of",
    "voucher_for",
    "voucher_typed_data",
    "sign_voucher",
    "recover_voucher_signer",
]

#: ``IServiceMarket.ServiceTerms`` as an ABI tuple type (``TeeType`` encodes as ``uint8``).
TERMS_ABI: Final = (
    "(uint256,address,uint256,uint8,uint256,address,bytes32,uint96,uint96,bool,uint96,uint64)"
)

_UINT64: Final = 2**64 - 1
_UINT96: Final = 2**96 - 1
_UINT256: Final = 2**256 - 1


class ServiceTermsInvalid(ProtocolError):
    """Terms the contract could not hold: a bad address or hash, or an out-of-range number."""

    code = "service_terms_invalid"
    hint = (
        "Build the terms from the ServiceStarted event (ServiceTerms.from_abi) or from "
        "ServiceTerms.from_json of what the service published; every field is an IServiceMarket "
        "ServiceTerms member."
    )


class VoucherInvalid(ProtocolError):
    """A voucher that cannot be built, encoded or recovered."""

    code = "voucher_invalid"
    hint = (
        "Build the voucher with enclava.protocol.service_terms.voucher_for (the amount is "
        "price_of the cumulative counts) and sign it with sign_voucher."
    )


def _uint(value: Any, bound: int, name: str, error: type[ProtocolError]) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise error(f"{name} must be an integer, got {type(value).__name__}")
    if not 0 <= value <= bound:
        raise error(f"{name} {value} is out of range (0..{bound})")
    return int(value)


def _address(value: Any, name: str, error: type[ProtocolError]) -> str:
    if not isinstance(value, str) or not is_address(value):
        raise error(f"{name} is not an address: {value!r}")
    return str(to_checksum_address(value))


def _hash(value: Any, name: str, error: type[ProtocolError]) -> str:
    if isinstance(value, bytes | bytearray):
        raw = bytes(value)
    elif isinstance(value, str):
        try:
            raw = bytes.fromhex(value.removeprefix("0x"))
        except ValueError as exc:
            raise error(f"{name} is not hex: {value!r}") from exc
    else:
        raise error(f"{name} must be 0x-hex or bytes, got {type(value).__name__}")
    if len(raw) != 32:
        raise error(f"{name} must be 32 bytes, got {len(raw)}")
    return "0x" + raw.hex()


@dataclass(frozen=True)
class ServiceTerms:
    """``IServiceMarket.ServiceTerms``: what a service commits to, and its id's preimage.

    Values are normalized on construction (checksummed addresses, lowercase hex ``model_hash``)
    and range-checked against their Solidity types; :class:`ServiceTermsInvalid` otherwise.
    """

    nonce: int
    provider: str
    tee_offer_id: int
    tee_type: int
    model_id: int
    model_owner: str
    model_hash: str
    input_token_price: int
    output_token_price: int
    provider_per_token: bool
    provider_price: int
    ends_at: int

    def __post_init__(self) -> None:
        err = ServiceTermsInvalid
        set_ = object.__setattr__
        set_(self, "nonce", _uint(self.nonce, _UINT256, "nonce", err))
        set_(self, "provider", _address(self.provider, "provider", err))
        set_(self, "tee_offer_id", _uint(self.tee_offer_id, _UINT256, "tee_offer_id", err))
        set_(self, "tee_type", _uint(int(self.tee_type), 255, "tee_type", err))
        set_(self, "model_id", _uint(self.model_id, _UINT256, "model_id", err))
        set_(self, "model_owner", _address(self.model_owner, "model_owner", err))
        set_(self, "model_hash", _hash(self.model_hash, "model_hash", err))
        for name in ("input_token_price", "output_token_price", "provider_price"):
            set_(self, name, _uint(getattr(self, name), _UINT96, name, err))
        if not isinstance(self.provider_per_token, bool):
            raise err(f"provider_per_token must be a bool, got {self.provider_per_token!r}")
        set_(self, "ends_at", _uint(self.ends_at, _UINT64, "ends_at", err))

    @property
    def service_id(self) -> str:
        """``keccak256(abi.encode(terms))``, as ServiceMarket computes it."""
        return service_id_of(self)

    def to_abi(self) -> tuple[Any, ...]:
        """The tuple a contract call takes (and ``abi.encode`` hashes) for these terms."""
        return (
            self.nonce,
            self.provider,
            self.tee_offer_id,
            self.tee_type,
            self.model_id,
            self.model_owner,
            bytes.fromhex(self.model_hash[2:]),
            self.input_token_price,
            self.output_token_price,
            self.provider_per_token,
            self.provider_price,
            self.ends_at,
        )

    @classmethod
    def from_abi(cls, value: Sequence[Any] | Mapping[str, Any]) -> ServiceTerms:
        """Terms from a decoded ABI tuple, or from an event's struct (camelCase member names)."""
        if isinstance(value, Mapping):
            try:
                items = [value[name] for name in _ABI_NAMES]
            except KeyError as exc:
                raise ServiceTermsInvalid(f"terms lack the member {exc.args[0]!r}") from exc
        else:
            items = list(value)
            if len(items) != len(_ABI_NAMES):
                raise ServiceTermsInvalid(f"terms have {len(items)} members, not 12")
        nonce, provider, offer, tee, model, owner, mhash, inp, out, per_token, price, ends = items
        return cls(
            nonce=nonce,
            provider=provider,
            tee_offer_id=offer,
            tee_type=tee,
            model_id=model,
            model_owner=owner,
            model_hash=mhash,
            input_token_price=inp,
            output_token_price=out,
            provider_per_token=bool(per_token),
            provider_price=price,
            ends_at=ends,
        )

    def to_json(self) -> dict[str, Any]:
        """The terms as JSON values: snake_case keys, integers, ``0x`` hex, checksum addresses."""
        return asdict(self)

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> ServiceTerms:
        """Inverse of :meth:`to_json`; refuses missing or unknown keys."""
        if not isinstance(value, Mapping):
            raise ServiceTermsInvalid("terms JSON must be an object")
        names = {f.name for f in fields(cls)}
        if set(value) != names:
            missing, extra = sorted(names - set(value)), sorted(set(value) - names)
            raise ServiceTermsInvalid(f"terms JSON keys differ: missing {missing}, unknown {extra}")
        return cls(**{name: value[name] for name in names})

    def price(self, input_tokens: int, output_tokens: int, compute_ms: int) -> tuple[int, int, int]:
        """:func:`price_of` these terms."""
        return price_of(self, input_tokens, output_tokens, compute_ms)


_ABI_NAMES: Final = (
    "nonce",
    "provider",
    "teeOfferId",
    "teeType",
    "modelId",
    "modelOwner",
    "modelHash",
    "inputTokenPrice",
    "outputTokenPrice",
    "providerPerToken",
    "providerPrice",
    "endsAt",
)


def service_id_of(terms: ServiceTerms) -> str:
    """``keccak256(abi.encode(terms))``: ``0x`` + 64 lowercase hex digits."""
    return "0x" + bytes(keccak(abi_encode([TERMS_ABI], [terms.to_abi()]))).hex()


def price_of(
    terms: ServiceTerms, input_tokens: int, output_tokens: int, compute_ms: int
) -> tuple[int, int, int]:
    """``(model_part, provider_part, amount)`` for cumulative counts, as ``priceOf`` computes it.

    ``model_part = input_tokens * input_token_price + output_tokens * output_token_price``;
    ``provider_part`` is ``(input_tokens + output_tokens) * provider_price`` when the provider
    prices per token, else ``compute_ms * provider_price // 1000`` (wei per second, floored);
    ``amount = model_part + provider_part``.
    """
    err = VoucherInvalid
    input_tokens = _uint(input_tokens, _UINT64, "input_tokens", err)
    output_tokens = _uint(output_tokens, _UINT64, "output_tokens", err)
    compute_ms = _uint(compute_ms, _UINT64, "compute_ms", err)
    model_part = input_tokens * terms.input_token_price + output_tokens * terms.output_token_price
    if terms.provider_per_token:
        provider_part = (input_tokens + output_tokens) * terms.provider_price
    else:
        provider_part = compute_ms * terms.provider_price // 1000
    return model_part, provider_part, model_part + provider_part


@dataclass(frozen=True)
class Voucher:
    """``IServiceMarket.Voucher``: a customer's cumulative usage of a service and what it owes."""

    service_id: str
    customer: str
    input_tokens: int
    output_tokens: int
    compute_ms: int
    amount: int

    def __post_init__(self) -> None:
        err = VoucherInvalid
        set_ = object.__setattr__
        set_(self, "service_id", _hash(self.service_id, "service_id", err))
        set_(self, "customer", _address(self.customer, "customer", err))
        for name in ("input_tokens", "output_tokens", "compute_ms"):
            set_(self, name, _uint(getattr(self, name), _UINT64, name, err))
        set_(self, "amount", _uint(self.amount, _UINT256, "amount", err))

    def to_message(self) -> dict[str, Any]:
        """The EIP-712 message (eth-account typed-data values)."""
        return {
            "serviceId": bytes.fromhex(self.service_id[2:]),
            "customer": self.customer,
            "inputTokens": self.input_tokens,
            "outputTokens": self.output_tokens,
            "computeMs": self.compute_ms,
            "amount": self.amount,
        }

    def to_abi(self) -> tuple[Any, ...]:
        """The tuple a contract call takes for a ``Voucher`` argument."""
        return tuple(self.to_message().values())

    def to_json(self) -> dict[str, Any]:
        """The voucher as JSON values (snake_case keys, integers, ``0x`` hex)."""
        return asdict(self)

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> Voucher:
        """Inverse of :meth:`to_json`; refuses missing or unknown keys."""
        if not isinstance(value, Mapping):
            raise VoucherInvalid("voucher JSON must be an object")
        names = {f.name for f in fields(cls)}
        if set(value) != names:
            missing, extra = sorted(names - set(value)), sorted(set(value) - names)
            raise VoucherInvalid(f"voucher JSON keys differ: missing {missing}, unknown {extra}")
        return cls(**{name: value[name] for name in names})


def voucher_for(
    terms: ServiceTerms, customer: str, input_tokens: int, output_tokens: int, compute_ms: int
) -> Voucher:
    """The voucher for ``customer``'s cumulative counts, its amount priced by ``terms``."""
    _, _, amount = price_of(terms, input_tokens, output_tokens, compute_ms)
    return Voucher(
        service_id=service_id_of(terms),
        customer=customer,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        compute_ms=compute_ms,
        amount=amount,
    )


def voucher_typed_data(voucher: Voucher, *, chain_id: int, contract: str) -> dict[str, Any]:
    """The EIP-712 ``Voucher`` message, exactly as ServiceMarket (at ``contract``) hashes it."""
    return typed_data("Voucher", voucher.to_message(), chain_id=chain_id, contract=contract)


def sign_voucher(account: Any, voucher: Voucher, *, chain_id: int, contract: str) -> str:
    """``account`` (an eth-account ``LocalAccount``, the customer's wallet) signs ``voucher``.

    Returns the 65-byte signature as ``0x`` hex.
    """
    if _address(account.address, "signer", VoucherInvalid) != voucher.customer:
        raise VoucherInvalid("a voucher is signed by its own customer's wallet")
    typed = voucher_typed_data(voucher, chain_id=chain_id, contract=contract)
    return "0x" + bytes(account.sign_message(encode_typed_data(full_message=typed)).signature).hex()


def recover_voucher_signer(
    voucher: Voucher, signature: bytes | str, *, chain_id: int, contract: str
) -> str:
    """The checksum address that signed ``voucher`` (an EOA's ``ecrecover``).

    The contract also accepts ERC-1271 contract wallets; this recovers EOAs only.
    """
    typed = voucher_typed_data(voucher, chain_id=chain_id, contract=contract)
    try:
        raw = (
            bytes.fromhex(signature.removeprefix("0x"))
            if isinstance(signature, str)
            else bytes(signature)
        )
        signer = Account.recover_message(encode_typed_data(full_message=typed), signature=raw)
    except (BadSignature, EthUtilsValidationError, ValueError, TypeError) as exc:
        raise VoucherInvalid(f"the voucher signature does not recover: {exc}") from exc
    return str(to_checksum_address(signer))
