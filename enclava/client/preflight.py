"""Pre-flight checks of an order: everything that can be known before anything is uploaded or paid.

`enclava order create` runs :func:`preflight_order` first; each check that fails raises its own
:class:`~enclava.client.errors.PreflightRefused` leaf, with a hint, and no transaction is sent:

1. kinds (chain): the engine id is an engine, each ``--resource`` a model or dataset, all active
   (a weights id passed as ``--engine`` would revert ``MarketplaceResourceKindMismatch``);
2. the TEE offer (chain): active, its provider bonded, and a free slot (``used < slots``);
3. the listings (marketplace API): the engine's declared weights are among the resources, no
   resource names another engine, and each input file matches the engine's ``input_schema``
   (a JSON file as it is, a ``.npy`` as its array's nested lists). An unreachable API, or an engine
   it has not indexed, skips only these checks, with a note;
4. the owners' key policies (the CA's ``POST /v1/keys/check``, signed by the customer): the very
   guard a release runs, for this customer, engine hash and TEE offer (simulated or not). A key
   not deposited yet is a note, not a refusal: its owner may still deposit it.

:func:`offers_admitting` is `model publish`'s view of the same question from the owner's side:
which active TEE offers on the network a policy can admit at all.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from enclava.chain.types import ResourceKind
from enclava.client.errors import (
    BrokerRefused,
    InputSchemaMismatch,
    MarketApiRefused,
    MarketApiUnavailable,
    PolicyRefused,
    ResourceKindMismatch,
    ResourceUnavailable,
    TeeOfferFull,
    TeeOfferNotAvailable,
    WeightsForAnotherEngine,
    WeightsMissing,
)
from enclava.errors import ConfigError
from enclava.protocol.tee import TeeType, decode_gpu_class, offer_requires_gpu

if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount

    from enclava.chain.market import MarketClient
    from enclava.client.broker_http import BrokerHttpClient
    from enclava.client.market_api import MarketApiClient

__all__ = [
    "TeeOfferState",
    "Preflight",
    "preflight_order",
    "read_tee_offer",
    "active_tee_offers",
    "offers_admitting",
    "check_input_against_schema",
    "MAX_CHECKED_INPUT_BYTES",
]

MAX_CHECKED_INPUT_BYTES = 64 * 1024 * 1024  # larger inputs are not parsed here (a note says so)
_NPY_MAGIC = b"\x93NUMPY"
_KIND_WORDS = {
    ResourceKind.ENGINE: "an engine",
    ResourceKind.MODEL: "a model (weights)",
    ResourceKind.DATASET: "a dataset",
}
#: what a customer can do about each policy refusal (the CA's own hint is for the release side)
_POLICY_HINTS = {
    "policy_simulated_tee_refused": (
        "This TEE offer is simulated and the owner's key policy has no simulated-TEE opt-in: "
        "choose a hardware TEE offer, or ask the owner to publish with "
        "--insecure-allow-simulated-tee (devnets only)."
    ),
    "policy_customer_refused": (
        "Your wallet is not among the policy's allowed customers: order from an allowed wallet, "
        "or ask the owner to add yours."
    ),
    "policy_tee_type_refused": "Choose a TEE offer of a type the owner's policy allows.",
    "policy_gpu_refused": (
        "The owner's policy requires a GPU TEE (or one of its GPU classes): choose a TEE offer "
        "whose GPU class the policy names (the catalogue shows each offer's GPU class)."
    ),
    "policy_engine_refused": "These keys are not for this engine: use the engine they are for.",
    "policy_expired": "The owner's policy has expired: ask the owner to deposit a new one.",
    "policy_uses_exhausted": "The owner's policy allowed a number of uses; all are spent.",
}


@dataclass(frozen=True)
class TeeOfferState:
    """``IProviderRegistry.getTeeOffer`` plus whether its provider may accept orders now."""

    tee_offer_id: int
    provider: str
    tee_type: int
    active: bool
    retired: bool
    slots: int
    used: int
    available: bool  # active, provider bonded with enough stake (``teeOfferTerms``)
    gpu_class: str = ""  # the offer's GPU class label ("cpu" or "" when it promises no GPU)

    @property
    def simulated(self) -> bool:
        return self.tee_type == TeeType.SIMULATED

    @property
    def free_slots(self) -> int:
        return max(self.slots - self.used, 0)


@dataclass
class Preflight:
    """What the checks found; ``notes`` are the checks that could not run, in words."""

    offer: TeeOfferState
    engine_hash: str
    input_schema: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)


def read_tee_offer(market: MarketClient, tee_offer_id: int) -> TeeOfferState:
    registry = market.contracts.provider_registry
    try:
        raw = registry.functions.getTeeOffer(int(tee_offer_id)).call()
        terms = market.tee_offer_terms(tee_offer_id)
    except Exception as exc:  # noqa: BLE001 - an unknown id reverts or decodes to zeros
        raise TeeOfferNotAvailable(f"TEE offer {tee_offer_id} cannot be read on chain") from exc
    provider, tee_type, active, retired, slots, used = raw[:6]
    gpu_class = decode_gpu_class(bytes(raw[7]))
    return TeeOfferState(
        tee_offer_id=int(tee_offer_id),
        provider=str(provider),
        tee_type=int(tee_type),
        active=bool(active),
        retired=bool(retired),
        slots=int(slots),
        used=int(used),
        available=bool(terms["available"]),
        gpu_class=gpu_class if offer_requires_gpu(gpu_class) else "",
    )


def active_tee_offers(market: MarketClient) -> list[TeeOfferState]:
    """Every TEE offer on the chain that takes orders now (active, not retired, provider bonded)."""
    count = int(market.contracts.provider_registry.functions.teeOfferCount().call())
    offers = (read_tee_offer(market, i) for i in range(1, count + 1))
    return [o for o in offers if o.available and not o.retired and int(o.provider, 16) != 0]


def offers_admitting(
    policy: dict[str, Any], offers: Iterable[TeeOfferState]
) -> list[TeeOfferState]:
    """The offers whose TEE a key policy can admit: its simulated opt-in and TEE-type list.

    An advisory view for owners (``model publish``); the CA's guards decide at release time.
    """
    allowed = policy.get("allowed_tee_types", "any")
    simulated_ok = bool(policy.get("insecure_allow_simulated_tee", False))
    return [
        o
        for o in offers
        if (simulated_ok or not o.simulated) and (allowed == "any" or o.tee_type in allowed)
    ]


def _resource(market: MarketClient, resource_id: int) -> dict[str, Any]:
    try:
        found = market.resource(resource_id)
    except Exception as exc:  # noqa: BLE001 - the registry reverts on an unknown id
        raise ResourceUnavailable(f"no resource {resource_id} on this chain") from exc
    return found


def _check_kinds(
    market: MarketClient, engine_id: int, resource_ids: Sequence[int]
) -> dict[int, dict[str, Any]]:
    wanted = [(engine_id, "--engine", {ResourceKind.ENGINE})]
    wanted += [
        (rid, "--resource", {ResourceKind.MODEL, ResourceKind.DATASET}) for rid in resource_ids
    ]
    found: dict[int, dict[str, Any]] = {}
    for rid, flag, kinds in wanted:
        resource = found.get(rid) or _resource(market, rid)
        found[rid] = resource
        kind = ResourceKind(int(resource["kind"]))
        if kind not in kinds:
            expected = "an engine" if flag == "--engine" else "a model or a dataset"
            raise ResourceKindMismatch(
                f"resource {rid} given as {flag} is {_KIND_WORDS.get(kind, 'unknown')}, "
                f"not {expected}",
                hint=(
                    f"Pass the engine's id to --engine and resource {rid} with --resource."
                    if flag == "--engine"
                    else f"Pass resource {rid} with --engine, its weights with --resource."
                ),
            )
        if not resource["active"] or resource["retired"]:
            state = "retired" if resource["retired"] else "paused by its owner"
            raise ResourceUnavailable(f"resource {rid} is {state}")
    return found


def _check_offer(market: MarketClient, tee_offer_id: int) -> TeeOfferState:
    offer = read_tee_offer(market, tee_offer_id)
    if int(offer.provider, 16) == 0:
        raise TeeOfferNotAvailable(f"there is no TEE offer {tee_offer_id}")
    if offer.retired or not offer.active or not offer.available:
        state = "retired" if offer.retired else "paused" if not offer.active else "not bonded"
        raise TeeOfferNotAvailable(f"TEE offer {tee_offer_id} takes no orders ({state})")
    if offer.free_slots == 0:
        raise TeeOfferFull(
            f"TEE offer {tee_offer_id} runs {offer.used} of {offer.slots} orders at once: no slot "
            "is free, so its provider cannot accept the order"
        )
    return offer


def _listing(api: MarketApiClient, resource_id: int) -> dict[str, Any] | None:
    try:
        return api.listing(resource_id)
    except MarketApiRefused as exc:
        if getattr(exc, "remote_type", None) == "not_found":
            return None
        raise


def _check_listings(
    api: MarketApiClient,
    engine_id: int,
    resource_ids: Sequence[int],
    kinds: dict[int, dict[str, Any]],
    notes: list[str],
) -> dict[str, Any] | None:
    """The engine's declared weights and input schema, checked against the order; the schema."""
    try:
        engine = _listing(api, engine_id)
        if engine is None:
            notes.append(
                f"the marketplace has not indexed engine {engine_id}: its weights and input "
                "format were not checked"
            )
            return None
        weights = [int(w) for w in engine.get("weights") or []]
        if weights and not set(weights) & set(resource_ids):
            flags = " ".join(f"--resource {w}" for w in weights)
            raise WeightsMissing(
                f"engine {engine_id} runs with its weights (resource "
                f"{', '.join(map(str, weights))}), which the order does not include",
                hint=f"Add {flags} (one of them) to the command.",
            )
        for rid in resource_ids:
            if kinds[rid]["kind"] != ResourceKind.MODEL:
                continue
            listing = _listing(api, rid)
            named = None if listing is None else listing.get("engine_resource_id")
            if named is not None and int(named) != engine_id:
                raise WeightsForAnotherEngine(
                    f"resource {rid} is listed as the weights of engine {named}, not of "
                    f"engine {engine_id}",
                    hint=f"Use --engine {named}, or the weights listed for engine {engine_id}.",
                )
    except MarketApiUnavailable:
        notes.append(
            "the marketplace API cannot be reached: the engine's weights and input format "
            "were not checked"
        )
        return None
    schema = (engine.get("metadata") or {}).get("input_schema")
    return schema if isinstance(schema, dict) else None


def _as_json(name: str, data: bytes) -> Any:
    if data.startswith(_NPY_MAGIC):
        import numpy as np

        try:
            return np.load(io.BytesIO(data), allow_pickle=False).tolist()
        except ValueError as exc:
            raise InputSchemaMismatch(f"input {name} is not a readable .npy array: {exc}") from exc
    try:
        return json.loads(data)
    except ValueError as exc:
        raise InputSchemaMismatch(
            f"input {name} is neither JSON nor a .npy array, but the engine declares an input "
            "schema for a JSON (or .npy) input"
        ) from exc


def check_input_against_schema(path: Path, schema: dict[str, Any]) -> None:
    """Refuse ``path`` unless it matches ``schema``; the message names the first mismatch's path
    (a JSON pointer such as ``/0/3``)."""
    import jsonschema_rs

    value = _as_json(path.name, path.read_bytes())
    try:
        validator = jsonschema_rs.validator_for(schema)
    except (jsonschema_rs.ValidationError, ValueError) as exc:
        raise InputSchemaMismatch(
            f"the engine's input schema cannot be used: {exc}",
            hint="The listing's schema is broken; tell the engine's owner.",
        ) from exc
    error = next(iter(validator.iter_errors(value)), None)
    if error is not None:
        pointer = "/" + "/".join(str(p) for p in error.instance_path)
        raise InputSchemaMismatch(
            f"input {path.name} does not match the engine's input schema at {pointer}: "
            f"{error.message}"
        )


def _check_inputs(inputs: Sequence[Path], schema: dict[str, Any], notes: list[str]) -> None:
    for path in inputs:
        if path.stat().st_size > MAX_CHECKED_INPUT_BYTES:
            notes.append(f"input {path.name} is too large to check against the input schema here")
            continue
        check_input_against_schema(path, schema)


def _check_policies(
    broker: BrokerHttpClient,
    customer: LocalAccount,
    resource_ids: Sequence[int],
    engine_hash: str,
    offer: TeeOfferState,
    notes: list[str],
) -> None:
    try:
        answer = broker.check_policy(
            customer,
            resource_ids,
            engine_hash=engine_hash,
            tee_type=offer.tee_type,
            simulated=offer.simulated,
            gpu_class=offer.gpu_class,
        )
    except BrokerRefused as exc:
        if getattr(exc, "status_code", None) not in (404, 405):
            raise
        notes.append("this CA offers no policy pre-check: the owners' policies were not checked")
        return
    for verdict in answer.resources:
        if verdict.reason == "key_not_deposited":  # the owner may still deposit it: say so only
            notes.append(
                f"the owner of resource {verdict.resource_id} has not deposited its key with the "
                "CA: the order cannot run until they do"
            )
    refused = [v for v in answer.resources if not v.allowed and v.reason != "key_not_deposited"]
    if not refused:
        return
    words = "; ".join(f"resource {v.resource_id}: {v.message} ({v.reason})" for v in refused)
    first = refused[0]
    tee = "a simulated TEE" if offer.simulated else f"TEE type {TeeType(offer.tee_type).name}"
    raise PolicyRefused(
        f"the owner's key policy would refuse this order (customer {customer.address}, "
        f"TEE offer {offer.tee_offer_id} on {tee}): {words}",
        hint=_POLICY_HINTS.get(first.reason or "", first.hint),
    )


def preflight_order(
    market: MarketClient,
    *,
    api: Callable[[], MarketApiClient] | None,
    broker: BrokerHttpClient,
    customer: LocalAccount,
    engine_id: int,
    resource_ids: Sequence[int],
    tee_offer_id: int,
    inputs: Sequence[Path] = (),
) -> Preflight:
    """Run every check in the order of the module docstring; raise the first refusal.

    ``api`` builds the marketplace client when first needed (None: no marketplace): a network
    without one, or one that cannot be reached, skips the listing checks with a note.
    """
    kinds = _check_kinds(market, engine_id, resource_ids)
    offer = _check_offer(market, tee_offer_id)
    engine_hash = "0x" + bytes(kinds[engine_id]["content_hash"]).hex()
    found = Preflight(offer=offer, engine_hash=engine_hash)
    if api is not None:
        try:
            client = api()
        except (MarketApiUnavailable, ConfigError):
            found.notes.append("the marketplace API is not configured; listings were not checked")
        else:
            found.input_schema = _check_listings(
                client, engine_id, resource_ids, kinds, found.notes
            )
    if found.input_schema is not None:
        _check_inputs(inputs, found.input_schema, found.notes)
    resources = list(dict.fromkeys([engine_id, *resource_ids]))
    _check_policies(broker, customer, resources, engine_hash, offer, found.notes)
    return found
