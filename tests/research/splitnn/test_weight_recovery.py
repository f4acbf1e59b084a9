"""A customer who sees exact head outputs recovers the head; the enclave's noise and query limit
stop it."""

from __future__ import annotations

import numpy as np
import pytest

from enclava.splitnn import CONV_SPLIT, LINEAR_SPLIT, load_head, load_model
from research.splitnn import (
    QueryBudget,
    QueryLimitExceeded,
    enclave_output_noise,
    recover_head_weights,
)
from research.splitnn.weight_recovery import noise_scale, recovery_error


@pytest.mark.parametrize("split", [LINEAR_SPLIT, CONV_SPLIT])
def test_exact_outputs_give_the_weights_away_from_d_in_plus_one_queries(model_dir, split):
    head = load_head(split, model_dir)
    asked = []

    def oracle(x):
        asked.append(len(x))
        return head.forward(x)

    w_hat, _ = recover_head_weights(oracle, 784)
    assert sum(asked) == 785
    assert recovery_error(head, w_hat) < 1e-6


@pytest.mark.parametrize("step", [1e-4, 1e-2, 1.0])
def test_enclave_noise_makes_the_recovered_weights_useless(model_dir, step):
    head = load_head(LINEAR_SPLIT, model_dir)
    rng = np.random.default_rng(7)

    def noisy_oracle(x):
        return head.forward(x) + enclave_output_noise(
            LINEAR_SPLIT, len(x), model_dir=model_dir, rng=rng
        )

    w_hat, _ = recover_head_weights(noisy_oracle, 784, step=step)
    assert recovery_error(head, w_hat) > 1.0  # error larger than the weights themselves


def test_noise_has_the_calibrated_scale_and_is_fresh_per_call(model_dir):
    head = load_head(LINEAR_SPLIT, model_dir)
    a = enclave_output_noise(LINEAR_SPLIT, 400, model_dir=model_dir)
    b = enclave_output_noise(LINEAR_SPLIT, 400, model_dir=model_dir)
    assert a.shape == (400, 128) and not np.allclose(a, b)
    assert a.std() == pytest.approx(noise_scale(head, 0.5), rel=0.05)
    assert noise_scale(head, 0.5) >= 0.5 * head.activation_rms


def test_query_budget_enforces_the_policy_before_counting(model_dir):
    budget = QueryBudget(load_model(model_dir).policy["max_queries_per_customer"])
    budget.charge("0xabc", budget.limit - 1)
    with pytest.raises(QueryLimitExceeded):
        budget.charge("0xabc", 785)
    assert budget.charge("0xabc", 1) == 0
    assert budget.charge("0xdef", 785) == budget.limit - 785
