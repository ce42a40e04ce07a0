"""The exact posterior of a model with two latent dimensions, and the gaps of inference it measures.

With z in the plane the evidence p(x) = ∫ p(x|z) p(z) dz needs no bound: a grid of n × n
square cells of area ΔA turns it into a sum over the cells' centres zᵢ,

    log p(x) ≈ log Σᵢ p(x | zᵢ) p(zᵢ) ΔA,

exact to *grid precision*: the sum tends to the integral as the cells shrink and the grid
widens. The grid is then a model of its own, with n² codes of prior mass p(zᵢ) ΔA, in
which everything is exact: the posterior is each cell's share of the sum, and a Gaussian
q(z) is the distribution over cells proportional to q(zᵢ), with an ELBO that is a smooth,
deterministic function of q's mean and log-variance, below log p(x) by exactly its KL
to the grid posterior. Maximizing it image by image gives the best Gaussian q*, which
splits the encoder's gap in two (Cremer et al. 2018):

    log p(x) − ELBO(q_enc) = [log p(x) − ELBO(q*)]  +  [ELBO(q*) − ELBO(q_enc)]
                              approximation gap         amortization gap

Everything is in nats, one value per image.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple

import keras
import numpy as np
import tensorflow as tf

from vae_lib.likelihoods import Bernoulli
from vae_lib.priors import log_normal_pdf

if TYPE_CHECKING:
    from vae_lib.model import CVAE


class LatentGrid(NamedTuple):
    """n × n square cells in the plane of codes.

    ``z`` ``[n·n, 2]`` are the cells' centres, z₁ varying fastest; ``z1`` and ``z2`` ``[n]``
    the centres along each axis (the columns and rows of :meth:`as_image`).
    """

    z: tf.Tensor
    z1: np.ndarray
    z2: np.ndarray
    cell_area: float

    def as_image(self, values: np.ndarray | tf.Tensor) -> np.ndarray:
        """One value per cell ``[..., n·n]`` → ``[..., n, n]``, rows along z₂ and columns along z₁."""
        values = np.asarray(values)
        return values.reshape(*values.shape[:-1], len(self.z2), len(self.z1))


def latent_grid(extent: float, n: int, centre: tuple[float, float] = (0.0, 0.0)) -> LatentGrid:
    """n × n equal square cells covering the square ``centre`` ± ``extent`` (in z's units)."""
    if n < 1:
        raise ValueError(f"a grid needs at least one cell per side, got n={n}")
    if extent <= 0:
        raise ValueError(f"a grid's extent must be positive, got {extent}")
    width = 2.0 * extent / n
    offsets = -extent + width * (np.arange(n) + 0.5)
    z1, z2 = centre[0] + offsets, centre[1] + offsets
    columns, rows = np.meshgrid(z1, z2)  # [n, n] each, one row per z₂
    z = tf.constant(np.stack([columns.ravel(), rows.ravel()], axis=-1), tf.float32)
    return LatentGrid(z, z1, z2, width**2)


def log_joint_on_grid(
    model: CVAE, x: tf.Tensor | np.ndarray, grid: LatentGrid, chunk_size: int = 1024
) -> tf.Tensor:
    """log p(x, zᵢ) = log p(x | zᵢ) + log p(zᵢ) of each image at each cell centre, ``[B, n·n]`` nats.

    ``x`` ``[B, 28, 28, 1]``. The grid is decoded once, ``chunk_size`` centres at a time,
    and every image is scored against each chunk, so that memory beyond the result stays
    bounded however fine the grid: one decoded chunk, and for a likelihood other than
    Bernoulli the images broadcast against it, B · ``chunk_size`` · 784 numbers.
    """
    if model.latent_dim != 2:
        raise ValueError(
            f"the posterior is computed on a grid in 2 latent dimensions; the model has {model.latent_dim}"
        )
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be positive, got {chunk_size}")
    x = tf.convert_to_tensor(x, tf.float32)
    score = _joint_scorer(model)
    chunks = [score(x, grid.z[start : start + chunk_size]) for start in range(0, len(grid.z), chunk_size)]
    return tf.concat(chunks, axis=1)


# One compiled scorer per model, kept for the next call: a tf.function made afresh on every
# call would be traced afresh every time (and TensorFlow warns when that happens often).
@functools.lru_cache(maxsize=4)
def _joint_scorer(model: CVAE) -> Callable[[tf.Tensor, tf.Tensor], tf.Tensor]:
    """log p(x, z) of images x ``[B, ...]`` at codes z ``[g, 2]``, ``[B, g]`` nats, as a tf.function."""

    @tf.function(input_signature=[tf.TensorSpec(None, tf.float32), tf.TensorSpec([None, 2], tf.float32)])
    def score(x: tf.Tensor, z: tf.Tensor) -> tf.Tensor:
        outputs = model.decode(z)  # [g, 28, 28, 1]
        if isinstance(model.likelihood, Bernoulli):
            # Σⱼ xⱼ log σ(ℓⱼ) + (1 − xⱼ) log(1 − σ(ℓⱼ)) = Σⱼ xⱼ ℓⱼ − softplus(ℓⱼ) is linear in x: one
            # matrix product scores every image against every code, some 25 times faster than
            # broadcasting the images against the decoded grid.
            logits = tf.reshape(outputs, [tf.shape(z)[0], -1])
            pixels = tf.reshape(x, [tf.shape(x)[0], -1])
            log_likelihood = pixels @ tf.transpose(logits) - tf.reduce_sum(tf.nn.softplus(logits), -1)[None]
        else:
            shape = tf.concat([tf.shape(x)[:1], tf.shape(outputs)], axis=0)
            log_likelihood = model.likelihood.log_prob(x[:, None], tf.broadcast_to(outputs[None], shape))
        return log_likelihood + model.prior.log_prob(z)[None]

    return score


def grid_log_marginal(log_joint: tf.Tensor, grid: LatentGrid) -> tf.Tensor:
    """log p(x) ≈ log Σᵢ p(x, zᵢ) ΔA, ``[B]`` nats, from :func:`log_joint_on_grid`'s ``[B, n·n]``."""
    return tf.reduce_logsumexp(log_joint, axis=-1) + math.log(grid.cell_area)


def grid_posterior(log_joint: tf.Tensor) -> tf.Tensor:
    """p(zᵢ | x): each cell's share of p(x), ``[B, n·n]`` probabilities that sum to 1 per image."""
    return tf.nn.softmax(log_joint, axis=-1)


def posterior_moments(log_joint: tf.Tensor, grid: LatentGrid) -> tuple[np.ndarray, np.ndarray]:
    """The grid posterior's mean ``[B, 2]`` and covariance ``[B, 2, 2]``, in z's units, in float64."""
    probabilities = grid_posterior(log_joint).numpy().astype(np.float64)
    z = grid.z.numpy().astype(np.float64)
    mean = probabilities @ z
    second_moment = np.einsum("bi,ij,ik->bjk", probabilities, z, z)
    return mean, second_moment - mean[:, :, None] * mean[:, None, :]


def gaussian_elbo(log_joint: tf.Tensor, grid: LatentGrid, mean: tf.Tensor, logvar: tf.Tensor) -> tf.Tensor:
    """The ELBO of q = N(mean, diag(exp(logvar))) on the grid, ``[B]`` nats.

    ``mean`` and ``logvar`` ``[B, 2]``, one Gaussian per image of ``log_joint`` ``[B, n·n]``.
    q is put on the grid's cells in proportion to its density at their centres, wᵢ,
    and its ELBO is Σᵢ wᵢ [log p(x, zᵢ) + log ΔA − log wᵢ]: to grid precision the
    ELBO of q, and exactly :func:`grid_log_marginal` minus KL(w ‖ the grid posterior).
    """
    if log_joint.shape[-1] != len(grid.z):
        raise ValueError(
            f"log_joint has {log_joint.shape[-1]} values per image for a grid of {len(grid.z)} cells"
        )
    log_q = log_normal_pdf(grid.z[None], mean[:, None], logvar[:, None])  # [B, n·n]
    log_w = tf.nn.log_softmax(log_q, axis=-1)
    return tf.reduce_sum(tf.exp(log_w) * (log_joint + math.log(grid.cell_area) - log_w), axis=-1)


def optimal_gaussian(
    log_joint: tf.Tensor,
    grid: LatentGrid,
    mean: tf.Tensor,
    logvar: tf.Tensor,
    steps: int = 300,
    learning_rate: float = 0.02,
) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """The best Gaussian q* of each image: its (mean, logvar) ``[B, 2]`` and ELBO ``[B]`` nats.

    Adam maximizes :func:`gaussian_elbo` over each image's mean and log-variance, from
    ``mean`` and ``logvar`` (the encoder's, say), for ``steps`` steps. The images are
    independent problems solved as one batch: the sum of their ELBOs is maximized, and
    Adam scales each coordinate's step by that coordinate's own gradients. A local
    optimum: a posterior with two modes keeps q near the one it starts at.
    """
    if steps < 0:
        raise ValueError(f"steps must be 0 or more, got {steps}")
    mean, logvar = tf.Variable(mean, dtype=tf.float32), tf.Variable(logvar, dtype=tf.float32)
    optimizer = keras.optimizers.Adam(learning_rate)

    @tf.function
    def step() -> None:
        with tf.GradientTape() as tape:
            loss = -tf.reduce_sum(gaussian_elbo(log_joint, grid, mean, logvar))
        optimizer.apply_gradients(zip(tape.gradient(loss, [mean, logvar]), [mean, logvar], strict=True))

    for _ in range(steps):
        step()
    return (
        tf.convert_to_tensor(mean),
        tf.convert_to_tensor(logvar),
        gaussian_elbo(log_joint, grid, mean, logvar),
    )
