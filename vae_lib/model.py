"""The convolutional VAE: a Gaussian encoder q(z|x), a decoder, a prior p(z) and a likelihood p(x|z).

The networks are the tutorial's. The prior (:mod:`vae_lib.priors`) and the likelihood
(:mod:`vae_lib.likelihoods`) are parts the model holds, N(0, I) and Bernoulli unless
another is given; a model with ``classes`` is conditioned on a label y, which both
networks are shown as a one-hot vector.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Literal

import keras
import numpy as np
import tensorflow as tf

from vae_lib import streams
from vae_lib.config import Activation, TrainConfig
from vae_lib.data import DATASETS, IMAGE_SHAPE
from vae_lib.likelihoods import LIKELIHOODS, Bernoulli, Likelihood
from vae_lib.priors import PRIORS, Prior, StandardNormal

# "mixed_bfloat16" computes in bfloat16 and keeps float32 weights: faster where the hardware
# has bfloat16 units (vae_lib.hardware decides), with no loss scaling needed.
Precision = Literal["float32", "mixed_bfloat16"]


def build_encoder(
    latent_dim: int,
    filters: tuple[int, int] = (32, 64),
    input_shape: tuple[int, int, int] = IMAGE_SHAPE,
    activation: Activation = "relu",
) -> keras.Sequential:
    """x ``[B, 28, 28, 1]`` (``input_shape``) → ``[B, 2·latent_dim]``: the mean and log-variance of q(z|x)."""
    return keras.Sequential(
        [
            keras.Input(shape=input_shape),
            keras.layers.Conv2D(filters[0], 3, strides=2, activation=activation),  # → 13×13
            keras.layers.Conv2D(filters[1], 3, strides=2, activation=activation),  # → 6×6
            keras.layers.Flatten(),
            # Linear: a mean and a log-variance may be any real number.
            keras.layers.Dense(2 * latent_dim),
        ],
        name="encoder",
    )


def build_decoder(
    code_dim: int,
    filters: tuple[int, int] = (32, 64),
    outputs: int = 1,
    image_size: tuple[int, int] = (28, 28),
    activation: Activation = "relu",
) -> keras.Sequential:
    """z ``[B, code_dim]`` → ``outputs`` numbers per pixel ``[B, 28, 28, outputs]``: p(x|z)'s logits.

    Two upsamplings by 2 reach ``image_size`` from a quarter of it (7×7 for 28×28, 8×8 for 32×32).
    """
    height, width = image_size[0] // 4, image_size[1] // 4
    return keras.Sequential(
        [
            keras.Input(shape=(code_dim,)),
            keras.layers.Dense(height * width * filters[0], activation=activation),
            keras.layers.Reshape((height, width, filters[0])),
            keras.layers.Conv2DTranspose(filters[1], 3, strides=2, padding="same", activation=activation),
            keras.layers.Conv2DTranspose(filters[0], 3, strides=2, padding="same", activation=activation),
            # Linear: logits; the likelihood applies the sigmoid in a numerically stable way.
            keras.layers.Conv2DTranspose(outputs, 3, strides=1, padding="same"),
        ],
        name="decoder",
    )


@contextlib.contextmanager
def compute_precision(precision: Precision) -> Iterator[None]:
    """Layers built inside compute in ``precision`` (Keras reads its dtype policy when a layer is made)."""
    before = keras.config.dtype_policy()
    keras.config.set_dtype_policy(precision)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(before)


class CVAE(keras.Model):
    """Convolutional variational autoencoder.

    ``filters`` are the channel counts of the two strided convolutions (the decoder
    mirrors them); the tutorial uses ``(32, 64)``. ``precision`` must be resolved
    already (:func:`vae_lib.hardware.resolve_precision`); whatever it is, every method
    takes and returns float32 tensors, so the loss is always computed in float32.
    ``classes`` > 0 conditions both networks on a label y in ``0..classes-1``.
    ``image_shape`` is (height, width, channels), MNIST's by default; height and width
    must be multiples of 4 (CIFAR-10's 32×32×3 is). ``activation`` is the hidden layers'.
    """

    def __init__(
        self,
        latent_dim: int = 2,
        filters: tuple[int, int] = (32, 64),
        precision: Precision = "float32",
        prior: Prior | None = None,
        likelihood: Likelihood | None = None,
        classes: int = 0,
        image_shape: tuple[int, int, int] = IMAGE_SHAPE,
        activation: Activation = "relu",
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        if latent_dim < 1:
            raise ValueError(f"latent_dim must be positive, got {latent_dim}")
        height, width, channels = image_shape
        if height % 4 or width % 4:
            raise ValueError(f"image height and width must be multiples of 4, got {height}×{width}")
        self.image_shape = tuple(image_shape)
        self.latent_dim = latent_dim
        self.filters = tuple(filters)
        self.classes = classes
        self.prior = prior or StandardNormal()
        if hasattr(self.prior, "attach"):  # a prior made of the encoder's posteriors (a VampPrior)
            self.prior.attach(self.encode)
        self.likelihood = likelihood or Bernoulli()
        with compute_precision(precision):
            self.encoder = build_encoder(
                latent_dim, self.filters, (height, width, channels + classes), activation
            )
            self.decoder = build_decoder(
                latent_dim + classes,
                self.filters,
                channels * self.likelihood.outputs_per_pixel,
                (height, width),
                activation,
            )
        # Both networks were built from their Input shapes, so every weight already exists.
        self.built = True

    def _one_hot(self, y: tf.Tensor | None) -> tf.Tensor | None:
        if (y is None) != (self.classes == 0):
            raise ValueError(
                f"a model with classes={self.classes} needs {'a' if self.classes else 'no'} label y"
            )
        return None if y is None else tf.one_hot(y, self.classes)

    def encode(self, x: tf.Tensor, y: tf.Tensor | None = None) -> tuple[tf.Tensor, tf.Tensor]:
        """x ``[B, 28, 28, 1]`` (and labels y ``[B]``) → (mean, logvar), each ``[B, latent_dim]``."""
        label = self._one_hot(y)
        if label is not None:  # one constant image per class, stacked on x
            planes = tf.broadcast_to(label[:, None, None, :], tf.concat([tf.shape(x)[:3], [self.classes]], 0))
            x = tf.concat([x, planes], axis=-1)
        mean, logvar = tf.split(tf.cast(self.encoder(x), tf.float32), 2, axis=-1)
        return mean, logvar

    def reparameterize(self, mean: tf.Tensor, logvar: tf.Tensor, seed: tf.Tensor | None = None) -> tf.Tensor:
        """z = mean + σ ⊙ ε with σ = exp(logvar / 2), ε ~ N(0, I), shape of ``mean``.

        With a stateless ``seed`` (``[2]``, or one per image ``[B, 2]``: see
        :func:`vae_lib.streams.normal`) the same seed gives the same z.
        """
        shape = tf.shape(mean)
        eps = tf.random.normal(shape) if seed is None else streams.normal(shape, seed)
        return mean + tf.exp(0.5 * logvar) * eps

    def decode(self, z: tf.Tensor, apply_sigmoid: bool = False, y: tf.Tensor | None = None) -> tf.Tensor:
        """z ``[B, latent_dim]`` → logits ``[B, 28, 28, 1]``; ``apply_sigmoid``: the likelihood's mean."""
        label = self._one_hot(y)
        if label is not None:
            z = tf.concat([z, label], axis=-1)
        outputs = tf.cast(self.decoder(z), tf.float32)
        return self.likelihood.mean(outputs) if apply_sigmoid else outputs

    def sample(
        self, n: int = 16, eps: tf.Tensor | None = None, seed: int = 0, y: tf.Tensor | None = None
    ) -> tf.Tensor:
        """Pixel probabilities ``[n, 28, 28, 1]`` decoded from z ~ p(z) (or from the codes ``eps``).

        A conditional model decodes them given labels ``y`` ``[n]``; by default 0, 1, 2, … in turn.
        """
        if self.classes and y is None:
            y = tf.range(n if eps is None else tf.shape(eps)[0]) % self.classes
        if eps is None:
            eps = self.prior.sample(n, self.latent_dim, streams.tf_seed(seed, streams.Stream.PRIOR))
        return self.decode(eps, apply_sigmoid=True, y=y)

    def reconstruct(self, x: tf.Tensor, y: tf.Tensor | None = None) -> np.ndarray:
        """Pixel probabilities ``[B, 28, 28, 1]`` decoded from the posterior mean of each image."""
        mean, _ = self.encode(x, y)
        return self.decode(mean, apply_sigmoid=True, y=y).numpy()

    def interpolate(self, x_start: tf.Tensor, x_end: tf.Tensor, steps: int = 10) -> np.ndarray:
        """Decode ``steps`` evenly spaced points between the posterior means of two images ``[28, 28, 1]``."""
        means, _ = self.encode(tf.stack([x_start, x_end]))
        t = tf.linspace(0.0, 1.0, steps)[:, None]
        return self.decode((1.0 - t) * means[0] + t * means[1], apply_sigmoid=True).numpy()

    def call(self, x: tf.Tensor) -> tf.Tensor:
        """Reconstruction logits of ``x`` through one posterior sample (lets Keras build the model)."""
        mean, logvar = self.encode(x)
        return self.decode(self.reparameterize(mean, logvar))


def model_for(config: TrainConfig, precision: Precision = "float32") -> CVAE:
    """The untrained model of a run of ``config``: its sizes, prior, likelihood, labels, data's image shape.

    Training builds it in the run's resolved precision; loading a run builds it in float32.
    """
    dataset = DATASETS[config.dataset]
    return CVAE(
        config.latent_dim,
        config.filters,
        precision,
        prior=PRIORS[config.prior](config, dataset.image_shape),
        likelihood=LIKELIHOODS[config.likelihood](),
        classes=len(dataset.class_names) if config.conditional else 0,
        image_shape=dataset.image_shape,
        activation=config.activation,
    )
