from __future__ import annotations

import numpy as np
import pytest

from vae_lib.data import Mnist, binary_test_images
from vae_lib.evaluate import (
    active_units,
    elbo_per_image,
    estimate_from_subset,
    evaluate,
    evaluate_iw_bound,
    iw_bounds,
    random_subset,
)
from vae_lib.model import CVAE
from vae_lib.run import committed_run


@pytest.fixture
def model(untrained_model: CVAE) -> CVAE:
    return untrained_model


@pytest.fixture
def x(binary_test_images: np.ndarray) -> np.ndarray:
    return binary_test_images


def test_evaluation_is_reproducible_and_independent_of_batching(model: CVAE, x: np.ndarray) -> None:
    first = evaluate(model, x, batch_size=100)
    again = evaluate(model, x, batch_size=100)
    assert first == again
    other_batches = evaluate(model, x, batch_size=300)
    # Other batches draw other samples; the analytic KL part is exactly the same.
    assert other_batches["test_kl"] == pytest.approx(first["test_kl"], rel=1e-5)
    assert other_batches["test_elbo"] == pytest.approx(first["test_elbo"], abs=1.0)
    assert first["test_elbo"] == pytest.approx(first["test_reconstruction"] - first["test_kl"])


def test_importance_weighted_bound_sits_above_the_elbo(model: CVAE, x: np.ndarray) -> None:
    elbo = evaluate(model, x, batch_size=100)["test_elbo"]
    bound = evaluate_iw_bound(model, x, k=20, progress=False)
    assert elbo < bound.mean < 0
    assert (bound.k, bound.images) == (20, len(x))
    assert evaluate_iw_bound(model, x, k=20, progress=False).mean == bound.mean


def test_iw_bound_is_the_mean_of_the_per_image_bounds_with_its_standard_error(
    model: CVAE, x: np.ndarray
) -> None:
    # k not a multiple of the chunk of 100 samples: the last chunk is partial.
    values = iw_bounds(model, x[:40], k=150, batch_size=7, progress=False)
    assert values.shape == (40,) and (values < 0).all()
    bound = evaluate_iw_bound(model, x[:40], k=150, batch_size=7, progress=False)
    assert bound.mean == pytest.approx(values.mean())
    assert bound.stderr == pytest.approx(values.std(ddof=1) / np.sqrt(40)) and bound.stderr > 0
    assert evaluate_iw_bound(model, x[:1], k=5, progress=False).stderr == 0.0


def test_subset_estimate_of_the_whole_mean_is_tighter_than_the_subset_mean(mnist: Mnist) -> None:
    # A trained model: its images' bounds differ as much as real ones do.
    _, model, _ = committed_run("latent50-dynamic").load(precision="float32")
    x = binary_test_images(mnist, "dynamic")[:300]
    bounds = iw_bounds(model, x, k=20, progress=False)
    elbos = elbo_per_image(model, x)[:, 0]
    assert elbos.shape == bounds.shape == (len(x),)
    # Every image in the "subset": the estimate is the mean itself, exactly.
    assert estimate_from_subset(bounds, elbos, elbos)[0] == pytest.approx(bounds.mean())
    chosen = random_subset(len(x), 60)
    estimate, stderr = estimate_from_subset(bounds[chosen], elbos[chosen], elbos)
    subset_stderr = bounds[chosen].std(ddof=1) / np.sqrt(60)
    assert stderr < subset_stderr / 3
    assert abs(estimate - bounds.mean()) < 4 * stderr


def test_random_subset_is_fixed_sorted_and_without_repeats() -> None:
    subset = random_subset(10_000, 1000)
    assert len(set(subset)) == 1000 and list(subset) == sorted(subset)
    np.testing.assert_array_equal(subset, random_subset(10_000, 1000))
    assert len(random_subset(50, 1000)) == 50


def test_active_units_counts_the_latents_that_move_with_x(x: np.ndarray) -> None:
    model = CVAE(latent_dim=3)
    dense = model.encoder.layers[-1]
    kernel, bias = dense.get_weights()
    kernel[:, :2] = 0.0  # the posterior means of units 0 and 1 no longer depend on x
    kernel[:, 2] *= 50.0  # unit 2 surely does
    dense.set_weights([kernel, bias])
    assert active_units(model, x) == 1
    assert active_units(model, x, threshold=np.inf) == 0
