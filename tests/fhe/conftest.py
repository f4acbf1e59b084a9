"""Shared FHE fixtures: one key session, heads with random weights of the trained scale, digits."""

from __future__ import annotations

import numpy as np
import pytest

from enclava.fhe import DiagonalLayout, KeySession, conv_head, linear_head

LINEAR, CONV = "linear784x128_sq", "conv7x7x4s3_sq"
MANIFEST = {
    "splits": {
        LINEAR: {"kind": "linear", "output_dim": 128, "activation": "square"},
        CONV: {"kind": "conv2d", "output_dim": 256, "stride": 3, "activation": "square"},
    }
}


@pytest.fixture(scope="session")
def session():
    return KeySession.generate()


@pytest.fixture(scope="session")
def heads():
    rng = np.random.default_rng(7)
    lin = linear_head(rng.normal(0, 1 / 28, (128, 784)), rng.normal(0, 0.1, 128))
    conv_w, conv_b = rng.normal(0, 1 / 7, (4, 1, 7, 7)), rng.normal(0, 0.1, 4)
    return {
        LINEAR: lin,
        CONV: conv_head(conv_w, conv_b, 3),
        "conv_arrays": (conv_w, conv_b),
        "linear_arrays": (lin.matrix, lin.bias),
    }


@pytest.fixture(scope="session")
def eval_keys(session):
    return {
        LINEAR: session.evaluation_keys(DiagonalLayout(128).steps),
        CONV: session.evaluation_keys(DiagonalLayout(256).steps),
        "batch": session.evaluation_keys([]),
    }


@pytest.fixture(scope="session")
def digits():
    from research.splitnn.data import digits_28

    x, _ = digits_28("test")
    return x
