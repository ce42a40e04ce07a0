from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from vae_lib.evaluate import active_units, evaluate, evaluate_iw_bound
from vae_lib.model import CVAE


@pytest.fixture
def model(untrained_model: CVAE) -> CVAE:
    return untrained_model


@pytest.fixture
def x(binary_test_images: np.ndarray) -> np.ndarray:
    return binary_test_images


def test_evaluation_is_reproducible_and_independent_of_batching(model: CVAE, x: np.ndarray) -> None:
    first = evaluate(model, tf.data.Dataset.from_tensor_slices(x).batch(100))
    again = evaluate(model, tf.data.Dataset.from_tensor_slices(x).batch(100))
    assert first == again
    other_batches = evaluate(model, tf.data.Dataset.from_tensor_slices(x).batch(300))
    # Other batches draw other samples; the analytic KL part is exactly the same.
    assert other_batches["test_kl"] == pytest.approx(first["test_kl"], rel=1e-5)
    assert other_batches["test_elbo"] == pytest.approx(first["test_elbo"], abs=1.0)
    assert first["test_elbo"] == pytest.approx(first["test_reconstruction"] - first["test_kl"])


def test_importance_weighted_bound_sits_above_the_elbo(model: CVAE, x: np.ndarray) -> None:
    elbo = evaluate(model, tf.data.Dataset.from_tensor_slices(x).batch(100))["test_elbo"]
    bound = evaluate_iw_bound(model, x, k=20, progress=False)
    assert elbo < bound < 0
    assert evaluate_iw_bound(model, x, k=20, progress=False) == bound


def test_active_units_counts_the_latents_that_move_with_x(x: np.ndarray) -> None:
    model = CVAE(latent_dim=3)
    dense = model.encoder.layers[-1]
    kernel, bias = dense.get_weights()
    kernel[:, :2] = 0.0  # the posterior means of units 0 and 1 no longer depend on x
    kernel[:, 2] *= 50.0  # unit 2 surely does
    dense.set_weights([kernel, bias])
    assert active_units(model, x) == 1
    assert active_units(model, x, threshold=np.inf) == 0
