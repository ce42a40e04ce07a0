"""The densities, the ELBO and the plain importance-weighted bound, against TFP.

The prior (vae_lib.priors) and the likelihood (vae_lib.likelihoods) are tested here
too: the ELBO is what they are for, and a prior the model is given must change it
exactly as its log density says.
"""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from vae_lib import streams
from vae_lib.likelihoods import Bernoulli
from vae_lib.losses import (
    TrainingLoss,
    autoencoder_terms,
    elbo_terms,
    gaussian_kl,
    importance_weighted_bound,
    log_normal_pdf,
    monte_carlo_elbo,
)
from vae_lib.model import CVAE
from vae_lib.priors import StandardNormal

tfd = tfp.distributions
rng = np.random.default_rng(0)
MEAN = rng.normal(size=(4, 3)).astype(np.float32)
LOGVAR = rng.normal(size=(4, 3)).astype(np.float32)
SAMPLE = rng.normal(size=(4, 3)).astype(np.float32)
SEED = tf.constant([5, 6], tf.int64)


def posterior(mean: tf.Tensor, logvar: tf.Tensor) -> tfd.Distribution:
    return tfd.MultivariateNormalDiag(loc=mean, scale_diag=tf.exp(0.5 * logvar))


def likelihood(logits: tf.Tensor) -> tfd.Distribution:
    return tfd.Independent(tfd.Bernoulli(logits=logits), reinterpreted_batch_ndims=3)


PRIOR = tfd.MultivariateNormalDiag(loc=tf.zeros(3))


class ShiftedNormal:
    """A test prior p(z) = N(1, 4 I) with no closed-form KL: another prior is one small
    class.
    """

    def log_prob(self, z: tf.Tensor) -> tf.Tensor:
        return log_normal_pdf(z, 1.0, float(np.log(4.0)))

    def sample(self, n: int, latent_dim: int, seed: tf.Tensor) -> tf.Tensor:
        return 1.0 + 2.0 * streams.normal((n, latent_dim), seed)

    def kl(self, mean: tf.Tensor, logvar: tf.Tensor) -> None:
        return None


@pytest.fixture
def model(untrained_model: CVAE) -> CVAE:
    return untrained_model


@pytest.fixture
def x(binary_test_images: np.ndarray) -> np.ndarray:
    return binary_test_images[:4]


def test_log_normal_pdf_is_the_diagonal_gaussian_log_density() -> None:
    np.testing.assert_allclose(
        log_normal_pdf(SAMPLE, MEAN, LOGVAR),
        posterior(MEAN, LOGVAR).log_prob(SAMPLE),
        rtol=1e-5,
    )
    np.testing.assert_allclose(log_normal_pdf(SAMPLE, 0.0, 0.0), PRIOR.log_prob(SAMPLE), rtol=1e-5)


def test_analytic_kl_is_the_gaussian_kl_divergence() -> None:
    expected = tfd.kl_divergence(posterior(MEAN, LOGVAR), PRIOR)
    np.testing.assert_allclose(gaussian_kl(MEAN, LOGVAR), expected, rtol=1e-5)
    np.testing.assert_allclose(StandardNormal().kl(MEAN, LOGVAR), expected, rtol=1e-5)


def test_standard_normal_prior_is_n_0_i() -> None:
    prior = StandardNormal()
    np.testing.assert_allclose(prior.log_prob(SAMPLE), PRIOR.log_prob(SAMPLE), rtol=1e-5)
    z = prior.sample(20000, 2, tf.constant([1, 2], tf.int64)).numpy()
    assert z.shape == (20000, 2)
    np.testing.assert_allclose(z.mean(axis=0), 0.0, atol=0.03)
    np.testing.assert_allclose(z.std(axis=0), 1.0, atol=0.03)
    np.testing.assert_array_equal(z, prior.sample(20000, 2, tf.constant([1, 2], tf.int64)))


def test_bernoulli_log_likelihood(x: np.ndarray) -> None:
    logits = rng.normal(scale=3.0, size=x.shape).astype(np.float32)
    np.testing.assert_allclose(Bernoulli().log_prob(x, logits), likelihood(logits).log_prob(x), rtol=1e-5)
    np.testing.assert_allclose(Bernoulli().mean(logits), tf.sigmoid(logits), rtol=1e-6)


def test_bernoulli_log_likelihood_survives_extreme_logits(x: np.ndarray) -> None:
    logits = np.where(x > 0.5, 1e4, -1e4).astype(np.float32)
    np.testing.assert_allclose(Bernoulli().log_prob(x, logits), 0.0, atol=1e-6)
    assert np.isfinite(Bernoulli().log_prob(x, -logits)).all()


def test_monte_carlo_elbo_matches_tfp_at_the_same_sample(model: CVAE, x: np.ndarray) -> None:
    mean, logvar = model.encode(x)
    z = model.reparameterize(mean, logvar, SEED)
    expected = (
        likelihood(model.decode(z)).log_prob(x) + PRIOR.log_prob(z) - posterior(mean, logvar).log_prob(z)
    )
    np.testing.assert_allclose(monte_carlo_elbo(model, x, SEED), expected, rtol=1e-5)


def test_analytic_elbo_matches_tfp_and_splits_into_its_terms(model: CVAE, x: np.ndarray) -> None:
    terms = elbo_terms(model, x, SEED, kl="analytic")
    mean, logvar = model.encode(x)
    z = model.reparameterize(mean, logvar, SEED)
    reconstruction = likelihood(model.decode(z)).log_prob(x)
    kl = tfd.kl_divergence(posterior(mean, logvar), PRIOR)
    np.testing.assert_allclose(terms.reconstruction, reconstruction, rtol=1e-5)
    np.testing.assert_allclose(terms.kl, kl, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(terms.elbo, reconstruction - kl, rtol=1e-5)


def test_another_prior_changes_the_monte_carlo_kl_by_its_log_density(model: CVAE, x: np.ndarray) -> None:
    shifted = CVAE(latent_dim=3, prior=ShiftedNormal())
    shifted.set_weights(model.get_weights())  # the same networks: only p(z) differs
    standard = elbo_terms(model, x, SEED, kl="monte_carlo")
    other = elbo_terms(shifted, x, SEED, kl="monte_carlo")
    mean, logvar = model.encode(x)
    z = model.reparameterize(mean, logvar, SEED)
    log_q = posterior(mean, logvar).log_prob(z)
    log_p_new = tfd.MultivariateNormalDiag(loc=tf.ones(3), scale_diag=2.0 * tf.ones(3)).log_prob(z)
    np.testing.assert_allclose(other.kl, log_q - log_p_new, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(other.reconstruction, standard.reconstruction, rtol=1e-6)
    assert np.abs(other.kl - standard.kl).min() > 0.1  # the prior did change the KL
    with pytest.raises(ValueError, match="ShiftedNormal has no closed-form KL: use kl='monte_carlo'"):
        elbo_terms(shifted, x, SEED, kl="analytic")


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
    eps = tf.random.stateless_normal([k, 4, 3], seed)  # the draws the bound makes from this seed
    z = mean + tf.exp(0.5 * logvar) * eps
    logits = tf.reshape(model.decode(tf.reshape(z, [-1, 3])), [k, 4, 28, 28, 1])
    log_w = likelihood(logits).log_prob(x) + PRIOR.log_prob(z) - posterior(mean, logvar).log_prob(z)
    expected = tf.reduce_logsumexp(log_w, axis=0) - np.log(k)
    np.testing.assert_allclose(importance_weighted_bound(model, x, k, seed), expected, rtol=1e-5)


def test_l1_is_the_elbo_in_expectation_and_lk_rises_with_k(model: CVAE, x: np.ndarray) -> None:
    # Posteriors spread by a larger encoder kernel: weights that vary, so that L_k
    # climbs by
    # nats, not by hundredths, from k = 1 to 10 to 100.
    spread = CVAE(latent_dim=3)
    spread.set_weights(model.get_weights())
    dense = spread.encoder.layers[-1]
    kernel, bias = dense.get_weights()
    dense.set_weights([20.0 * kernel, bias])

    def mean_bound(k: int, copies: int) -> float:
        # Each copy of an image draws its own k samples: the mean is over 4·copies
        # estimates.
        many = np.repeat(x, copies, axis=0)
        return float(
            tf.reduce_mean(importance_weighted_bound(spread, many, k, tf.constant([0, k], tf.int64)))
        )

    many = np.repeat(x, 2000, axis=0)
    elbo = float(tf.reduce_mean(monte_carlo_elbo(spread, many, tf.constant([0, 2], tf.int64))))
    l1, l10, l100 = mean_bound(1, 2000), mean_bound(10, 200), mean_bound(100, 20)
    assert l1 == pytest.approx(elbo, abs=0.3)  # standard error of the difference: about 0.08
    assert l1 + 1.0 < l10 < l100 - 0.2  # each difference more than 4 standard errors


def test_importance_weighted_bound_does_not_underflow(model: CVAE, x: np.ndarray) -> None:
    # Log weights near −10⁴ nats: exp() of them is 0 in float32, logsumexp is not.
    bound = importance_weighted_bound(model, 1.0 - x, 50, tf.constant([0, 0], tf.int64))
    assert np.isfinite(bound).all()


def test_elbo_of_a_conditional_model_takes_the_labels(x: np.ndarray) -> None:
    model = CVAE(latent_dim=3, classes=10)
    y = tf.constant([0, 1, 2, 3])
    terms = elbo_terms(model, x, SEED, y=y)
    mean, logvar = model.encode(x, y)
    z = model.reparameterize(mean, logvar, SEED)
    expected = likelihood(model.decode(z, y=y)).log_prob(x)
    np.testing.assert_allclose(terms.reconstruction, expected, rtol=1e-5)
    with pytest.raises(ValueError, match="a model with classes=10 needs a label y"):
        elbo_terms(model, x, SEED)


def test_training_loss_is_the_negative_elbo_with_its_kl_weighted_by_beta(model: CVAE, x: np.ndarray) -> None:
    terms = elbo_terms(model, x, SEED, kl="analytic")
    for beta in (0.0, 1.0, 4.0):
        loss = TrainingLoss(kl="analytic", beta=beta)(model, x, SEED)
        expected = -np.mean(terms.reconstruction) + beta * np.mean(terms.kl)
        np.testing.assert_allclose(loss, expected, rtol=1e-5)
    # A warm-up's step-by-step β overrides the configured one.
    override = TrainingLoss(kl="analytic", beta=4.0)(model, x, SEED, beta=0.5)
    np.testing.assert_allclose(override, -np.mean(terms.reconstruction) + 0.5 * np.mean(terms.kl), rtol=1e-5)
    default = TrainingLoss()(model, x, SEED)
    tutorial = -np.mean(elbo_terms(model, x, SEED, kl="monte_carlo").elbo)
    np.testing.assert_allclose(default, tutorial, rtol=1e-5)


def test_free_bits_clamp_each_dimensions_batch_mean_kl_from_below(model: CVAE, x: np.ndarray) -> None:
    mean, logvar = model.encode(x)
    per_dimension = np.mean(gaussian_kl(mean, logvar, axis=None), axis=0)  # [3]
    np.testing.assert_allclose(per_dimension.sum(), np.mean(gaussian_kl(mean, logvar)), rtol=1e-5)
    reconstruction = elbo_terms(model, x, SEED, kl="analytic").reconstruction
    # λ between the smallest and the largest dimension's KL: only the small ones are lifted to λ.
    free_bits = float(np.sort(per_dimension)[1])
    loss = TrainingLoss(kl="analytic", free_bits=free_bits)(model, x, SEED)
    expected = -np.mean(reconstruction) + np.maximum(per_dimension, free_bits).sum()
    np.testing.assert_allclose(loss, expected, rtol=1e-5)
    assert float(loss) > -np.mean(reconstruction) + per_dimension.sum()
    shifted = CVAE(latent_dim=3, prior=ShiftedNormal())
    with pytest.raises(ValueError, match="per-dimension KL, not ShiftedNormal's"):
        TrainingLoss(kl="analytic", free_bits=0.1)(shifted, x, SEED)


def test_autoencoder_decodes_the_mean_with_no_noise_and_no_kl(model: CVAE, x: np.ndarray) -> None:
    terms = autoencoder_terms(model, x)
    mean, _ = model.encode(x)
    expected = likelihood(model.decode(mean)).log_prob(x)
    np.testing.assert_allclose(terms.reconstruction, expected, rtol=1e-5)
    np.testing.assert_array_equal(terms.kl, np.zeros(len(x)))
    # No noise: any seed gives the same loss.
    loss = TrainingLoss(autoencoder=True)
    assert float(loss(model, x, SEED)) == float(loss(model, x, tf.constant([9, 9], tf.int64)))
    np.testing.assert_allclose(loss(model, x, SEED), -np.mean(expected), rtol=1e-5)


def test_conditional_bound_decodes_each_draw_with_its_images_label(x: np.ndarray) -> None:
    model = CVAE(latent_dim=3, classes=10)
    y = tf.constant([0, 1, 2, 3])
    k = 5
    bound = importance_weighted_bound(model, x, k, SEED, y=y)
    # The same bound image by image, each with its label only: no draw is decoded with another's label.
    mean, logvar = model.encode(x, y)
    eps = tf.random.stateless_normal([k, 4, 3], SEED)
    for b in range(4):
        z = mean[b] + tf.exp(0.5 * logvar[b]) * eps[:, b]
        log_w = (
            likelihood(model.decode(z, y=tf.fill([k], y[b]))).log_prob(x[b])
            + PRIOR.log_prob(z)
            - posterior(mean[b], logvar[b]).log_prob(z)
        )
        np.testing.assert_allclose(bound[b], tf.reduce_logsumexp(log_w) - np.log(k), rtol=1e-5)
