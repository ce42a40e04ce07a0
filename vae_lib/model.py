"""The convolutional VAE: a Gaussian encoder q(z|x) and a Bernoulli decoder p(x|z)."""

from __future__ import annotations

from typing import Literal

import keras
import tensorflow as tf

from vae_lib.data import IMAGE_SHAPE

# "mixed_bfloat16" computes in bfloat16 and keeps float32 weights: faster on CPUs with
# AVX512-BF16 or AMX and on recent GPUs and TPUs, with no loss scaling needed.
Precision = Literal["float32", "mixed_bfloat16"]


def build_encoder(
    latent_dim: int, filters: tuple[int, int] = (32, 64), dtype: Precision = "float32"
) -> keras.Sequential:
    """x ``[B, 28, 28, 1]`` → ``[B, 2·latent_dim]``: the mean and log-variance of q(z|x), side by side."""
    return keras.Sequential(
        [
            keras.Input(shape=IMAGE_SHAPE),
            keras.layers.Conv2D(filters[0], 3, strides=2, activation="relu", dtype=dtype),  # → 13×13
            keras.layers.Conv2D(filters[1], 3, strides=2, activation="relu", dtype=dtype),  # → 6×6
            keras.layers.Flatten(dtype=dtype),
            # Linear: a mean and a log-variance may be any real number.
            keras.layers.Dense(2 * latent_dim, dtype=dtype),
        ],
        name="encoder",
    )


class ResidualBlock(keras.layers.Layer):
    """relu(h + conv(relu(conv(h)))): two 3×3 convolutions that keep the shape ``[B, H, W, C]``.

    The skip lets a deeper decoder start out as the shallow one and learn only
    a correction, so it trains as easily (He et al. 2016).
    """

    def __init__(self, channels: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.first = keras.layers.Conv2D(
            channels, 3, padding="same", activation="relu", dtype=self.dtype_policy
        )
        self.second = keras.layers.Conv2D(channels, 3, padding="same", dtype=self.dtype_policy)

    def build(self, input_shape: tuple) -> None:
        self.first.build(input_shape)
        self.second.build(self.first.compute_output_shape(input_shape))

    def call(self, h: tf.Tensor) -> tf.Tensor:
        return tf.nn.relu(h + self.second(self.first(h)))


def build_decoder(
    latent_dim: int, filters: tuple[int, int] = (32, 64), dtype: Precision = "float32", blocks: int = 0
) -> keras.Sequential:
    """z ``[B, latent_dim]`` → Bernoulli logits ``[B, 28, 28, 1]`` of p(x|z).

    ``blocks`` residual blocks follow each of the three resolutions, 7×7, 14×14 and 28×28.
    """

    def refine(channels: int) -> list[keras.layers.Layer]:
        return [ResidualBlock(channels, dtype=dtype) for _ in range(blocks)]

    return keras.Sequential(
        [
            keras.Input(shape=(latent_dim,)),
            keras.layers.Dense(7 * 7 * filters[0], activation="relu", dtype=dtype),
            keras.layers.Reshape((7, 7, filters[0]), dtype=dtype),
            *refine(filters[0]),
            keras.layers.Conv2DTranspose(
                filters[1], 3, strides=2, padding="same", activation="relu", dtype=dtype
            ),
            *refine(filters[1]),
            keras.layers.Conv2DTranspose(
                filters[0], 3, strides=2, padding="same", activation="relu", dtype=dtype
            ),
            *refine(filters[0]),
            # Linear: logits; the loss applies the sigmoid in a numerically stable way.
            keras.layers.Conv2DTranspose(1, 3, strides=1, padding="same", dtype=dtype),
        ],
        name="decoder",
    )


class CVAE(keras.Model):
    """Convolutional variational autoencoder.

    ``filters`` are the channel counts of the two strided convolutions (the
    decoder mirrors them); the tutorial uses ``(32, 64)``. ``blocks`` deepens
    the decoder (:func:`build_decoder`); the tutorial has none. Whatever the
    ``precision``, every method takes and returns float32 tensors, so the loss
    is always computed in float32.
    """

    def __init__(
        self,
        latent_dim: int = 2,
        filters: tuple[int, int] = (32, 64),
        precision: Precision = "float32",
        blocks: int = 0,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        if latent_dim < 1:
            raise ValueError(f"latent_dim must be positive, got {latent_dim}")
        self.latent_dim = latent_dim
        self.filters = tuple(filters)
        self.blocks = blocks
        self.encoder = build_encoder(latent_dim, self.filters, precision)
        self.decoder = build_decoder(latent_dim, self.filters, precision, blocks)
        # Both networks were built from their Input shapes, so every weight already exists.
        self.built = True

    def encode(self, x: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """x ``[B, 28, 28, 1]`` → (mean, logvar), each ``[B, latent_dim]``."""
        mean, logvar = tf.split(tf.cast(self.encoder(x), tf.float32), 2, axis=-1)
        return mean, logvar

    def reparameterize(self, mean: tf.Tensor, logvar: tf.Tensor, seed: tf.Tensor | None = None) -> tf.Tensor:
        """z = mean + σ ⊙ ε with σ = exp(logvar / 2), ε ~ N(0, I), shape of ``mean``.

        With a ``seed`` (int ``[2]``) ε is drawn statelessly, so the same seed
        gives the same z: this is what makes training reproducible.
        """
        shape = tf.shape(mean)
        eps = tf.random.normal(shape) if seed is None else tf.random.stateless_normal(shape, seed)
        return mean + tf.exp(0.5 * logvar) * eps

    def decode(self, z: tf.Tensor, apply_sigmoid: bool = False) -> tf.Tensor:
        """z ``[B, latent_dim]`` → logits ``[B, 28, 28, 1]`` (probabilities with ``apply_sigmoid``)."""
        logits = tf.cast(self.decoder(z), tf.float32)
        return tf.sigmoid(logits) if apply_sigmoid else logits

    def sample(self, n: int = 16, eps: tf.Tensor | None = None, seed: int | None = None) -> tf.Tensor:
        """Pixel probabilities ``[n, 28, 28, 1]`` decoded from z ~ p(z) = N(0, I) (or from ``eps``)."""
        if eps is None:
            shape = (n, self.latent_dim)
            eps = tf.random.normal(shape) if seed is None else tf.random.stateless_normal(shape, [seed, 0])
        return self.decode(eps, apply_sigmoid=True)

    def call(self, x: tf.Tensor) -> tf.Tensor:
        """Reconstruction logits of ``x`` through one posterior sample (lets Keras build the model)."""
        mean, logvar = self.encode(x)
        return self.decode(self.reparameterize(mean, logvar))
