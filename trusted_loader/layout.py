"""Where each decrypted input goes: the engine's declared inputs, filled from the order in order.

Model resources feed inputs with ``source = "model"``, dataset resources ``"dataset"``, the
customer's own inputs ``"customer"``; ``count = "one"`` takes exactly one, ``"many"`` takes the
rest, possibly none (its folder is then empty: an optional input, such as the FHE head's
``secret_key`` that only enclave-decrypt orders carry; an engine that needs at least one says so
itself). Anything left over, or a ``"one"`` input left empty, is an order that does not fit the
engine.
"""

from __future__ import annotations

from collections import deque
from pathlib import Path

from enclava.chain.types import ResourceKind
from enclava.protocol.engine.manifest import EngineManifest
from trusted_loader.errors import InputsDoNotFitEngine

__all__ = ["lay_out_inputs"]

_SOURCE = {ResourceKind.MODEL: "model", ResourceKind.DATASET: "dataset"}


def lay_out_inputs(
    manifest: EngineManifest,
    resources: list[tuple[ResourceKind, bytes]],
    inputs: list[bytes],
    dest: Path,
) -> Path:
    """Write ``dest/<input name>/<index:03d>`` for every declared input; return ``dest``."""
    queues: dict[str, deque[bytes]] = {
        "model": deque(),
        "dataset": deque(),
        "customer": deque(inputs),
    }
    for kind, data in resources:
        queues[_SOURCE[ResourceKind(kind)]].append(data)
    for spec in manifest.inputs:
        queue = queues[spec.source]
        take = 1 if spec.count == "one" else len(queue)
        if len(queue) < take:
            raise InputsDoNotFitEngine(
                f"the engine's input {spec.name!r} needs a {spec.source} the order lacks"
            )
        folder = dest / spec.name
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        for index in range(take):
            (folder / f"{index:03d}").write_bytes(queue.popleft())
    leftover = {source: len(queue) for source, queue in queues.items() if queue}
    if leftover:
        raise InputsDoNotFitEngine(
            f"the order carries inputs the engine does not declare: {leftover}"
        )
    return dest
