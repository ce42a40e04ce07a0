"""Each bound against TensorFlow Probability's distributions, on fixed inputs."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from vae_lib.losses import (
    bernoulli_log_likelihood,
    elbo_terms,
    gaussian_kl,
    importance_weighted_bound,
    log_normal_pdf,
    monte_carlo_elbo,
)
from vae_lib.model import CVAE

tfd = tfp.distributions
rng = np.random.default_rng(0)
MEAN = rng.normal(size=(4, 3)).astype(np.float32)
LOGVAR = rng.normal(size=(4, 3)).astype(np.float32)
SAMPLE = rng.normal(size=(4, 3)).astype(np.float32)


def posterior(mean: tf.Tensor, logvar: tf.Tensor) -> tfd.Distribution:
    return tfd.MultivariateNormalDiag(loc=mean, scale_diag=tf.exp(0.5 * logvar))


def likelihood(logits: tf.Tensor) -> tfd.Distribution:
    return tfd.Independent(tfd.Bernoulli(logits=logits), reinterpreted_batch_ndims=3)


PRIOR = tfd.MultivariateNormalDiag(loc=tf.zeros(3))


@pytest.fixture
def model(untrained_model: CVAE) -> CVAE:
    return untrained_model


@pytest.fixture
def x(binary_test_images: np.ndarray) -> np.ndarray:
    return binary_test_images[:4]


def test_log_normal_pdf_is_the_diagonal_gaussian_log_density() -> None:
    np.testing.assert_allclose(
        log_normal_pdf(SAMPLE, MEAN, LOGVAR), posterior(MEAN, LOGVAR).log_prob(SAMPLE), rtol=1e-5
    )
    np.testing.assert_allclose(log_normal_pdf(SAMPLE, 0.0, 0.0), PRIOR.log_prob(SAMPLE), rtol=1e-5)


def test_bernoulli_log_likelihood(x: np.ndarray) -> None:
    logits = rng.normal(scale=3.0, size=x.shape).astype(np.float32)
    np.testing.assert_allclose(bernoulli_log_likelihood(x, logits), likelihood(logits).log_prob(x), rtol=1e-5)


def test_bernoulli_log_likelihood_survives_extreme_logits(x: np.ndarray) -> None:
    logits = np.where(x > 0.5, 1e4, -1e4).astype(np.float32)
    np.testing.assert_allclose(bernoulli_log_likelihood(x, logits), 0.0, atol=1e-6)
    assert np.isfinite(bernoulli_log_likelihood(x, -logits)).all()


def test_analytic_kl_is_the_gaussian_kl_divergence() -> None:
    np.testing.assert_allclose(
        gaussian_kl(MEAN, LOGVAR), tfd.kl_divergence(posterior(MEAN, LOGVAR), PRIOR), rtol=1e-5
    )


def test_monte_carlo_elbo_matches_tfp_at_the_same_sample(model: CVAE, x: np.ndarray) -> None:
    seed = tf.constant([5, 6], tf.int64)
    mean, logvar = model.encode(x)
    z = model.reparameterize(mean, logvar, seed)
    expected = (
        likelihood(model.decode(z)).log_prob(x) + PRIOR.log_prob(z) - posterior(mean, logvar).log_prob(z)
    )
    np.testing.assert_allclose(monte_carlo_elbo(model, x, seed), expected, rtol=1e-5)


def test_analytic_elbo_matches_tfp_and_splits_into_its_terms(model: CVAE, x: np.ndarray) -> None:
    seed = tf.constant([5, 6], tf.int64)
    terms = elbo_terms(model, x, seed, kl="analytic")
    mean, logvar = model.encode(x)
    z = model.reparameterize(mean, logvar, seed)
    reconstruction = likelihood(model.decode(z)).log_prob(x)
    kl = tfd.kl_divergence(posterior(mean, logvar), PRIOR)
    np.testing.assert_allclose(terms.reconstruction, reconstruction, rtol=1e-5)
    np.testing.assert_allclose(terms.kl, kl, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(terms.elbo, reconstruction - kl, rtol=1e-5)


def test_both_kl_estimators_agree_in_expectation(model: CVAE, x: np.ndarray) -> None:
    many = np.repeat(x, 1000, axis=0)  # 1,000 posterior samples of each image in one batch

    def mean_elbo(kl: str) -> float:
        return float(tf.reduce_mean(elbo_terms(model, many, tf.constant([0, 0], tf.int64), kl=kl).elbo))

    assert mean_elbo("monte_carlo") == pytest.approx(mean_elbo("analytic"), abs=0.1)


def test_unknown_kl_estimator_is_refused(model: CVAE, x: np.ndarray) -> None:
    with pytest.raises(ValueError, match="kl must be 'analytic' or 'monte_carlo'"):
        elbo_terms(model, x, kl="exact")


def test_importance_weighted_bound_matches_tfp(model: CVAE, x: np.ndarray) -> None:
    k, seed = 7, tf.constant([8, 9], tf.int64)
    mean, logvar = model.encode(x)
    # The same draws as the bound makes: one chunk (k < chunk_size), seeded by fold_in(seed, 0).
    eps = tf.random.stateless_normal([k, 4, 3], tf.random.experimental.stateless_fold_in(seed, 0))
    q = posterior(mean, logvar)
    z = mean + tf.exp(0.5 * logvar) * eps
    logits = tf.reshape(model.decode(tf.reshape(z, [-1, 3])), [k, 4, 28, 28, 1])
    log_w = likelihood(logits).log_prob(x) + PRIOR.log_prob(z) - q.log_prob(z)
    expected = tf.reduce_logsumexp(log_w, axis=0) - np.log(k)
    np.testing.assert_allclose(importance_weighted_bound(model, x, k, seed), expected, rtol=1e-5)


def test_importance_weighted_bound_is_the_same_in_any_chunking(model: CVAE, x: np.ndarray) -> None:
    seed = tf.constant([1, 1], tf.int64)
    whole = importance_weighted_bound(model, x, 10, seed, chunk_size=10)
    assert np.isfinite(whole).all()
    chunked = importance_weighted_bound(model, x, 10, seed, chunk_size=3)
    # Different chunks draw different samples, but both are estimates of the same L_10.
    np.testing.assert_allclose(chunked, whole, atol=5.0)


def test_l1_is_the_elbo_in_expectation_and_lk_rises_with_k(model: CVAE, x: np.ndarray) -> None:
    def mean_bound(k: int, repeats: int) -> float:
        seeds = [tf.constant([s, 1], tf.int64) for s in range(repeats)]
        return float(np.mean([importance_weighted_bound(model, x, k, s).numpy() for s in seeds]))

    many = np.repeat(x, 1000, axis=0)
    elbo = float(tf.reduce_mean(monte_carlo_elbo(model, many, tf.constant([0, 2], tf.int64))))
    l1 = float(tf.reduce_mean(importance_weighted_bound(model, many, 1, tf.constant([0, 3], tf.int64))))
    l10, l100 = mean_bound(10, 20), mean_bound(100, 4)
    assert l1 == pytest.approx(elbo, abs=0.3)
    assert l1 < l10 < l100


def test_importance_weighted_bound_does_not_underflow(model: CVAE, x: np.ndarray) -> None:
    # Log weights near −10⁴ nats: exp() of them is 0 in float32, logsumexp is not.
    bound = importance_weighted_bound(model, 1.0 - x, 50, tf.constant([0, 0], tf.int64))
    assert np.isfinite(bound).all()


def test_bound_needs_a_positive_sample_count(model: CVAE, x: np.ndarray) -> None:
    with pytest.raises(ValueError, match="k must be positive"):
        importance_weighted_bound(model, x, 0)
