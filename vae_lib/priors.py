"""The prior p(z): a part the model holds and the ELBO asks, so that another prior is one class.

A prior has ``log_prob(z)``, ``sample(n, latent_dim, seed)`` and ``kl(mean, logvar)``, the
closed-form KL(q(z|x) ‖ p(z)) of a diagonal Gaussian posterior, or ``None`` where there is
none (the ELBO then estimates it from the posterior sample). A prior with weights of its
own (a mixture, a VampPrior) is a ``keras.layers.Layer``, so that the model trains and
saves them with its own.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

import keras
import tensorflow as tf

from vae_lib import streams

if TYPE_CHECKING:
    from vae_lib.config import TrainConfig

LOG_2PI = math.log(2.0 * math.pi)


def log_normal_pdf(sample: tf.Tensor, mean: tf.Tensor, logvar: tf.Tensor, axis: int = -1) -> tf.Tensor:
    """log N(sample; mean, diag(exp(logvar))), summed over ``axis``, in nats.

    ``mean`` and ``logvar`` broadcast against ``sample``; ``0.0, 0.0`` is N(0, I).
    """
    return tf.reduce_sum(-0.5 * ((sample - mean) ** 2 * tf.exp(-logvar) + logvar + LOG_2PI), axis=axis)


def gaussian_kl(mean: tf.Tensor, logvar: tf.Tensor, axis: int | None = -1) -> tf.Tensor:
    """KL( N(mean, diag(exp(logvar))) ‖ N(0, I) ) in closed form, in nats ``[B]``.

    ``axis=None`` keeps one term per dimension, ``[B, latent_dim]``, whose sum is the KL.
    """
    per_dimension = 0.5 * (tf.exp(logvar) + tf.square(mean) - 1.0 - logvar)
    return per_dimension if axis is None else tf.reduce_sum(per_dimension, axis=axis)


class Prior(Protocol):
    closed_form_kl: bool  # whether kl() gives KL(q(z|x) ‖ p(z)) exactly, or None

    def log_prob(self, z: tf.Tensor) -> tf.Tensor:
        """log p(z) of codes ``[..., latent_dim]``, in nats ``[...]``."""
        ...

    def sample(self, n: int, latent_dim: int, seed: tf.Tensor) -> tf.Tensor:
        """``n`` codes ``[n, latent_dim]`` drawn from p(z) with a stateless ``seed`` ``[2]``."""
        ...

    def kl(self, mean: tf.Tensor, logvar: tf.Tensor) -> tf.Tensor | None:
        """KL(N(mean, diag(exp(logvar))) ‖ p(z)) in nats ``[B]``, or None if it has no closed form."""
        ...


class StandardNormal:
    """p(z) = N(0, I), the prior of Kingma & Welling (2014) and of the tutorial."""

    closed_form_kl = True

    def log_prob(self, z: tf.Tensor) -> tf.Tensor:
        return log_normal_pdf(z, 0.0, 0.0)

    def sample(self, n: int, latent_dim: int, seed: tf.Tensor) -> tf.Tensor:
        return streams.normal((n, latent_dim), seed)

    def kl(self, mean: tf.Tensor, logvar: tf.Tensor) -> tf.Tensor:
        return gaussian_kl(mean, logvar)


def _split(seed: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """Two independent stateless seeds ``[2]`` from one: which component, and the draw within it."""
    seeds = tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), 2)
    return seeds[0], seeds[1]


def log_mixture_pdf(z: tf.Tensor, means: tf.Tensor, logvars: tf.Tensor, log_weights: tf.Tensor) -> tf.Tensor:
    """log Σₖ πₖ N(z; meanₖ, diag(exp(logvarₖ))) of codes ``[..., D]``: nats ``[...]``.

    ``means``, ``logvars`` ``[K, D]``; ``log_weights`` ``[K]``, the log πₖ. The sum is
    taken in log space, so that a code far from every component does not give log 0.
    """
    per_component = log_normal_pdf(z[..., None, :], means, logvars)  # [..., K]
    return tf.reduce_logsumexp(per_component + log_weights, axis=-1)


class MixturePrior(keras.layers.Layer):
    """p(z) = Σₖ πₖ N(z; μₖ, diag(σₖ²)), with the K means, variances and weights learned.

    The means start as draws from N(0, I) and every variance at 1, so that the untrained
    mixture is close to the standard normal it replaces. The KL from q(z|x) has no closed
    form: the ELBO estimates it from the posterior sample (``kl="monte_carlo"``).
    """

    closed_form_kl = False

    def __init__(self, components: int, latent_dim: int, seed: int = 0) -> None:
        super().__init__(name="prior")
        start = keras.initializers.RandomNormal(seed=seed)
        self.means = self.add_weight(shape=(components, latent_dim), initializer=start, name="means")
        self.logvars = self.add_weight(shape=(components, latent_dim), initializer="zeros", name="logvars")
        self.weight_logits = self.add_weight(shape=(components,), initializer="zeros", name="weight_logits")

    def log_prob(self, z: tf.Tensor) -> tf.Tensor:
        return log_mixture_pdf(z, self.means, self.logvars, tf.nn.log_softmax(self.weight_logits))

    def sample(self, n: int, latent_dim: int, seed: tf.Tensor) -> tf.Tensor:
        which, within = _split(seed)
        k = tf.random.stateless_categorical(self.weight_logits[None, :], n, which)[0]
        eps = streams.normal((n, latent_dim), within)
        return tf.gather(self.means, k) + tf.exp(0.5 * tf.gather(self.logvars, k)) * eps

    def kl(self, mean: tf.Tensor, logvar: tf.Tensor) -> None:
        return None


class VampPrior(keras.layers.Layer):
    """p(z) = (1/K) Σₖ q(z | uₖ): the encoder's posteriors at K learned pseudo-inputs uₖ.

    Tomczak & Welling (2018): the prior that maximizes the ELBO is the aggregate posterior
    (1/N) Σₙ q(z|xₙ), and K ≪ N learned images approximate it. Each uₖ is an image
    ``image_shape`` whose pixels are kept in [0, 1] by a hard clip, started near black
    (0.05 ± 0.01) as in their code. The encoder is the model's own (``attach``), so that
    the prior moves with the posteriors it mixes.
    """

    closed_form_kl = False

    def __init__(self, components: int, image_shape: tuple[int, int, int], seed: int = 0) -> None:
        super().__init__(name="prior")
        start = keras.initializers.RandomNormal(0.05, 0.01, seed=seed)
        self.pseudo_inputs = self.add_weight(
            shape=(components, *image_shape), initializer=start, name="pseudo_inputs"
        )
        self._encode = None

    def attach(self, encode: Callable[[tf.Tensor], tuple[tf.Tensor, tf.Tensor]]) -> None:
        """Use ``encode`` (images ``[K, H, W, C]`` → means, logvars ``[K, D]``) for the components."""
        object.__setattr__(self, "_encode", encode)  # not a sublayer: the model already holds the encoder

    def components(self) -> tuple[tf.Tensor, tf.Tensor]:
        """The means and log-variances of q(z | uₖ), each ``[K, D]``."""
        if self._encode is None:
            raise ValueError("a VampPrior needs the encoder of its model: CVAE(prior=...) attaches it")
        return self._encode(tf.clip_by_value(self.pseudo_inputs, 0.0, 1.0))

    def log_prob(self, z: tf.Tensor) -> tf.Tensor:
        means, logvars = self.components()
        k = tf.shape(means)[0]
        return log_mixture_pdf(z, means, logvars, tf.fill([k], -tf.math.log(tf.cast(k, tf.float32))))

    def sample(self, n: int, latent_dim: int, seed: tf.Tensor) -> tf.Tensor:
        which, within = _split(seed)
        means, logvars = self.components()
        k = tf.random.stateless_uniform([n], which, 0, tf.shape(means)[0], dtype=tf.int32)
        eps = streams.normal((n, latent_dim), within)
        return tf.gather(means, k) + tf.exp(0.5 * tf.gather(logvars, k)) * eps

    def kl(self, mean: tf.Tensor, logvar: tf.Tensor) -> None:
        return None


# config.prior → the prior of a run of that config, for images of a shape (vae_lib.model.model_for).
PRIORS: dict[str, Callable[[TrainConfig, tuple[int, int, int]], Prior]] = {
    "standard_normal": lambda config, _: StandardNormal(),
    "mixture": lambda config, image_shape: MixturePrior(
        config.prior_components, config.latent_dim, config.seed
    ),
    "vamp": lambda config, image_shape: VampPrior(config.prior_components, image_shape, config.seed),
}
