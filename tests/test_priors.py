"""Learned priors: the mixture of Gaussians and the VampPrior, against their formulas and TFP."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from vae_lib import checkpoints
from vae_lib.config import ConfigError, TrainConfig
from vae_lib.losses import TrainingLoss, elbo_terms
from vae_lib.model import CVAE, model_for
from vae_lib.priors import MixturePrior, StandardNormal, VampPrior, log_normal_pdf

tfd = tfp.distributions
SEED = tf.constant([3, 4], tf.int64)


def mixture(components: int = 3, latent_dim: int = 2) -> MixturePrior:
    """A mixture whose means, variances and weights all differ, as after training."""
    prior = MixturePrior(components, latent_dim, seed=1)
    rng = np.random.default_rng(0)
    prior.logvars.assign(rng.normal(0.0, 0.5, (components, latent_dim)).astype(np.float32))
    prior.weight_logits.assign(rng.normal(0.0, 1.0, components).astype(np.float32))
    return prior


def test_the_mixture_density_is_tfps_mixture_of_diagonal_gaussians() -> None:
    prior = mixture()
    reference = tfd.MixtureSameFamily(
        tfd.Categorical(logits=prior.weight_logits),
        tfd.MultivariateNormalDiag(prior.means, tf.exp(0.5 * prior.logvars)),
    )
    z = tf.random.stateless_normal([5, 7, 2], SEED) * 3.0  # leading axes [k, B], as the bound asks
    np.testing.assert_allclose(prior.log_prob(z), reference.log_prob(z), rtol=1e-5, atol=1e-4)
    # Far from every component the log density stays finite: the sum is taken in log space.
    assert np.isfinite(prior.log_prob(tf.fill([1, 2], 200.0)).numpy()).all()


def test_a_one_component_mixture_at_the_origin_is_the_standard_normal() -> None:
    prior = MixturePrior(1, 3)
    prior.means.assign(tf.zeros([1, 3]))
    z = tf.random.stateless_normal([10, 3], SEED)
    np.testing.assert_allclose(prior.log_prob(z), StandardNormal().log_prob(z), rtol=1e-6)


def test_mixture_samples_follow_the_mixture_and_repeat_with_their_seed() -> None:
    prior = mixture()
    draws = prior.sample(100_000, 2, SEED).numpy()
    weights = tf.nn.softmax(prior.weight_logits).numpy()[:, None]
    means, variances = prior.means.numpy(), np.exp(prior.logvars.numpy())
    mean = (weights * means).sum(0)
    second_moment = (weights * (variances + means**2)).sum(0)
    np.testing.assert_allclose(draws.mean(0), mean, atol=0.02)
    np.testing.assert_allclose((draws**2).mean(0), second_moment, atol=0.05)
    np.testing.assert_array_equal(prior.sample(10, 2, SEED), prior.sample(10, 2, SEED))
    assert not np.array_equal(prior.sample(10, 2, SEED), prior.sample(10, 2, SEED + 1))


def vamp_model(components: int = 4) -> CVAE:
    keras.utils.set_random_seed(2)
    return CVAE(latent_dim=2, filters=(4, 8), prior=VampPrior(components, (28, 28, 1), seed=1))


def test_the_vampprior_is_the_mean_of_the_posteriors_at_its_pseudo_inputs() -> None:
    model = vamp_model()
    pseudo_inputs = tf.clip_by_value(model.prior.pseudo_inputs, 0.0, 1.0)
    means, logvars = model.encode(pseudo_inputs)
    z = tf.random.stateless_normal([6, 2], SEED)
    expected = [
        np.log(np.mean(np.exp(log_normal_pdf(z_i, means, logvars).numpy().astype(np.float64)))) for z_i in z
    ]
    np.testing.assert_allclose(model.prior.log_prob(z), expected, rtol=1e-5)
    # Its samples come from those posteriors: each is within 6σ of one component's mean.
    draws = model.prior.sample(200, 2, SEED).numpy()
    distance = np.abs(draws[:, None, :] - means.numpy()[None]) / np.exp(0.5 * logvars.numpy())[None]
    assert (distance.max(axis=-1).min(axis=-1) < 6.0).all()


def test_a_vampprior_with_no_encoder_says_so() -> None:
    with pytest.raises(ValueError, match="needs the encoder of its model"):
        VampPrior(2, (28, 28, 1)).log_prob(tf.zeros([1, 2]))


def test_the_elbos_gradient_reaches_the_learned_priors_variables() -> None:
    x = tf.cast(tf.random.stateless_uniform([8, 28, 28, 1], SEED) > 0.5, tf.float32)
    for model in (vamp_model(), CVAE(latent_dim=2, filters=(4, 8), prior=mixture(latent_dim=2))):
        with tf.GradientTape() as tape:
            loss = TrainingLoss()(model, x, SEED)
        prior_weights = model.prior.trainable_weights
        trainable = {id(v) for v in model.trainable_weights}
        assert prior_weights and all(id(v) in trainable for v in prior_weights)
        for gradient in tape.gradient(loss, prior_weights):
            assert gradient is not None and float(tf.norm(gradient)) > 0.0


def test_a_learned_prior_is_checkpointed_by_name_and_comes_back(tmp_path: Path) -> None:
    config = TrainConfig(prior="mixture", prior_components=3, precision="float32")
    model = model_for(config)
    assert {n for n in checkpoints.model_variables(model) if n.startswith("prior/")} == {
        "prior/means",
        "prior/logvars",
        "prior/weight_logits",
    }
    model.prior.means.assign(model.prior.means + 1.5)
    checkpoints.save(tmp_path, 1, model, None, [])
    fresh = model_for(config)
    checkpoints.load(checkpoints.kept(tmp_path)[0], fresh)
    np.testing.assert_array_equal(fresh.prior.means.numpy(), model.prior.means.numpy())
    vamp = model_for(TrainConfig(prior="vamp", prior_components=2, precision="float32"))
    assert "prior/pseudo_inputs" in checkpoints.model_variables(vamp)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"prior": "mixture", "kl": "analytic"}, "prior: a mixture prior has no closed-form KL"),
        ({"prior": "vamp", "kl": "analytic", "free_bits": 0.5}, "prior: a vamp prior has no closed-form KL"),
        (
            {"prior": "vamp", "conditional": True},
            "prior: a VampPrior mixes the posteriors of images without",
        ),
        ({"objective": "iwae", "beta": 2.0}, "objective: the iwae bound has no separate KL term"),
        ({"objective": "iwae", "iwae_samples": 0}, "iwae_samples: 0 is not positive"),
    ],
)
def test_settings_a_prior_or_the_iwae_cannot_take_are_named(changes: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        TrainConfig(**changes)


def test_the_iwae_loss_is_below_the_elbos_and_falls_with_k() -> None:
    """−L_k ≤ −L_1 in expectation (Burda et al. 2016, Theorem 1); over 64 images the gap is clear."""
    keras.utils.set_random_seed(4)
    model = CVAE(latent_dim=2, filters=(4, 8))
    x = tf.cast(tf.random.stateless_uniform([64, 28, 28, 1], SEED) > 0.7, tf.float32)
    elbo_loss = -float(tf.reduce_mean(elbo_terms(model, x, SEED).elbo))
    losses = [float(TrainingLoss(iwae_samples=k)(model, x, SEED)) for k in (1, 5, 50)]
    assert losses[0] == pytest.approx(elbo_loss, abs=1.0)  # one sample: the ELBO again, another draw
    assert losses[2] < losses[1] < losses[0] - 0.1
    config = TrainConfig(objective="iwae", iwae_samples=7)
    assert TrainingLoss.of(config).iwae_samples == 7 and TrainingLoss.of(TrainConfig()).iwae_samples == 0
