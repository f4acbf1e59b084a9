"""What the loader believes about an order, and why: named guards, always run in this order.

The host (the provider's OS, its RPC node, its IPFS node) may lie about anything. The only thing the
loader takes from it on trust is the order id it was asked to run; everything else must follow
from that id:

1. :func:`guard_terms_commit_to_id`  keccak256(abi.encode(terms)) is the order id, so the engine
   hash, the inputs hash, the recipient key hash, the provider, the TEE type, the price, the
   duration and every resource id are the ones the customer signed on chain.
2. :func:`guard_recipient_key`       the recipient key hashes to ``terms.recipientKeyHash``, so the
   result is encrypted to the customer and nobody else.
3. :func:`guard_inputs_commit`       the resource and input hashes hash to ``terms.inputsHash``, so
   every ciphertext fetched later is checked against a value the id commits to.
4. :func:`guard_order_state`         the order is accepted, for this provider, inside its window
   (state the id cannot commit to; the key broker re-checks it on its own view of the chain).

Then, before any input is fetched, :func:`guard_enclave_has_offer_gpu`: an order placed on a TEE
offer that promises a GPU class runs only in an enclave whose certificate names that class. The
offer id is one the order id commits to; its GPU label comes from the host's RPC, so this is the
early, honest-host refusal: the key broker (``guard_order_gpu``) and the marketplace
(``MarketplaceEnclaveGpuMismatch``) check the same on their own view of the chain.

Every decision is logged with the order id and the guard's name; no key or plaintext is logged.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from enclava.logs import get_logger
from enclava.protocol.errors import ReleaseAnswerMismatch
from enclava.protocol.key_release import NamedKey, expected_keys, require_release_matches
from enclava.protocol.order import Order, OrderStatus, inputs_hash, recipient_key_hash
from enclava.protocol.tee import offer_requires_gpu
from trusted_loader.errors import (
    KeyReleaseInvalid,
    LoaderError,
    OrderNotExecutable,
    OrderTermsMismatch,
    RecipientKeyMismatch,
)

__all__ = [
    "guard_terms_commit_to_id",
    "guard_recipient_key",
    "guard_inputs_commit",
    "guard_order_state",
    "check_order",
    "guard_release_matches_order",
    "guard_enclave_has_offer_gpu",
    "EnclaveGpuMismatch",
]

log = get_logger("trusted_loader.checks")


class EnclaveGpuMismatch(LoaderError):
    """The order's TEE offer promises a GPU class this enclave is not certified with."""

    code = "enclave_gpu_mismatch"
    reason = "enclave_gpu_mismatch"
    hint = (
        "Serve GPU offers from a CVM attested with that GPU (LOADER_GPU=nvml on the host); "
        "nothing was fetched or run."
    )


def guard_terms_commit_to_id(order_id: str, order: Order) -> None:
    if (
        order.terms.order_id.lower() != order_id.lower()
        or order.order_id.lower() != order_id.lower()
    ):
        raise OrderTermsMismatch(
            f"the terms given for order {order_id} hash to {order.terms.order_id}"
        )


def guard_recipient_key(order: Order) -> None:
    if recipient_key_hash(order.recipient_key) != bytes(order.terms.recipient_key_hash):
        raise RecipientKeyMismatch(
            f"order {order.order_id}: the recipient key does not hash to recipientKeyHash"
        )


def guard_inputs_commit(order: Order) -> None:
    if len(order.resource_hashes) != len(order.terms.resource_ids):
        raise OrderTermsMismatch(
            f"order {order.order_id}: {len(order.resource_hashes)} resource hashes for "
            f"{len(order.terms.resource_ids)} resources"
        )
    given = inputs_hash(list(order.resource_hashes), [item.content_hash for item in order.inputs])
    if given != bytes(order.terms.inputs_hash):
        raise OrderTermsMismatch(
            f"order {order.order_id}: the resource and input hashes do not hash to inputsHash"
        )


def guard_order_state(order: Order, *, provider: str, now: float) -> None:
    if order.status != OrderStatus.ACCEPTED:
        raise OrderNotExecutable(f"order {order.order_id} is {order.status.name}, not ACCEPTED")
    if order.terms.provider.lower() != provider.lower():
        raise OrderNotExecutable(
            f"order {order.order_id} belongs to provider {order.terms.provider}"
        )
    if order.deadline and now >= order.deadline:
        raise OrderNotExecutable(f"order {order.order_id} is past its deadline")


def check_order(order_id: str, order: Order, *, provider: str, now: float) -> Order:
    """Run the four guards in their fixed order; the first refusal is the order's failure reason."""
    guards: tuple[tuple[str, Callable[[], None]], ...] = (
        ("terms_commit_to_id", lambda: guard_terms_commit_to_id(order_id, order)),
        ("recipient_key", lambda: guard_recipient_key(order)),
        ("inputs_commit", lambda: guard_inputs_commit(order)),
        ("order_state", lambda: guard_order_state(order, provider=provider, now=now)),
    )
    for name, guard in guards:
        try:
            guard()
        except LoaderError as refusal:
            log.warning(
                "order refused", extra={"order_id": order_id, "guard": name, "type": refusal.code}
            )
            raise
    log.info("order accepted by the loader's guards", extra={"order_id": order_id})
    return order


def guard_release_matches_order(released: Sequence[NamedKey], order: Order) -> None:
    """The broker's signed answer (its keys, e.g. enclava.protocol's ``ReleasedKey``) names exactly
    the keys this order needs: none missing, none extra, each with the content hash the order id
    commits to (:func:`enclava.protocol.key_release.require_release_matches`)."""
    try:
        require_release_matches(released, expected_keys(order))
    except ReleaseAnswerMismatch as mismatch:
        log.warning(
            "key release refused",
            extra={"order_id": order.order_id, "guard": "release_matches_order"},
        )
        raise KeyReleaseInvalid(f"order {order.order_id}: {mismatch.message}") from mismatch


def guard_enclave_has_offer_gpu(
    order: Order, *, offer_gpu_class: str, gpu_class: str, gpu_count: int
) -> None:
    """Refuse an order whose TEE offer promises a GPU class the enclave's certificate lacks."""
    if not offer_requires_gpu(offer_gpu_class):
        return
    if gpu_count < 1 or gpu_class != offer_gpu_class:
        certified = f"{gpu_count} x {gpu_class}" if gpu_count else "no GPU"
        log.warning(
            "order refused",
            extra={"order_id": order.order_id, "guard": "enclave_has_offer_gpu"},
        )
        raise EnclaveGpuMismatch(
            f"order {order.order_id} is on a TEE offer with GPU {offer_gpu_class!r}; this "
            f"enclave is certified with {certified}"
        )
