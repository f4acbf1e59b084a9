"""The one table of order-failure reasons: code, name, title and what to do.

Every way an order can fail inside the enclave maps to a small integer that the loader passes to
``failOrder`` on chain, so the customer is refunded and sees why. The CLI, the marketplace API and
its pages, and the provider's logs all say a failure in the words of :data:`REASONS`, never as a
bare number. Codes are stable: never renumber, only append. ``0`` is reserved for "no failure".
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

__all__ = ["REASONS", "Reason", "ReasonText", "describe_reason", "reason_name"]


class Reason(IntEnum):
    """On-chain failure reasons (``uint8``)."""

    NONE = 0
    INPUT_HASH_MISMATCH = 1
    KEY_RELEASE_DENIED = 2
    ENGINE_FAILED = 3
    TIMEOUT = 4
    OUTPUT_TOO_LARGE = 5
    MEMORY_EXCEEDED = 6
    NETWORK_DENIED = 7
    CPU_EXCEEDED = 8
    OUTPUT_MISSING = 9
    INTERNAL_ERROR = 10
    INPUT_UNAVAILABLE = 11
    CERTIFICATION_FAILED = 12
    ENGINE_INVALID = 13
    ORDER_TERMS_MISMATCH = 14
    RECIPIENT_KEY_MISMATCH = 15
    KEY_RELEASE_INVALID = 16
    ENCLAVE_GPU_MISMATCH = 17


@dataclass(frozen=True)
class ReasonText:
    """A reason as people read it: ``name`` is the stable word (``"engine_failed"``), ``title``
    one line of what happened, ``hint`` what to do next."""

    code: int
    name: str
    title: str
    hint: str

    def line(self) -> str:
        """``"engine failed (engine_failed, 3): the engine exited with an error"``-style text."""
        return f"{self.title} ({self.name}, reason {self.code})"


def _text(reason: Reason, title: str, hint: str) -> ReasonText:
    return ReasonText(code=int(reason), name=reason.name.lower(), title=title, hint=hint)


#: Every reason in words. A test checks that each :class:`Reason` has exactly one entry.
REASONS: dict[int, ReasonText] = {
    r.code: r
    for r in (
        _text(Reason.NONE, "no failure", "The order did not fail."),
        _text(
            Reason.INPUT_HASH_MISMATCH,
            "an input did not match the hash the order commits to",
            "Upload the file again and place a new order; the bytes on IPFS are not the ones "
            "you paid for.",
        ),
        _text(
            Reason.KEY_RELEASE_DENIED,
            "the key broker refused to release a key",
            "An owner's key policy does not admit this order (customer, engine, TEE type, "
            "simulated enclaves, expiry or uses): ask the owner, or pick a TEE offer the policy "
            "allows. `enclava order create` checks the policy before you pay.",
        ),
        _text(
            Reason.ENGINE_FAILED,
            "the engine exited with an error",
            "Read the engine's error output (`enclava order status ID --wallet W` decrypts it); "
            "check your input's format, or ask the engine's owner. Engine owners reproduce it "
            "with `enclava engine test`.",
        ),
        _text(
            Reason.TIMEOUT,
            "the order ran out of time",
            "Give the order a longer --max-duration, or ask the owner to raise the engine's "
            "limits.wall_seconds.",
        ),
        _text(
            Reason.OUTPUT_TOO_LARGE,
            "the engine's output was larger than its limit",
            "Use a smaller input, or ask the owner to raise limits.output_bytes.",
        ),
        _text(
            Reason.MEMORY_EXCEEDED,
            "the engine needed more memory than its limit",
            "Use a smaller input, or ask the owner to raise limits.memory_mb (importing torch "
            "alone needs about 300 MB resident).",
        ),
        _text(
            Reason.NETWORK_DENIED,
            "the engine tried to reach the network",
            "Engines run without a network; the owner must ship everything the engine needs.",
        ),
        _text(
            Reason.CPU_EXCEEDED,
            "the engine used more CPU time than its limit",
            "Use a smaller input, or ask the owner to raise limits.cpu_seconds.",
        ),
        _text(
            Reason.OUTPUT_MISSING,
            "the engine did not write a declared output",
            "The engine exited without writing every [[outputs]] file; check your input or ask "
            "the owner.",
        ),
        _text(
            Reason.INTERNAL_ERROR,
            "the enclave failed for a reason of its own",
            "Nothing you sent caused it; place the order again, or with another provider.",
        ),
        _text(
            Reason.INPUT_UNAVAILABLE,
            "an input could not be fetched from IPFS",
            "Make sure your inputs stay pinned and reachable, then place the order again.",
        ),
        _text(
            Reason.CERTIFICATION_FAILED,
            "the enclave could not be certified",
            "The provider's enclave failed attestation; pick another TEE offer.",
        ),
        _text(
            Reason.ENGINE_INVALID,
            "the engine archive is not a valid engine",
            "The engine's owner must fix it (`enclava engine test DIR` shows the problem).",
        ),
        _text(
            Reason.ORDER_TERMS_MISMATCH,
            "the order's terms did not match its id",
            "The provider's host handed the enclave wrong terms; report the provider.",
        ),
        _text(
            Reason.RECIPIENT_KEY_MISMATCH,
            "the result key did not match the order",
            "The provider's host handed the enclave a wrong result key; report the provider.",
        ),
        _text(
            Reason.KEY_RELEASE_INVALID,
            "a released key was not the one the order needs",
            "The key broker's answer did not match the order; place the order again.",
        ),
        _text(
            Reason.ENCLAVE_GPU_MISMATCH,
            "the enclave is not certified with the GPU the TEE offer promises",
            "The provider's enclave was attested without that confidential GPU, so nothing was "
            "fetched or run; report the provider, or pick another TEE offer.",
        ),
    )
}


def describe_reason(code: int) -> ReasonText:
    """The words for ``code``; a code outside the table is named ``unknown`` with a hint."""
    try:
        return REASONS[int(code)]
    except (KeyError, ValueError):
        return ReasonText(
            code=int(code),
            name="unknown",
            title=f"an unknown failure reason ({code})",
            hint="Upgrade enclava: this reason is newer than your copy.",
        )


def reason_name(code: int) -> str:
    """``"timeout"`` for 4; ``"unknown"`` for a code not in the table."""
    return describe_reason(code).name
