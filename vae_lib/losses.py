"""The evidence lower bound (ELBO) and the importance-weighted bound, in nats.

Every function returns one value per example (shape ``[B]``); average over the batch
yourself. Higher is better for all of them: they are lower bounds on log p(x), so they
are negative for binary images. The prior and the likelihood are the model's parts
(``model.prior``, ``model.likelihood``), so the same code serves any of them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

import tensorflow as tf

from vae_lib.config import KlEstimator, TrainConfig

# The densities the ELBO is made of, here too where the tutorial's readers look for them.
from vae_lib.priors import StandardNormal, gaussian_kl, log_normal_pdf

__all__ = ["ElboTerms", "elbo_terms", "gaussian_kl", "importance_weighted_bound", "log_normal_pdf"]
__all__ += ["TrainingLoss", "autoencoder_terms", "log_importance_weights", "monte_carlo_elbo"]

if TYPE_CHECKING:
    from vae_lib.model import CVAE


class ElboTerms(NamedTuple):
    """ELBO = reconstruction − kl, each ``[B]`` in nats."""

    elbo: tf.Tensor
    reconstruction: tf.Tensor  # one-sample estimate of E_q[log p(x|z)]
    kl: tf.Tensor  # KL(q(z|x) ‖ p(z)), exact or one-sample


def elbo_terms(
    model: CVAE,
    x: tf.Tensor,
    seed: tf.Tensor | None = None,
    kl: KlEstimator = "analytic",
    y: tf.Tensor | None = None,
) -> ElboTerms:
    """The ELBO of ``x`` ``[B, 28, 28, 1]`` (given labels ``y`` for a conditional model).

    One posterior sample z ~ q(z|x) per image. ``kl="monte_carlo"`` is the tutorial's
    estimator, log q(z|x) − log p(z) at that same z; ``kl="analytic"`` uses the closed
    form, which has the same expectation and less variance.
    """
    mean, logvar = model.encode(x, y)
    z = model.reparameterize(mean, logvar, seed)
    reconstruction = model.likelihood.log_prob(x, model.decode(z, y=y))
    if kl == "analytic":
        kl_term = model.prior.kl(mean, logvar)
        if kl_term is None:
            raise ValueError(f"{type(model.prior).__name__} has no closed-form KL: use kl='monte_carlo'")
    elif kl == "monte_carlo":
        kl_term = log_normal_pdf(z, mean, logvar) - model.prior.log_prob(z)
    else:
        raise ValueError(f"kl must be 'analytic' or 'monte_carlo', got {kl!r}")
    return ElboTerms(reconstruction - kl_term, reconstruction, kl_term)


def autoencoder_terms(model: CVAE, x: tf.Tensor, y: tf.Tensor | None = None) -> ElboTerms:
    """An autoencoder's objective log p(x | z = μ(x)), with no noise and no KL, as :class:`ElboTerms`.

    The code is the encoder's mean itself, and the KL is 0: no ELBO, just the
    reconstruction, put in the same shape so that training and evaluation treat both alike.
    """
    mean, _ = model.encode(x, y)
    reconstruction = model.likelihood.log_prob(x, model.decode(mean, y=y))
    return ElboTerms(reconstruction, reconstruction, tf.zeros_like(reconstruction))


@dataclass(frozen=True)
class TrainingLoss:
    """What a run minimizes, in nats per image: −(E_q[log p(x|z)] − β·KL), the negative ELBO at β = 1.

    * ``beta`` weighs the KL term (Higgins et al. 2017's β-VAE); ``loss(..., beta=)`` overrides
      it for one step, which is how a warm-up ramps it from 0 (Bowman et al. 2016).
    * ``free_bits`` λ: each latent dimension's KL, averaged over the batch, costs
      max(λ, KL_j), so that a dimension carrying less than λ nats is not pushed to carry
      none (Kingma et al. 2016). Needs a closed-form, per-dimension KL: N(0, I) prior.
    * ``autoencoder``: :func:`autoencoder_terms` instead of the ELBO.
    * ``iwae_samples`` k > 0: −L_k, the importance-weighted bound of k posterior samples
      (Burda et al. 2016's IWAE), instead of the ELBO; k = 1 is the ELBO with a one-sample KL.
    """

    kl: KlEstimator = "monte_carlo"
    beta: float = 1.0
    free_bits: float = 0.0
    autoencoder: bool = False
    iwae_samples: int = 0

    @classmethod
    def of(cls, config: TrainConfig) -> TrainingLoss:
        iwae_samples = config.iwae_samples if config.objective == "iwae" else 0
        return cls(config.kl, config.beta, config.free_bits, config.objective == "autoencoder", iwae_samples)

    def __call__(
        self,
        model: CVAE,
        x: tf.Tensor,
        seed: tf.Tensor | None = None,
        y: tf.Tensor | None = None,
        beta: float | tf.Tensor | None = None,
    ) -> tf.Tensor:
        """The mean loss over the batch ``x`` ``[B, 28, 28, 1]``, a scalar in nats."""
        beta = self.beta if beta is None else beta
        if self.autoencoder:
            return -tf.reduce_mean(autoencoder_terms(model, x, y).reconstruction)
        if self.iwae_samples:
            return -tf.reduce_mean(importance_weighted_bound(model, x, self.iwae_samples, seed, y))
        if not self.free_bits:
            terms = elbo_terms(model, x, seed, self.kl, y)
            # At β = 1 this is −mean(ELBO) to the last bit: the tutorial's loss, unchanged.
            return -tf.reduce_mean(terms.reconstruction - beta * terms.kl)
        if not isinstance(model.prior, StandardNormal):
            raise ValueError(f"free bits need N(0, I)'s per-dimension KL, not {type(model.prior).__name__}'s")
        mean, logvar = model.encode(x, y)
        z = model.reparameterize(mean, logvar, seed)
        reconstruction = model.likelihood.log_prob(x, model.decode(z, y=y))
        kl_per_dimension = tf.reduce_mean(gaussian_kl(mean, logvar, axis=None), axis=0)  # [latent_dim]
        clamped = tf.maximum(kl_per_dimension, self.free_bits)
        return -tf.reduce_mean(reconstruction) + beta * tf.reduce_sum(clamped)


def monte_carlo_elbo(model: CVAE, x: tf.Tensor, seed: tf.Tensor | None = None) -> tf.Tensor:
    """The tutorial's single-sample estimate log p(x|z) + log p(z) − log q(z|x), ``[B]`` nats."""
    return elbo_terms(model, x, seed, kl="monte_carlo").elbo


def log_importance_weights(
    model: CVAE,
    x: tf.Tensor,
    mean: tf.Tensor,
    logvar: tf.Tensor,
    eps: tf.Tensor,
    y: tf.Tensor | None = None,
) -> tf.Tensor:
    """log w = log p(x|z) + log p(z) − log q(z|x) at z = mean + σ ⊙ eps, ``[k, B]`` nats.

    ``eps`` ``[k, B, latent_dim]`` holds k standard normal draws per image; ``mean`` and
    ``logvar`` ``[B, latent_dim]`` are q(z|x)'s (given the labels ``y`` ``[B]``, for a
    conditional model: then the weights are those of log p(x | y)).
    """
    z = mean + tf.exp(0.5 * logvar) * eps  # [k, B, D]: k reparameterized draws per image
    k = tf.shape(eps)[0]
    labels = None if y is None else tf.tile(y, [k])  # row i·B + b of the flattened z is image b's
    outputs = model.decode(tf.reshape(z, [-1, z.shape[-1]]), y=labels)  # one batch of k·B codes
    outputs = tf.reshape(outputs, [k, -1, *outputs.shape[1:]])
    return model.likelihood.log_prob(x, outputs) + model.prior.log_prob(z) - log_normal_pdf(z, mean, logvar)


def importance_weighted_bound(
    model: CVAE, x: tf.Tensor, k: int, seed: tf.Tensor | None = None, y: tf.Tensor | None = None
) -> tf.Tensor:
    """L_k = log (1/k) Σᵢ wᵢ, wᵢ = p(x, zᵢ) / q(zᵢ|x), zᵢ ~ q(z|x): ``[B]`` nats (Burda et al. 2016).

    L_1 is the ELBO in expectation; L_k rises with k towards log p(x). The mean is
    taken in log space (a log-sum-exp), so that no weight underflows.
    """
    if k < 1:
        raise ValueError(f"k must be positive, got {k}")
    mean, logvar = model.encode(x, y)
    shape = [k, tf.shape(mean)[0], mean.shape[-1]]
    eps = tf.random.normal(shape) if seed is None else tf.random.stateless_normal(shape, seed)
    log_w = log_importance_weights(model, x, mean, logvar, eps, y)  # [k, B]
    return tf.reduce_logsumexp(log_w, axis=0) - math.log(k)
