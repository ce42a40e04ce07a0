"""The exact posterior on a grid and the inference gaps, checked where the answer is known."""

from __future__ import annotations

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from vae_lib import posterior
from vae_lib.evaluate import iw_bounds
from vae_lib.model import CVAE
from vae_lib.priors import StandardNormal, log_normal_pdf

NOISE_VARIANCE = 0.5
CODES = np.array([[0.3, -1.2], [2.0, 1.0]], np.float32)  # the toy model's "images" x, [2, 2]


class GaussianNoise:
    """A likelihood x | z ~ N(z, NOISE_VARIANCE · I) of 2-D points, in place of a decoder's images."""

    def log_prob(self, x: tf.Tensor, outputs: tf.Tensor) -> tf.Tensor:
        return log_normal_pdf(x, outputs, math.log(NOISE_VARIANCE))


class LinearGaussianModel:
    """z ~ N(0, I), x | z ~ N(z, s² I), so that everything is known in closed form.

    p(x) = N(0, (1 + s²) I) and p(z | x) = N(x / (1 + s²), s² / (1 + s²) I).
    """

    latent_dim = 2
    prior = StandardNormal()
    likelihood = GaussianNoise()

    def decode(self, z: tf.Tensor) -> tf.Tensor:
        return z


POSTERIOR_MEAN = CODES / (1 + NOISE_VARIANCE)
POSTERIOR_LOGVAR = np.full_like(CODES, math.log(NOISE_VARIANCE / (1 + NOISE_VARIANCE)))
LOG_EVIDENCE = log_normal_pdf(CODES, 0.0, math.log(1 + NOISE_VARIANCE)).numpy()


@pytest.fixture(scope="module")
def toy_grid() -> posterior.LatentGrid:
    return posterior.latent_grid(extent=6.0, n=200)


@pytest.fixture(scope="module")
def toy_log_joint(toy_grid: posterior.LatentGrid) -> tf.Tensor:
    return posterior.log_joint_on_grid(LinearGaussianModel(), CODES, toy_grid, chunk_size=1000)


def test_latent_grid_tiles_the_square_around_its_centre() -> None:
    grid = posterior.latent_grid(extent=2.0, n=4, centre=(1.0, 0.0))
    np.testing.assert_allclose(grid.z1, [-0.5, 0.5, 1.5, 2.5])
    np.testing.assert_allclose(grid.z2, [-1.5, -0.5, 0.5, 1.5])
    assert grid.cell_area == pytest.approx(1.0)
    assert grid.z.shape == (16, 2)
    z = grid.z.numpy()
    # as_image puts z₁ along the columns and z₂ along the rows, as contour plots want them.
    np.testing.assert_allclose(grid.as_image(z[:, 0]), np.tile(grid.z1, (4, 1)))
    np.testing.assert_allclose(grid.as_image(z[:, 1]), np.tile(grid.z2[:, None], (1, 4)))


def test_grid_log_marginal_of_a_gaussian_model_is_its_exact_evidence(
    toy_grid: posterior.LatentGrid, toy_log_joint: tf.Tensor
) -> None:
    assert toy_log_joint.shape == (2, 200 * 200)
    log_marginal = posterior.grid_log_marginal(toy_log_joint, toy_grid).numpy()
    np.testing.assert_allclose(log_marginal, LOG_EVIDENCE, atol=1e-3)


def test_grid_posterior_sums_to_one_with_the_exact_posterior_moments(
    toy_grid: posterior.LatentGrid, toy_log_joint: tf.Tensor
) -> None:
    probabilities = posterior.grid_posterior(toy_log_joint).numpy().astype(np.float64)
    np.testing.assert_allclose(probabilities.sum(axis=-1), 1.0, atol=1e-5)
    mean, covariance = posterior.posterior_moments(toy_log_joint, toy_grid)
    np.testing.assert_allclose(mean, POSTERIOR_MEAN, atol=1e-3)
    exact = np.stack([np.diag(v) for v in np.exp(POSTERIOR_LOGVAR)])
    np.testing.assert_allclose(covariance, exact, atol=2e-3)


def test_gaussian_elbo_is_the_evidence_minus_the_kl_to_the_posterior(
    toy_grid: posterior.LatentGrid, toy_log_joint: tf.Tensor
) -> None:
    exact = posterior.gaussian_elbo(toy_log_joint, toy_grid, POSTERIOR_MEAN, POSTERIOR_LOGVAR).numpy()
    np.testing.assert_allclose(exact, LOG_EVIDENCE, atol=1e-3)
    # Another Gaussian falls short by its KL to the posterior, in closed form for two Gaussians.
    mean, logvar = POSTERIOR_MEAN + 0.4, POSTERIOR_LOGVAR - 1.0
    ratio = np.exp(logvar - POSTERIOR_LOGVAR)
    kl = 0.5 * (ratio + (mean - POSTERIOR_MEAN) ** 2 / np.exp(POSTERIOR_LOGVAR) - 1 - np.log(ratio)).sum(-1)
    elbo = posterior.gaussian_elbo(toy_log_joint, toy_grid, mean, logvar).numpy()
    np.testing.assert_allclose(LOG_EVIDENCE - elbo, kl, atol=2e-3)


def test_optimal_gaussian_finds_a_gaussian_posterior(
    toy_grid: posterior.LatentGrid, toy_log_joint: tf.Tensor
) -> None:
    start = np.zeros_like(CODES)
    start_elbo = posterior.gaussian_elbo(toy_log_joint, toy_grid, start, start).numpy()
    mean, logvar, elbo = posterior.optimal_gaussian(
        toy_log_joint, toy_grid, start, start, steps=400, learning_rate=0.05
    )
    np.testing.assert_allclose(mean.numpy(), POSTERIOR_MEAN, atol=0.02)
    np.testing.assert_allclose(logvar.numpy(), POSTERIOR_LOGVAR, atol=0.05)
    np.testing.assert_allclose(elbo.numpy(), LOG_EVIDENCE, atol=0.01)
    assert np.all(start_elbo < LOG_EVIDENCE - 0.1), "the test must start from a Gaussian with a gap"


def test_on_a_cvae_the_grid_agrees_with_a_large_k_bound_and_bounds_the_gaussians(
    binary_test_images: np.ndarray,
) -> None:
    keras.utils.set_random_seed(2)
    model = CVAE(latent_dim=2)
    images = binary_test_images[:2]
    grid = posterior.latent_grid(extent=5.0, n=50)
    log_joint = posterior.log_joint_on_grid(model, images, grid)
    log_marginal = posterior.grid_log_marginal(log_joint, grid).numpy()
    bound = iw_bounds(model, images, k=1000, progress=False)
    np.testing.assert_allclose(bound, log_marginal, atol=0.05)
    # Other images on another grid reuse the compiled scorer instead of tracing a new one.
    posterior.log_joint_on_grid(model, images[:1], posterior.latent_grid(extent=1.0, n=7))
    assert posterior._joint_scorer(model).experimental_get_tracing_count() == 1

    mean, logvar = model.encode(images)
    encoder_elbo = posterior.gaussian_elbo(log_joint, grid, mean, logvar).numpy()
    *_, best_elbo = posterior.optimal_gaussian(log_joint, grid, mean, logvar, steps=100, learning_rate=0.05)
    best_elbo = best_elbo.numpy()
    assert np.all(best_elbo >= encoder_elbo), (best_elbo, encoder_elbo)
    assert np.all(best_elbo <= log_marginal + 1e-3), (best_elbo, log_marginal)
    assert np.all(encoder_elbo < log_marginal - 1e-3), "an untrained encoder should leave a gap"


def test_bad_inputs_are_refused_by_name(untrained_model: CVAE, toy_grid: posterior.LatentGrid) -> None:
    with pytest.raises(ValueError, match="at least one cell per side, got n=0"):
        posterior.latent_grid(extent=4.0, n=0)
    with pytest.raises(ValueError, match="extent must be positive, got -1"):
        posterior.latent_grid(extent=-1.0, n=10)
    with pytest.raises(ValueError, match="2 latent dimensions; the model has 3"):
        posterior.log_joint_on_grid(untrained_model, np.zeros((1, 28, 28, 1), np.float32), toy_grid)
    with pytest.raises(ValueError, match="chunk_size must be positive"):
        posterior.log_joint_on_grid(LinearGaussianModel(), CODES, toy_grid, chunk_size=0)
    small = posterior.latent_grid(extent=1.0, n=3)
    with pytest.raises(ValueError, match="40000 values per image for a grid of 9 cells"):
        posterior.gaussian_elbo(tf.zeros([2, 40000]), small, CODES, CODES)
    with pytest.raises(ValueError, match="steps must be 0 or more, got -1"):
        posterior.optimal_gaussian(tf.zeros([2, 9]), small, CODES, CODES, steps=-1)
