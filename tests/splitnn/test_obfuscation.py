from __future__ import annotations

import numpy as np
import pytest
import torch

from enclava.splitnn import ModelFormatError, Obfuscation


def test_gaussian_noise_is_relative_to_the_activation_scale():
    z = np.zeros((2000, 16))
    out = Obfuscation("gaussian", 0.5).apply(z, rms=4.0, rng=np.random.default_rng(0))
    assert out.std() == pytest.approx(2.0, rel=0.03)


def test_dropout_zeroes_the_declared_fraction_and_quantize_rounds_to_steps():
    z = np.ones((1000, 32))
    dropped = Obfuscation("dropout", 0.25).apply(z, rms=1.0, rng=np.random.default_rng(0))
    assert np.mean(dropped == 0) == pytest.approx(0.25, abs=0.01)
    q = Obfuscation("quantize", 0.5).apply(np.array([[0.2, 0.3, 1.1]]), rms=2.0)
    assert q.tolist() == [[0.0, 0.0, 1.0]]


def test_torch_noise_follows_the_batch_scale_so_growing_outputs_does_not_help():
    gen = torch.Generator().manual_seed(0)
    z = torch.full((500, 8), 10.0)
    noisy = Obfuscation("gaussian", 1.0).apply_torch(z, gen)
    assert float((noisy - z).std()) == pytest.approx(10.0, rel=0.05)


def test_bad_settings_are_typed_errors():
    for bad in (
        {"kind": "rot13"},
        {"kind": "dropout", "amount": 1.0},
        {"kind": "gaussian", "amount": -1},
        {"amount": 1.0},
    ):
        with pytest.raises(ModelFormatError):
            Obfuscation.from_dict(bad)
    assert Obfuscation.from_dict(Obfuscation("gaussian", 2.0).to_dict()) == Obfuscation(
        "gaussian", 2.0
    )
