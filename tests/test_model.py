from __future__ import annotations

import warnings

import numpy as np
import pytest
import tensorflow as tf

from vae_lib.config import TrainConfig
from vae_lib.likelihoods import Categorical, DiscretizedLogistic
from vae_lib.model import CVAE, model_for


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


def test_building_warns_of_nothing() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        CVAE(latent_dim=2, filters=(16, 32))


def test_samples_are_probabilities_and_their_seed_names_them() -> None:
    model = CVAE(latent_dim=2)
    probabilities = model.sample(4).numpy()
    assert ((probabilities > 0) & (probabilities < 1)).all()
    np.testing.assert_array_equal(model.sample(4), probabilities)  # deterministic by default
    assert not np.array_equal(model.sample(4, seed=1), probabilities)


def test_mixed_precision_computes_in_bfloat16_and_returns_float32() -> None:
    model = CVAE(latent_dim=2, precision="mixed_bfloat16")
    assert model.encoder.layers[0].compute_dtype == "bfloat16"
    assert model.encoder.layers[0].kernel.dtype == "float32"
    mean, logvar = model.encode(tf.zeros([2, 28, 28, 1]))
    assert mean.dtype == logvar.dtype == model.decode(mean).dtype == tf.float32
    assert CVAE(latent_dim=2).encoder.layers[0].compute_dtype == "float32"  # the policy was restored


def test_conditional_model_takes_labels_and_refuses_a_missing_one() -> None:
    model = CVAE(latent_dim=2, classes=10)
    x, y = tf.zeros([3, 28, 28, 1]), tf.constant([0, 4, 9])
    assert model.encoder.input_shape == (
        None,
        28,
        28,
        11,
    )  # the image and one plane per class
    assert model.decoder.input_shape == (None, 12)
    mean, _ = model.encode(x, y)
    assert mean.shape == (3, 2)
    decoded = model.decode(mean, y=y)
    assert decoded.shape == (3, 28, 28, 1)
    assert not np.array_equal(model.decode(mean, y=tf.constant([1, 4, 9]))[0], decoded[0])  # y matters
    assert model.sample(3, y=y).shape == (3, 28, 28, 1)
    with pytest.raises(ValueError, match="a model with classes=10 needs a label y"):
        model.encode(x)
    with pytest.raises(ValueError, match="a model with classes=10 needs a label y"):
        model.decode(mean)
    with pytest.raises(ValueError, match="a model with classes=0 needs no label y"):
        CVAE(latent_dim=2).encode(x, y)


def test_reconstruction_and_interpolation_decode_posterior_means(
    binary_test_images: np.ndarray,
) -> None:
    model = CVAE(latent_dim=2)
    a, b = binary_test_images[:2]
    means, _ = model.encode(np.stack([a, b]))
    reconstructions = model.reconstruct(np.stack([a, b]))
    np.testing.assert_allclose(reconstructions, model.decode(means, apply_sigmoid=True), atol=1e-6)
    path = model.interpolate(a, b, steps=6)
    assert path.shape == (6, 28, 28, 1)
    np.testing.assert_allclose(path[[0, -1]], reconstructions, atol=1e-6)
    midpoint = model.decode((means[:1] + means[1:]) / 2, apply_sigmoid=True)
    np.testing.assert_allclose(model.interpolate(a, b, steps=3)[1:2], midpoint, atol=1e-6)


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


def test_colour_images_of_32_pixels_with_an_eight_bit_likelihood() -> None:
    model = CVAE(latent_dim=4, likelihood=DiscretizedLogistic(), image_shape=(32, 32, 3))
    x = tf.zeros([5, 32, 32, 3])
    mean, _ = model.encode(x)
    assert mean.shape == (5, 4)
    assert model.decode(mean).shape == (5, 32, 32, 6)  # a centre and a log-scale per channel
    assert model.sample(2).shape == (2, 32, 32, 3)
    assert model.encoder.layers[-1].input.shape[-1] == 7 * 7 * 64  # 32 → 15 → 7
    with pytest.raises(ValueError, match="multiples of 4, got 30×32"):
        CVAE(image_shape=(30, 32, 3))


def test_a_run_builds_the_model_its_config_names() -> None:
    config = TrainConfig(dataset="cifar10", binarization="none", likelihood="categorical", conditional=True)
    model = model_for(config)
    assert isinstance(model.likelihood, Categorical) and model.classes == 10
    assert model.image_shape == (32, 32, 3) and model_for(TrainConfig()).image_shape == (28, 28, 1)


def test_the_hidden_layers_take_the_configured_activation() -> None:
    def hidden(model: CVAE) -> set[str]:
        layers = [*model.encoder.layers, *model.decoder.layers]
        return {layer.activation.__name__ for layer in layers if hasattr(layer, "activation")}

    # The two output layers stay linear (means, log-variances, logits); the others change.
    assert hidden(model_for(TrainConfig())) == {"relu", "linear"}
    elu = model_for(TrainConfig(activation="elu"))
    assert hidden(elu) == {"elu", "linear"}
    x = tf.random.stateless_uniform([4, 28, 28, 1], seed=[0, 1])
    relu = model_for(TrainConfig())
    relu.set_weights(elu.get_weights())  # same weights: only the nonlinearity differs
    assert not np.allclose(relu.encode(x)[0], elu.encode(x)[0])
