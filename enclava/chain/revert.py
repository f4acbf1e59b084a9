"""Revert data in words: a custom error's 4-byte selector and ABI arguments, decoded from the
compiled contracts' ABIs, e.g. ``MarketplaceResourceKindMismatch(resourceId=3)``, with a hint.

Every ``error`` entry of every artifact under ``build/contracts`` and ``build/interfaces`` (the
marketplace's own errors and the OpenZeppelin ones it inherits) is known; so are Solidity's
built-in ``Error(string)`` and ``Panic(uint256)``. Data that matches none of them is shown as its
raw selector. :func:`revert_error` builds the :class:`~enclava.chain.errors.TransactionReverted`
that :mod:`enclava.chain.rpc` raises.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from eth_abi.abi import decode
from eth_abi.exceptions import DecodingError
from eth_utils.abi import collapse_if_tuple
from eth_utils.crypto import keccak

from enclava.chain.errors import TransactionFailed, TransactionReverted
from enclava.paths import project_root

__all__ = ["ErrorAbi", "DecodedRevert", "known_errors", "decode_revert", "revert_error", "HINTS"]

#: Solidity's built-in revert payloads: ``require(cond, "text")`` and ``assert`` / overflow.
_BUILTIN_ABIS: tuple[dict[str, Any], ...] = (
    {"type": "error", "name": "Error", "inputs": [{"name": "reason", "type": "string"}]},
    {"type": "error", "name": "Panic", "inputs": [{"name": "code", "type": "uint256"}]},
)

#: What to do about the errors a person meets most (names as in contracts/interfaces/*.sol).
HINTS: dict[str, str] = {
    "ServiceBalanceTooLow": (
        "Deposit more for this service (enclava service deposit) before more usage is settled."
    ),
    "ServiceVoucherStale": "A newer voucher of this customer is settled; settle the latest.",
    "ServiceAccountClosed": "The customer's account closed (notice over); nothing more settles.",
    "ServiceCloseNoticePending": "The close notice has not ended; reclaim after its closableAt.",
    "ServiceInvalidSignature": "The voucher is not signed by the customer it names.",
    "ServiceNotLive": "The service was stopped or its lifetime ended.",
    "ServiceTokenPricesChanged": "The model's token prices changed; read the terms again.",
    "ServiceServingPriceChanged": "The offer's serving price changed; read the terms again.",
    "ServiceEnclaveInvalid": "Certify the enclave first (it must be VALID in the registry).",
    "MarketplaceResourceKindMismatch": (
        "A resource id is of the wrong kind: --engine must name an engine listing and --resource "
        "weights or datasets (see the resource's page in the catalogue)."
    ),
    "MarketplaceResourceInactive": "The resource was retired by its owner; choose another one.",
    "MarketplaceTeeOfferUnavailable": (
        "The TEE offer is full, retired or unknown; pick another offer (`enclava order create "
        "--help`) or wait for a slot."
    ),
    "MarketplaceWrongPayment": "The escrow sent differs from the quote; quote again and retry.",
    "MarketplaceTooManyResources": "The order names more resources than the marketplace allows.",
    "MarketplaceTooManyInputs": "The order carries more inputs than the marketplace allows.",
    "MarketplaceEmptyInput": "One of the order's inputs is empty; check the --input files.",
    "MarketplaceEmptyRecipientKey": "The order needs the recipient key that results go to.",
    "MarketplaceZeroDuration": "The order's maximum duration must be above zero.",
    "MarketplaceOrderNotOpen": "The order is no longer open (accepted, finished or cancelled).",
    "MarketplaceOrderNotAccepted": "The order was not accepted by a provider (or already ended).",
    "MarketplaceNotCustomer": "Only the order's customer may do this; use the customer's wallet.",
    "MarketplaceDeadlineNotReached": "The order's deadline has not passed yet; retry after it.",
    "MarketplaceNothingToWithdraw": "The marketplace holds no credit for this wallet.",
    "MarketplaceMeasurementNotAllowed": (
        "The enclave's measurement is not on the allow-list for its TEE type."
    ),
    "MarketplaceEnclaveUnknown": "The enclave was never certified by an attestation CA.",
    "MarketplaceEnclaveExpired": "The enclave's certificate expired; it must be re-attested.",
    "MarketplaceEnclaveRevoked": "The enclave was revoked; it cannot report on orders.",
    "MarketplaceEnclaveGpuMismatch": (
        "The order's TEE offer promises a GPU class the enclave was not certified with; report "
        "from an enclave attested with that GPU (any enclave of the provider may still fail it)."
    ),
    "AttestationGpuInvalid": (
        "A certificate names a GPU class and a count together (both empty without a GPU), and "
        'never the class "cpu".'
    ),
    "ResourceUnknown": "No resource with this id on this chain; check the id in the catalogue.",
    "ResourceNotOwner": "Only the resource's owner may do this; use the owner's wallet.",
    "ResourceAlreadyRetired": "The resource is already retired.",
    "ResourceSignatureExpired": "The listing signature expired; sign the listing again.",
    "ProviderStakeTooLow": "Stake at least the registry's minimum stake.",
    "ProviderNotRegistered": "Register as a provider first (with a stake).",
    "ProviderAlreadyRegistered": "This address is already a registered provider.",
    "ProviderTeeOfferFull": "Every slot of the TEE offer is busy; pick another offer or wait.",
    "ProviderTeeOfferRetired": "The TEE offer was retired by its provider; pick another one.",
    "ProviderUnknownTeeOffer": "No TEE offer with this id; check the provider's offers.",
    "ProviderNotTeeOfferOwner": "Only the offer's provider may change it.",
    "ProviderHasOpenOrders": "Finish or time out the provider's open orders first.",
    "OwnableUnauthorizedAccount": "Only the contract's owner may do this.",
    "InsufficientBalance": "The wallet holds too little ETH for this call; fund it.",
    "Panic": "The contract hit an internal assertion (a bug or an overflow); report it.",
}
_GENERIC_HINT = "The transaction broke a contract rule: read the error and its arguments."


@dataclass(frozen=True)
class ErrorAbi:
    """One custom error: its name, its argument names and ABI types, its 4-byte selector."""

    name: str
    arg_names: tuple[str, ...]
    arg_types: tuple[str, ...]

    @property
    def signature(self) -> str:
        return f"{self.name}({','.join(self.arg_types)})"

    @property
    def selector(self) -> bytes:
        return keccak(text=self.signature)[:4]

    @classmethod
    def from_abi(cls, entry: dict[str, Any]) -> ErrorAbi:
        inputs = list(entry.get("inputs", []))
        names = tuple(str(i.get("name") or f"arg{n}") for n, i in enumerate(inputs))
        return cls(str(entry["name"]), names, tuple(collapse_if_tuple(i) for i in inputs))


@dataclass(frozen=True)
class DecodedRevert:
    """A revert's error name and arguments (``args`` by name, in declaration order)."""

    name: str
    args: dict[str, Any] = field(default_factory=dict)
    selector: str = ""

    def __str__(self) -> str:
        return f"{self.name}({', '.join(f'{k}={_show(v)}' for k, v in self.args.items())})"

    @property
    def hint(self) -> str:
        return HINTS.get(self.name, _GENERIC_HINT)


def _show(value: Any) -> str:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, str) and not value.startswith("0x"):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "(" + ", ".join(_show(v) for v in value) + ")"
    return str(value)


@lru_cache(maxsize=None)
def known_errors(build_dir: str | None = None) -> dict[bytes, ErrorAbi]:
    """Selector -> error for every ``error`` entry of the compiled artifacts (plus the built-ins).

    A missing build folder leaves only the built-ins: decoding then falls back to the selector.
    """
    build = Path(build_dir) if build_dir else project_root() / "build"
    entries: list[dict[str, Any]] = list(_BUILTIN_ABIS)
    for folder in ("contracts", "interfaces"):
        for path in sorted((build / folder).glob("*.json")):
            try:
                abi = json.loads(path.read_text()).get("abi", [])
            except (OSError, ValueError, AttributeError):
                continue  # not an artifact (brownie keeps other JSON there too)
            entries.extend(e for e in abi if isinstance(e, dict) and e.get("type") == "error")
    table: dict[bytes, ErrorAbi] = {}
    for entry in entries:
        error = ErrorAbi.from_abi(entry)
        table.setdefault(error.selector, error)
    return table


def _as_bytes(data: Any) -> bytes | None:
    if isinstance(data, (bytes, bytearray)):
        return bytes(data)
    if isinstance(data, str):
        text = data.removeprefix("0x")
        try:
            return bytes.fromhex(text)
        except ValueError:
            return None
    return None


def decode_revert(data: Any, build_dir: str | None = None) -> DecodedRevert | None:
    """The error in ``data`` (hex string or bytes: selector + ABI-encoded arguments).

    ``None`` when there is no data; an unknown selector or undecodable arguments give a
    :class:`DecodedRevert` named by the raw selector, so the message still says what came back.
    """
    raw = _as_bytes(data)
    if raw is None or len(raw) < 4:
        return None
    selector, body = raw[:4], raw[4:]
    shown = "0x" + selector.hex()
    error = known_errors(build_dir).get(selector)
    if error is None:
        return DecodedRevert(f"unknown error {shown}", {}, shown)
    try:
        values = decode(list(error.arg_types), body)
    except (DecodingError, ValueError, OverflowError):
        return DecodedRevert(f"{error.name} (undecodable arguments)", {}, shown)
    return DecodedRevert(error.name, dict(zip(error.arg_names, values)), shown)


def revert_error(
    what: str, data: Any, *, fallback: str = "", mined: bool = False
) -> TransactionReverted:
    """The typed error for a revert of ``what``: decoded name, arguments and hint when ``data``
    holds a known error, else ``fallback`` (web3's own words). ``mined`` says the transaction was
    included with status 0 (:class:`TransactionFailed`) rather than refused before sending."""
    decoded = decode_revert(data)
    kind = TransactionFailed if mined else TransactionReverted
    if decoded is None:
        detail = f": {fallback}" if fallback else ""
        return kind(f"{what} reverted{detail}")
    return kind(
        f"{what} reverted: {decoded}",
        hint=decoded.hint,
        error_name=decoded.name,
        error_args=decoded.args,
        selector=decoded.selector,
    )
