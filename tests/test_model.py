from __future__ import annotations

import warnings

import numpy as np
import pytest
import tensorflow as tf

from vae_lib.model import CVAE


def test_shapes_through_the_model() -> None:
    model = CVAE(latent_dim=3)
    x = tf.zeros([5, 28, 28, 1])
    mean, logvar = model.encode(x)
    assert mean.shape == logvar.shape == (5, 3)
    z = model.reparameterize(mean, logvar)
    assert model.decode(z).shape == (5, 28, 28, 1)
    assert model.sample(7).shape == (7, 28, 28, 1)


def test_parameter_counts_match_the_architecture() -> None:
    model = CVAE(latent_dim=2)
    conv1 = 3 * 3 * 1 * 32 + 32
    conv2 = 3 * 3 * 32 * 64 + 64
    dense_out = 6 * 6 * 64 * 4 + 4  # two 3x3 stride-2 valid convolutions: 28 → 13 → 6
    assert model.encoder.count_params() == conv1 + conv2 + dense_out
    dense_in = 2 * 7 * 7 * 32 + 7 * 7 * 32
    deconv1 = 3 * 3 * 32 * 64 + 64
    deconv2 = 3 * 3 * 64 * 32 + 32
    deconv3 = 3 * 3 * 32 * 1 + 1
    assert model.decoder.count_params() == dense_in + deconv1 + deconv2 + deconv3


def test_residual_blocks_deepen_the_decoder_only() -> None:
    shallow, deep = CVAE(latent_dim=2), CVAE(latent_dim=2, blocks=2)
    assert deep.encoder.count_params() == shallow.encoder.count_params()
    # Two blocks at each of 7×7 (32 channels), 14×14 (64) and 28×28 (32), two 3×3 convolutions each.
    block = {c: 2 * (3 * 3 * c * c + c) for c in (32, 64)}
    added = 2 * (block[32] + block[64] + block[32])
    assert deep.decoder.count_params() == shallow.decoder.count_params() + added
    assert deep.decode(tf.zeros([3, 2])).shape == (3, 28, 28, 1)


def test_building_warns_of_nothing() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        CVAE(latent_dim=2, filters=(16, 32), blocks=1)


def test_samples_are_probabilities() -> None:
    probabilities = CVAE(latent_dim=2).sample(4, seed=1).numpy()
    assert ((probabilities > 0) & (probabilities < 1)).all()


def test_seeded_reparameterization_is_reproducible_and_has_the_right_moments() -> None:
    model = CVAE(latent_dim=2)
    mean = tf.fill([20000, 2], 1.5)
    logvar = tf.fill([20000, 2], np.log(0.25).astype(np.float32))  # σ = 0.5
    seed = tf.constant([3, 4], tf.int64)
    z = model.reparameterize(mean, logvar, seed).numpy()
    np.testing.assert_array_equal(z, model.reparameterize(mean, logvar, seed).numpy())
    np.testing.assert_allclose(z.mean(axis=0), [1.5, 1.5], atol=0.02)
    np.testing.assert_allclose(z.std(axis=0), [0.5, 0.5], atol=0.02)


def test_gradients_reach_mean_and_logvar_through_the_sample() -> None:
    model = CVAE(latent_dim=2)
    mean = tf.Variable([[0.3, -0.2]])
    logvar = tf.Variable([[0.1, 0.5]])
    with tf.GradientTape() as tape:
        z = model.reparameterize(mean, logvar, tf.constant([0, 1], tf.int64))
        loss = tf.reduce_sum(z**2)
    d_mean, d_logvar = tape.gradient(loss, [mean, logvar])
    eps = (z - mean) / tf.exp(0.5 * logvar)
    np.testing.assert_allclose(d_mean, 2 * z, rtol=1e-5)
    np.testing.assert_allclose(d_logvar, 2 * z * eps * 0.5 * tf.exp(0.5 * logvar), rtol=1e-5)


@pytest.mark.parametrize("latent_dim", [0, -1])
def test_bad_latent_size_is_refused(latent_dim: int) -> None:
    with pytest.raises(ValueError, match="latent_dim must be positive"):
        CVAE(latent_dim)
