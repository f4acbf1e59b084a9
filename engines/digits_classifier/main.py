"""Sandbox entrypoint: weights from ``$ENCLAVA_INPUT_DIR/weights/000`` (.npz), images from
``$ENCLAVA_INPUT_DIR/images/000`` (.npy ``[N, 8, 8]``) -> ``$ENCLAVA_OUTPUT_DIR/predictions.json``;
the device it ran on (``cuda`` or ``cpu``) goes to stderr."""

import json
import os
import sys

import numpy as np
from model import (  # type: ignore[import-not-found]  # main.py runs from its own folder
    load_weights,
    pick_device,
    predict_plain,
)


def main() -> None:
    inputs, outputs = os.environ["ENCLAVA_INPUT_DIR"], os.environ["ENCLAVA_OUTPUT_DIR"]
    weights = load_weights(os.path.join(inputs, "weights", "000"))
    images = np.load(os.path.join(inputs, "images", "000"), allow_pickle=False)
    device = pick_device()
    print(f"digits-classifier: device={device}", file=sys.stderr, flush=True)
    result = predict_plain(weights, images, device)
    with open(os.path.join(outputs, "predictions.json"), "w") as handle:
        json.dump(result, handle, separators=(",", ":"))


if __name__ == "__main__":
    main()
