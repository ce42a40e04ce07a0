"""The evidence lower bound (ELBO) and the importance-weighted bound, in nats.

Every function returns one value per example (shape ``[B]``); average over the
batch yourself. Higher is better for all of them: they are lower bounds on
log p(x), so they are negative for binary images.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import tensorflow as tf

from vae_lib.config import KlEstimator
from vae_lib.model import CVAE

LOG_2PI = math.log(2.0 * math.pi)


def log_normal_pdf(sample: tf.Tensor, mean: tf.Tensor, logvar: tf.Tensor, axis: int = -1) -> tf.Tensor:
    """log N(sample; mean, diag(exp(logvar))), summed over ``axis``, in nats.

    ``mean`` and ``logvar`` broadcast against ``sample``; pass ``0.0, 0.0`` for
    the standard normal prior p(z).
    """
    return tf.reduce_sum(-0.5 * ((sample - mean) ** 2 * tf.exp(-logvar) + logvar + LOG_2PI), axis=axis)


def bernoulli_log_likelihood(x: tf.Tensor, logits: tf.Tensor) -> tf.Tensor:
    """log p(x|z) for binary images ``[..., 28, 28, 1]`` given decoder logits, in nats ``[...]``.

    ``x`` broadcasts against ``logits`` (several samples of z per image).
    ``sigmoid_cross_entropy_with_logits`` is −[x log σ(l) + (1−x) log(1−σ(l))],
    computed without overflow for large |l|.
    """
    labels = tf.broadcast_to(x, tf.shape(logits))
    cross_entropy = tf.nn.sigmoid_cross_entropy_with_logits(labels=labels, logits=logits)
    return -tf.reduce_sum(cross_entropy, axis=[-3, -2, -1])


def gaussian_kl(mean: tf.Tensor, logvar: tf.Tensor) -> tf.Tensor:
    """KL( N(mean, diag(exp(logvar))) ‖ N(0, I) ) in closed form, in nats ``[B]``."""
    return 0.5 * tf.reduce_sum(tf.exp(logvar) + tf.square(mean) - 1.0 - logvar, axis=-1)


class ElboTerms(NamedTuple):
    """ELBO = reconstruction − kl, each ``[B]`` in nats."""

    elbo: tf.Tensor
    reconstruction: tf.Tensor  # one-sample estimate of E_q[log p(x|z)]
    kl: tf.Tensor  # KL(q(z|x) ‖ p(z)), exact or one-sample


def elbo_terms(
    model: CVAE, x: tf.Tensor, seed: tf.Tensor | None = None, kl: KlEstimator = "analytic"
) -> ElboTerms:
    """The ELBO of ``x`` ``[B, 28, 28, 1]`` from one posterior sample z ~ q(z|x).

    ``kl="monte_carlo"`` is the tutorial's estimator, log q(z|x) − log p(z) at
    that same z; ``kl="analytic"`` uses the closed form, which has the same
    expectation and less variance.
    """
    mean, logvar = model.encode(x)
    z = model.reparameterize(mean, logvar, seed)
    reconstruction = bernoulli_log_likelihood(x, model.decode(z))
    if kl == "analytic":
        kl_term = gaussian_kl(mean, logvar)
    elif kl == "monte_carlo":
        kl_term = log_normal_pdf(z, mean, logvar) - log_normal_pdf(z, 0.0, 0.0)
    else:
        raise ValueError(f"kl must be 'analytic' or 'monte_carlo', got {kl!r}")
    return ElboTerms(reconstruction - kl_term, reconstruction, kl_term)


def monte_carlo_elbo(model: CVAE, x: tf.Tensor, seed: tf.Tensor | None = None) -> tf.Tensor:
    """The tutorial's single-sample estimate log p(x|z) + log p(z) − log q(z|x), ``[B]`` nats."""
    return elbo_terms(model, x, seed, kl="monte_carlo").elbo


def importance_weighted_bound(
    model: CVAE, x: tf.Tensor, k: int, seed: tf.Tensor | None = None, chunk_size: int = 100
) -> tf.Tensor:
    """L_k = log (1/k) Σᵢ p(x, zᵢ) / q(zᵢ|x) with zᵢ ~ q(z|x), ``[B]`` nats (Burda et al. 2016).

    L_1 is the ELBO in expectation; L_k rises with k towards log p(x). The k
    samples are drawn and decoded ``chunk_size`` at a time, in a loop that a
    ``tf.function`` compiles into one graph whatever k is, so memory stays
    bounded; the average is taken in log space (logsumexp) so no weight underflows.
    """
    if k < 1:
        raise ValueError(f"k must be positive, got {k}")
    mean, logvar = model.encode(x)
    batch, latent_dim = tf.shape(mean)[0], tf.shape(mean)[1]
    log_sum = tf.fill([batch], -math.inf)  # log Σ of the weights so far
    for index in tf.range(math.ceil(k / chunk_size)):
        n = tf.minimum(chunk_size, k - index * chunk_size)
        shape = tf.stack([n, batch, latent_dim])
        if seed is None:
            eps = tf.random.normal(shape)
        else:
            eps = tf.random.stateless_normal(shape, tf.random.experimental.stateless_fold_in(seed, index))
        z = mean + tf.exp(0.5 * logvar) * eps  # [n, B, D]
        logits = model.decode(tf.reshape(z, [-1, latent_dim]))
        logits = tf.reshape(logits, tf.concat([[n, batch], tf.shape(x)[1:]], axis=0))
        log_prior = log_normal_pdf(z, 0.0, 0.0)
        log_weights = bernoulli_log_likelihood(x, logits) + log_prior - log_normal_pdf(z, mean, logvar)
        log_sum = tf.reduce_logsumexp(tf.concat([log_sum[tf.newaxis], log_weights], axis=0), axis=0)
    return log_sum - math.log(k)
