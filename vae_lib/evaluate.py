"""Evaluation of a trained model on test images: the ELBO, the importance-weighted bound, active units.

Every function takes images ``float32 [N, 28, 28, 1]`` (binary, as
:func:`vae_lib.data.binary_test_images` gives them) and a batch size. Every
figure is a mean per image, in nats, computed from a fixed random stream, so
the same weights always give the same figures.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import tensorflow as tf
from tqdm import tqdm

from vae_lib.data import IMAGE_SHAPE
from vae_lib.losses import elbo_terms, importance_weighted_bound
from vae_lib.model import CVAE

# Evaluation draws its posterior samples from its own stream, apart from training's.
EVAL_STREAM = 2**31 - 1
# The seed of the random test subset that an importance-weighted bound averages on a CPU.
IW_SUBSET_SEED = 5000
_IMAGES = tf.TensorSpec([None, *IMAGE_SHAPE], tf.float32)
_INDEX = tf.TensorSpec([], tf.int64)


def _batches(images: np.ndarray, batch_size: int) -> Iterator[tuple[tf.Tensor, np.ndarray]]:
    """(batch number as a tensor, batch) pairs over ``images``, in order."""
    for index, start in enumerate(range(0, len(images), batch_size)):
        yield tf.constant(index, tf.int64), images[start : start + batch_size]


def elbo_per_image(
    model: CVAE, images: np.ndarray, batch_size: int = 500, seed: int = EVAL_STREAM
) -> np.ndarray:
    """ELBO, reconstruction log-likelihood and KL of each of ``images``, ``float64 [N, 3]`` nats.

    Uses the analytic KL and one posterior sample per image, from a fixed seed,
    so the same weights always give the same figures.
    """

    @tf.function(input_signature=[_IMAGES, _INDEX])
    def batch_terms(x: tf.Tensor, index: tf.Tensor) -> tf.Tensor:
        terms = elbo_terms(model, x, tf.stack([tf.constant(seed, tf.int64), index]), kl="analytic")
        return tf.stack(terms, axis=-1)

    return np.concatenate(
        [batch_terms(x, index).numpy() for index, x in _batches(images, batch_size)]
    ).astype(np.float64)


def evaluate(
    model: CVAE, images: np.ndarray, batch_size: int = 500, seed: int = EVAL_STREAM
) -> dict[str, float]:
    """Mean ELBO, reconstruction log-likelihood and KL per image of ``images``, in nats.

    The means of :func:`elbo_per_image`, which says how they are computed.
    """
    return elbo_means(elbo_per_image(model, images, batch_size, seed))


def elbo_means(per_image: np.ndarray) -> dict[str, float]:
    """The means of :func:`elbo_per_image`'s columns, by the names history.csv and metrics.json give them."""
    elbo, reconstruction, kl = (float(v) for v in per_image.mean(axis=0))
    return {"test_elbo": elbo, "test_reconstruction": reconstruction, "test_kl": kl}


@dataclass(frozen=True)
class IwBound:
    """An importance-weighted bound L_k averaged over ``images`` test images, in nats."""

    bounds: np.ndarray  # each image's bound, float64 [images]
    k: int
    seconds: float  # wall time it took

    @property
    def mean(self) -> float:
        return float(self.bounds.mean())

    @property
    def stderr(self) -> float:
        """Standard error of the mean across images (0 for one image)."""
        return _stderr(self.bounds)

    @property
    def images(self) -> int:
        return len(self.bounds)


def iw_bounds(
    model: CVAE,
    images: np.ndarray,
    k: int,
    batch_size: int = 10,
    seed: int = EVAL_STREAM,
    progress: bool = True,
) -> np.ndarray:
    """The importance-weighted bound L_k of each image, ``float64 [N]`` nats.

    Costs k decoder passes per image: one compiled function per batch of
    ``batch_size`` images decodes their k samples 100 at a time (the cost on a
    2-core CPU is measured in bench/README.md).
    """

    @tf.function(input_signature=[_IMAGES, _INDEX])
    def batch_bounds(x: tf.Tensor, index: tf.Tensor) -> tf.Tensor:
        return importance_weighted_bound(model, x, k, tf.stack([tf.constant(seed, tf.int64), index]))

    per_batch = []
    with tqdm(total=len(images), desc=f"L_{k}", unit="image", disable=not progress, leave=False) as bar:
        for index, x in _batches(images, batch_size):
            per_batch.append(batch_bounds(x, index).numpy())
            bar.update(len(x))
    return np.concatenate(per_batch).astype(np.float64)


def evaluate_iw_bound(
    model: CVAE,
    images: np.ndarray,
    k: int,
    batch_size: int = 10,
    seed: int = EVAL_STREAM,
    progress: bool = True,
) -> IwBound:
    """The mean of :func:`iw_bounds` over ``images`` and its standard error across them."""
    start = time.perf_counter()
    bounds = iw_bounds(model, images, k, batch_size, seed, progress)
    return IwBound(bounds, k, time.perf_counter() - start)


def _stderr(values: np.ndarray) -> float:
    """Standard error of the mean of ``values`` (0 for one value)."""
    return float(values.std(ddof=1) / math.sqrt(len(values))) if len(values) > 1 else 0.0


def estimate_from_subset(
    subset_bounds: np.ndarray, subset_elbos: np.ndarray, all_elbos: np.ndarray
) -> tuple[float, float]:
    """The mean bound over all images, estimated from a random subset: (estimate, standard error), nats.

    The ELBO is cheap and known for every image; the bound only for the subset.
    The estimate is the ELBO's mean over all images plus the subset's mean gap,
    bound − ELBO. Like the subset's own mean it is unbiased, but the gap varies
    across images far less than the bound does (a hard digit has a low bound
    and a low ELBO alike), so its standard error, that of the mean gap, is
    several times smaller (a difference estimator, as survey sampling calls it).
    """
    gaps = subset_bounds - subset_elbos
    return float(all_elbos.mean() + gaps.mean()), _stderr(gaps)


def random_subset(n_total: int, n: int, seed: int = IW_SUBSET_SEED) -> np.ndarray:
    """Indices of ``n`` of ``n_total`` images, drawn without replacement from ``seed``, sorted."""
    return np.sort(np.random.default_rng(seed).choice(n_total, size=min(n, n_total), replace=False))


def posterior_means(model: CVAE, images: np.ndarray, batch_size: int = 1000) -> np.ndarray:
    """The means of q(z|x), ``[N, latent_dim]``, of ``images``, in batches."""
    return np.concatenate([model.encode(x)[0].numpy() for _, x in _batches(images, batch_size)])


def active_units(model: CVAE, images: np.ndarray, threshold: float = 0.01, batch_size: int = 1000) -> int:
    """How many latent dimensions the model uses: Cov_x(E_q[z_u | x]) > ``threshold`` (Burda et al. 2016).

    A unit whose posterior mean does not move with x carries no information
    about x: its KL term has been driven to zero, the posterior equals the prior.
    """
    return int((posterior_means(model, images, batch_size).var(axis=0) > threshold).sum())
