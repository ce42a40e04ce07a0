"""The prior p(z): a part the model holds and the ELBO asks, so that another prior is one class.

A prior has ``log_prob(z)``, ``sample(n, latent_dim, seed)`` and ``kl(mean, logvar)``, the
closed-form KL(q(z|x) ‖ p(z)) of a diagonal Gaussian posterior, or ``None`` where there is
none (the ELBO then estimates it from the posterior sample). A prior with weights of its
own (a mixture, a VampPrior) is a ``keras.layers.Layer``, so that the model trains and
saves them with its own.
"""

from __future__ import annotations

import math
from typing import Protocol

import tensorflow as tf

from vae_lib import streams

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

    def log_prob(self, z: tf.Tensor) -> tf.Tensor:
        return log_normal_pdf(z, 0.0, 0.0)

    def sample(self, n: int, latent_dim: int, seed: tf.Tensor) -> tf.Tensor:
        return streams.normal((n, latent_dim), seed)

    def kl(self, mean: tf.Tensor, logvar: tf.Tensor) -> tf.Tensor:
        return gaussian_kl(mean, logvar)
