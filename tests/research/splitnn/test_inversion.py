"""The inversion attack's scoring: a perfect reconstruction and an average guess score apart."""

from __future__ import annotations

import numpy as np
import pytest

from research.splitnn.inversion import class_mean_images, score_reconstructions


def test_reconstruction_scores_perfect_and_average_guesses_apart():
    rng = np.random.default_rng(0)
    truth = rng.uniform(size=(10, 784))
    perfect = score_reconstructions(truth, truth)
    assert perfect.ssim == pytest.approx(1.0) and perfect.psnr == 100.0
    blank = score_reconstructions(truth, np.zeros_like(truth))
    assert blank.ssim < 0.1 and blank.psnr < 10
    means = class_mean_images(truth, np.arange(10))
    assert np.array_equal(means, truth)
