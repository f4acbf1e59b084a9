from __future__ import annotations

import numpy as np
import pytest
import torch

from research.splitnn import distance_correlation
from research.splitnn.dcor import distance_correlation_torch


def test_dcor_of_a_sample_with_itself_or_a_similarity_is_one():
    x = np.random.default_rng(0).normal(size=(500, 5))
    assert distance_correlation(x, x) == pytest.approx(1.0)
    assert distance_correlation(x, 3.0 * x[:, ::-1] + 7.0) == pytest.approx(1.0)


def test_dcor_of_independent_samples_is_near_zero_and_of_nonlinear_dependence_is_not():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(500, 5)), rng.normal(size=(500, 5))
    small = distance_correlation(x, y)
    assert small < 0.25  # the V-statistic's finite-sample bias, not dependence: it shrinks with n
    x4, y4 = rng.normal(size=(2000, 5)), rng.normal(size=(2000, 5))
    assert distance_correlation(x4, y4) < small * 0.7
    u = rng.uniform(-1, 1, size=(500, 1))
    assert np.corrcoef(u[:, 0], u[:, 0] ** 2)[0, 1] == pytest.approx(0.0, abs=0.1)
    assert distance_correlation(u, u**2) > 0.4


def test_torch_dcor_matches_numpy():
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(64, 10)), rng.normal(size=(64, 3))
    y[:, 0] += x[:, 0]
    got = float(distance_correlation_torch(torch.as_tensor(x), torch.as_tensor(y)))
    assert got == pytest.approx(distance_correlation(x, y), abs=1e-4)
