"""Sandbox entrypoint: every ``$ENCLAVA_INPUT_DIR/datasets/NNN`` (.npz, in order) ->
``weights.npz`` and ``metrics.json`` in ``$ENCLAVA_OUTPUT_DIR``; the seed is ``$ENCLAVA_SEED``;
the device (``cuda`` or ``cpu``) goes to stderr and into ``metrics.json``."""

import json
import os
import sys

from trainer import (  # type: ignore[import-not-found]  # main.py runs from its own folder
    load_share,
    npz_bytes,
    pick_device,
    train_plain,
)


def main() -> None:
    inputs, outputs = os.environ["ENCLAVA_INPUT_DIR"], os.environ["ENCLAVA_OUTPUT_DIR"]
    folder = os.path.join(inputs, "datasets")
    shares = [load_share(os.path.join(folder, name)) for name in sorted(os.listdir(folder))]
    device = pick_device()
    print(f"tabular-trainer: device={device}", file=sys.stderr, flush=True)
    weights, metrics = train_plain(shares, int(os.environ["ENCLAVA_SEED"]), device)
    with open(os.path.join(outputs, "weights.npz"), "wb") as handle:
        handle.write(npz_bytes(weights))
    with open(os.path.join(outputs, "metrics.json"), "w") as handle:
        json.dump(metrics, handle, sort_keys=True, separators=(",", ":"))


if __name__ == "__main__":
    main()
