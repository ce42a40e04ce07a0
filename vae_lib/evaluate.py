"""Evaluation of a trained model on test images: the ELBO, the importance-weighted bound, active units.

Every figure is a mean per image, in nats, and is computed from a fixed random
stream, so the same weights always give the same figures.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np
import tensorflow as tf
from tqdm import tqdm

from vae_lib.data import IMAGE_SHAPE
from vae_lib.losses import elbo_terms, importance_weighted_bound
from vae_lib.model import CVAE

# Evaluation draws its posterior samples from its own stream, apart from training's.
EVAL_STREAM = 2**31 - 1


def make_eval_step(model: CVAE, seed: int) -> Callable[[tf.Tensor, tf.Tensor], tf.Tensor]:
    """A compiled step: the summed ELBO, reconstruction and KL (nats, ``[3]``) of a test batch."""

    @tf.function(
        input_signature=[
            tf.TensorSpec([None, *IMAGE_SHAPE], tf.float32),
            tf.TensorSpec([], tf.int64),
        ]
    )
    def eval_step(x: tf.Tensor, batch_index: tf.Tensor) -> tf.Tensor:
        terms = elbo_terms(model, x, tf.stack([tf.constant(seed, tf.int64), batch_index]), kl="analytic")
        return tf.stack([tf.reduce_sum(t) for t in terms])

    return eval_step


def evaluate(model: CVAE, batches: Iterable[tf.Tensor], seed: int = EVAL_STREAM) -> dict[str, float]:
    """Mean test ELBO, reconstruction log-likelihood and KL per image, in nats.

    Uses the analytic KL and one posterior sample per image, from a fixed seed,
    so the same weights always give the same figures.
    """
    eval_step = make_eval_step(model, seed)
    totals = np.zeros(3)
    count = 0
    for index, x in enumerate(batches):
        totals += eval_step(x, tf.constant(index, tf.int64)).numpy()
        count += int(x.shape[0])
    elbo, reconstruction, kl = (float(v) for v in totals / count)
    return {"test_elbo": elbo, "test_reconstruction": reconstruction, "test_kl": kl}


def evaluate_iw_bound(
    model: CVAE,
    images: np.ndarray,
    k: int,
    batch_size: int = 100,
    seed: int = EVAL_STREAM,
    progress: bool = True,
) -> float:
    """Mean importance-weighted bound L_k over ``images`` ``[N, 28, 28, 1]``, in nats.

    Costs k decoder passes per image (for the measured cost on a 2-core CPU,
    see bench/README.md).
    """

    @tf.function(
        input_signature=[tf.TensorSpec([None, *IMAGE_SHAPE], tf.float32), tf.TensorSpec([], tf.int64)]
    )
    def batch_bound(x: tf.Tensor, index: tf.Tensor) -> tf.Tensor:
        seed_pair = tf.stack([tf.constant(seed, tf.int64), index])
        return tf.reduce_sum(importance_weighted_bound(model, x, k, seed_pair))

    total = 0.0
    starts = range(0, len(images), batch_size)
    for index, start in enumerate(
        tqdm(starts, desc=f"L_{k}", unit="batch", disable=not progress, leave=False)
    ):
        total += float(batch_bound(images[start : start + batch_size], tf.constant(index, tf.int64)))
    return total / len(images)


def posterior_means(model: CVAE, images: np.ndarray, batch_size: int = 1000) -> np.ndarray:
    """The means of q(z|x), ``[N, latent_dim]``, of ``images`` ``[N, 28, 28, 1]``, in batches."""
    return np.concatenate(
        [model.encode(images[i : i + batch_size])[0].numpy() for i in range(0, len(images), batch_size)]
    )


def active_units(model: CVAE, images: np.ndarray, threshold: float = 0.01, batch_size: int = 1000) -> int:
    """How many latent dimensions the model uses: Cov_x(E_q[z_u | x]) > ``threshold`` (Burda et al. 2016).

    A unit whose posterior mean does not move with x carries no information
    about x: its KL term has been driven to zero, the posterior equals the prior.
    """
    return int((posterior_means(model, images, batch_size).var(axis=0) > threshold).sum())
