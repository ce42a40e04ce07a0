"""Evaluation: per-image figures that do not depend on batching, the chunked bound, its
summary.
"""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from vae_lib import streams
from vae_lib.data import LabelledImages, binary_test_images
from vae_lib.evaluate import (
    active_units,
    bound_summary,
    elbo_per_image,
    evaluate,
    iw_bounds,
    posterior_means,
    random_subset,
    stderr,
)
from vae_lib.losses import importance_weighted_bound
from vae_lib.model import CVAE
from vae_lib.run import committed_run


@pytest.fixture
def model(untrained_model: CVAE) -> CVAE:
    return untrained_model


@pytest.fixture
def x(binary_test_images: np.ndarray) -> np.ndarray:
    return binary_test_images


def plain_bounds(model: CVAE, images: np.ndarray, k: int, seed: int = 0) -> np.ndarray:
    """L_k of each image by the plain form, one image at a time, with evaluation's ε.

    Image i's k draws come from its own seed (seed, EVALUATION, i);
    ``stateless_normal`` of shape ``[k, 1, D]`` from that seed gives the same numbers
    as the ``[k, D]`` that ``iw_bounds`` draws.
    """
    return np.array(
        [
            importance_weighted_bound(
                model,
                images[i : i + 1],
                k,
                streams.tf_seed(seed, streams.Stream.EVALUATION, i),
            )[0]
            for i in range(len(images))
        ],
        np.float64,
    )


def test_elbo_per_image_is_reproducible_and_independent_of_batching(model: CVAE, x: np.ndarray) -> None:
    first = elbo_per_image(model, x[:40], batch_size=7)
    assert first.shape == (40, 3)
    np.testing.assert_array_equal(first, elbo_per_image(model, x[:40], batch_size=7))
    # Image i's ε comes from its index, not its batch: the same figures to float
    # precision.
    np.testing.assert_allclose(elbo_per_image(model, x[:40], batch_size=3), first, rtol=0, atol=1e-4)
    np.testing.assert_allclose(first[:, 0], first[:, 1] - first[:, 2], rtol=1e-6)
    assert not np.array_equal(elbo_per_image(model, x[:40], batch_size=7, seed=1)[:, 1], first[:, 1])


def test_evaluate_reports_the_means_per_image(model: CVAE, x: np.ndarray) -> None:
    figures = evaluate(model, x, batch_size=100)
    means = elbo_per_image(model, x, batch_size=100).mean(axis=0)
    assert list(figures) == ["test_elbo", "test_reconstruction", "test_kl"]
    np.testing.assert_allclose(list(figures.values()), means, rtol=1e-12)
    assert figures["test_elbo"] == pytest.approx(figures["test_reconstruction"] - figures["test_kl"])


@pytest.mark.parametrize(("k", "chunk_size"), [(50, 7), (50, 25), (50, 100), (13, 1)])
def test_chunked_bound_is_the_plain_bound(model: CVAE, x: np.ndarray, k: int, chunk_size: int) -> None:
    # chunk_size < k: several chunks, the last one partial unless it divides k.
    plain = plain_bounds(model, x[:9], k)
    assert (plain < -100).all()  # hundreds of nats: atol 1e-4 is float32 precision
    for batch_size in (2, 7):
        chunked = iw_bounds(
            model,
            x[:9],
            k,
            batch_size=batch_size,
            chunk_size=chunk_size,
            progress=False,
        )
        np.testing.assert_allclose(chunked, plain, rtol=0, atol=1e-4)


def test_chunked_bound_changes_with_its_seed_and_refuses_no_samples(model: CVAE, x: np.ndarray) -> None:
    bounds = iw_bounds(model, x[:5], 20, progress=False)
    assert not np.array_equal(iw_bounds(model, x[:5], 20, seed=1, progress=False), bounds)
    with pytest.raises(ValueError, match="k must be positive, got 0"):
        iw_bounds(model, x[:5], 0, progress=False)


def test_bound_sits_above_the_elbo(model: CVAE, x: np.ndarray) -> None:
    summary = bound_summary(model, x[:60], k=20, n=60, progress=False)
    assert summary.elbo < summary.mean < 0
    assert (summary.k, summary.images, summary.total, summary.subset_seed) == (
        20,
        60,
        60,
        None,
    )
    assert bound_summary(model, x[:60], k=20, n=60, progress=False).mean == summary.mean


def test_summary_of_all_images_is_their_mean_with_its_standard_error(model: CVAE, x: np.ndarray) -> None:
    values = iw_bounds(model, x[:20], k=150, progress=False)  # 150: a partial last chunk of 100
    summary = bound_summary(model, x[:20], k=150, n=20, progress=False)
    assert summary.mean == pytest.approx(values.mean())
    assert summary.stderr == pytest.approx(values.std(ddof=1) / np.sqrt(20)) and summary.stderr > 0
    assert summary.estimate == pytest.approx(summary.mean)  # all bounded: nothing to estimate
    assert summary.elbo == pytest.approx(elbo_per_image(model, x[:20])[:, 0].mean())
    assert stderr(values[:1]) == 0.0


def test_subset_estimate_of_the_whole_mean_is_tighter_than_the_subset_mean(
    mnist: LabelledImages,
) -> None:
    # A trained model: its images' bounds differ as much as real ones do.
    _, model, _ = committed_run("latent50-dynamic").load()
    x = binary_test_images(mnist, "dynamic")[:300]
    bounds = iw_bounds(model, x, k=20, progress=False)
    elbos = elbo_per_image(model, x)[:, 0]
    summary = bound_summary(model, x, k=20, n=60, elbos=elbos, progress=False)
    chosen = random_subset(len(x), 60)
    assert (summary.images, summary.total, summary.subset_seed) == (60, 300, 5000)
    # An image of the subset draws the noise it draws in the whole set: the same bound.
    assert summary.mean == pytest.approx(bounds[chosen].mean(), abs=1e-4)
    assert summary.elbo == pytest.approx(elbos[chosen].mean())
    assert summary.estimate_stderr < summary.stderr / 3
    assert abs(summary.estimate - bounds.mean()) < 4 * summary.estimate_stderr


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


def test_one_images_draws_match_the_plain_seed() -> None:
    # What plain_bounds relies on: [k, 1, D] and [k, D] from one seed are the same
    # numbers.
    seed = streams.tf_seed(0, streams.Stream.EVALUATION, 3)
    wide = tf.random.stateless_normal([11, 1, 4], seed)[:, 0]
    np.testing.assert_array_equal(wide, streams.normal(tf.constant([1, 11, 4]), seed[None])[0])


def test_conditional_model_is_evaluated_given_the_labels(x: np.ndarray) -> None:
    model = CVAE(latent_dim=3, classes=10)
    labels = np.arange(len(x)) % 10
    with pytest.raises(ValueError, match="given the images' labels"):
        elbo_per_image(model, x)
    with pytest.raises(ValueError, match="given the images' labels"):
        iw_bounds(model, x[:3], 2, progress=False)
    given = elbo_per_image(model, x, labels=labels)
    # Other labels, other figures: the labels reach both networks.
    assert not np.allclose(given, elbo_per_image(model, x, labels=(labels + 1) % 10))
    bounds = iw_bounds(model, x[:6], 3, batch_size=4, progress=False, labels=labels[:6])
    plain = [
        importance_weighted_bound(
            model, x[i : i + 1], 3, streams.tf_seed(0, streams.Stream.EVALUATION, i), y=labels[i : i + 1]
        )[0]
        for i in range(6)
    ]
    np.testing.assert_allclose(bounds, plain, rtol=1e-5)
    assert posterior_means(model, x, batch_size=7, labels=labels).shape == (len(x), 3)


def test_autoencoder_objective_is_the_reconstruction_of_the_mean(model: CVAE, x: np.ndarray) -> None:
    rows = elbo_per_image(model, x[:8], objective="autoencoder")
    np.testing.assert_array_equal(rows[:, 0], rows[:, 1])
    np.testing.assert_array_equal(rows[:, 2], 0.0)
    at_the_mean = model.decode(model.encode(x[:8])[0])
    np.testing.assert_allclose(rows[:, 1], model.likelihood.log_prob(x[:8], at_the_mean), rtol=1e-5)
