"""Evaluation of a trained model on held-out images: the ELBO, the importance-weighted bound, active units.

Every function takes images ``float32 [N, H, W, C]`` (binary, or 8-bit levels k/255, as
:func:`vae_lib.data.test_inputs` gives them) and a batch size. Every figure is a
mean per image, in nats. Image i's noise is drawn from the seed (seed, EVALUATION, i)
(:mod:`vae_lib.streams`), so the same weights give the same figures whatever the batch size.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Iterator

import numpy as np
import tensorflow as tf
from tqdm import tqdm

from vae_lib import streams
from vae_lib.config import Objective
from vae_lib.data import held_out_images, load_dataset
from vae_lib.losses import autoencoder_terms, elbo_terms, log_importance_weights
from vae_lib.model import CVAE
from vae_lib.run import BoundSummary, Metrics, RunFolder

# The seed of the random subset of test images that an importance-weighted bound averages on a CPU.
SUBSET_SEED = 5000
_IMAGES = tf.TensorSpec([None, None, None, None], tf.float32)  # [B, H, W, C]
_INDICES = tf.TensorSpec([None], tf.int64)
# What is told each batch's bounds as they come: (the images' indices [B], L_k [B] nats, seconds).
BoundRecorder = Callable[[np.ndarray, np.ndarray, float], None]


def _batches(
    images: np.ndarray, batch_size: int, indices: np.ndarray | None = None
) -> Iterator[tuple[slice, np.ndarray, np.ndarray]]:
    """(the batch's rows of ``images``, the images' indices, the images) of each batch, in order.

    ``indices`` are the images' places in the set they come from (default: 0, 1, …), which
    name their noise: an image of a subset draws what it would draw in the whole set.
    """
    indices = np.arange(len(images)) if indices is None else np.asarray(indices)
    if len(indices) != len(images):
        raise ValueError(f"{len(indices)} indices for {len(images)} images")
    for start in range(0, len(images), batch_size):
        rows = slice(start, start + batch_size)
        yield rows, indices[rows], images[rows]


def _given_labels(model: CVAE, labels: np.ndarray | None, n: int, use: str) -> np.ndarray:
    """The ``n`` images' labels as ``int32 [n]``; zeros, never read, for a model with no classes."""
    if model.classes and labels is None:
        raise ValueError(f"a conditional model is {use} given the images' labels")
    return np.zeros(n, np.int32) if labels is None else np.asarray(labels, np.int32)


def elbo_per_image(
    model: CVAE,
    images: np.ndarray,
    batch_size: int = 500,
    seed: int = 0,
    labels: np.ndarray | None = None,
    objective: Objective = "elbo",
) -> np.ndarray:
    """ELBO, reconstruction log-likelihood and KL of each of ``images``, ``float64 [N, 3]`` nats.

    The analytic KL (a one-sample estimate for a prior that has none, such as a learned
    mixture) and one posterior sample per image, image i's from (seed, EVALUATION, i).
    A conditional model is given each image's label from ``labels`` (the bound is then on
    log p(x | y)); an autoencoder's row is its objective, log p(x | z = μ), with a KL of 0.
    """
    labels = _given_labels(model, labels, len(images), "evaluated")
    kl = "analytic" if model.prior.closed_form_kl else "monte_carlo"

    @tf.function(input_signature=[_IMAGES, _INDICES, tf.TensorSpec([None], tf.int32)])
    def batch_terms(x: tf.Tensor, indices: tf.Tensor, y: tf.Tensor) -> tf.Tensor:
        y = y if model.classes else None
        if objective == "autoencoder":
            return tf.stack(autoencoder_terms(model, x, y), axis=-1)
        seeds = streams.image_seeds(seed, streams.Stream.EVALUATION, indices)
        return tf.stack(elbo_terms(model, x, seeds, kl=kl, y=y), axis=-1)

    terms = [batch_terms(x, i, labels[rows]).numpy() for rows, i, x in _batches(images, batch_size)]
    return np.concatenate(terms).astype(np.float64)


def evaluate(
    model: CVAE,
    images: np.ndarray,
    batch_size: int = 500,
    seed: int = 0,
    labels: np.ndarray | None = None,
    objective: Objective = "elbo",
) -> dict[str, float]:
    """Mean ELBO, reconstruction log-likelihood and KL per image of ``images``, in nats.

    The means of :func:`elbo_per_image` (:func:`elbo_means`).
    """
    return elbo_means(elbo_per_image(model, images, batch_size, seed, labels, objective))


def elbo_means(per_image: np.ndarray) -> dict[str, float]:
    """The means of :func:`elbo_per_image`'s columns, by the names history.csv and metrics.json give them."""
    elbo, reconstruction, kl = (float(v) for v in per_image.mean(axis=0))
    return {"test_elbo": elbo, "test_reconstruction": reconstruction, "test_kl": kl}


def iw_bounds(
    model: CVAE,
    images: np.ndarray,
    k: int,
    batch_size: int = 10,
    seed: int = 0,
    chunk_size: int = 100,
    progress: bool = True,
    indices: np.ndarray | None = None,
    labels: np.ndarray | None = None,
    record: BoundRecorder | None = None,
) -> np.ndarray:
    """The importance-weighted bound L_k of each image, ``float64 [N]`` nats.

    :func:`vae_lib.losses.importance_weighted_bound`, for k in the thousands: image i's k
    draws of ε come from (seed, EVALUATION, i) at once, and are decoded ``chunk_size`` at a
    time, their log-sum-exp carried from chunk to chunk, so that memory stays bounded
    whatever k is. ``indices`` place the images in their set (see :func:`_batches`); a
    conditional model is given ``labels``, one per image, and bounds log p(x | y).
    ``record`` is given each batch's bounds as soon as they are known (to keep them).
    Costs k decoder passes per image (bench/README.md measures it).
    """
    if k < 1:
        raise ValueError(f"k must be positive, got {k}")

    labels = _given_labels(model, labels, len(images), "bounded")

    @tf.function(input_signature=[_IMAGES, _INDICES, tf.TensorSpec([None], tf.int32)])
    def batch_bounds(x: tf.Tensor, indices: tf.Tensor, y: tf.Tensor) -> tf.Tensor:
        y = y if model.classes else None
        mean, logvar = model.encode(x, y)
        seeds = streams.image_seeds(seed, streams.Stream.EVALUATION, indices)
        eps = tf.transpose(
            streams.normal(tf.stack([tf.size(indices), k, model.latent_dim]), seeds), [1, 0, 2]
        )
        log_sum = tf.fill(tf.shape(indices), -math.inf)  # log Σ of the weights so far, [B]
        for start in tf.range(0, k, chunk_size):
            log_w = log_importance_weights(model, x, mean, logvar, eps[start : start + chunk_size], y)
            log_sum = tf.reduce_logsumexp(tf.concat([log_sum[tf.newaxis], log_w], axis=0), axis=0)
        return log_sum - math.log(k)

    per_batch = []
    with tqdm(total=len(images), desc=f"L_{k}", unit="image", disable=not progress, leave=False) as bar:
        for rows, batch_indices, x in _batches(images, batch_size, indices):
            start = time.perf_counter()
            per_batch.append(batch_bounds(x, batch_indices, labels[rows]).numpy().astype(np.float64))
            if record is not None:
                record(batch_indices, per_batch[-1], time.perf_counter() - start)
            bar.update(len(x))
    return np.concatenate(per_batch) if per_batch else np.zeros(0)


def stderr(values: np.ndarray) -> float:
    """Standard error of the mean of ``values`` (0 for one value)."""
    return float(values.std(ddof=1) / math.sqrt(len(values))) if len(values) > 1 else 0.0


def random_subset(n_total: int, n: int, seed: int = SUBSET_SEED) -> np.ndarray:
    """Indices of ``n`` of ``n_total`` images, drawn without replacement from ``seed``, sorted."""
    return np.sort(np.random.default_rng(seed).choice(n_total, size=min(n, n_total), replace=False))


def bound_summary(
    model: CVAE,
    images: np.ndarray,
    k: int,
    n: int,
    elbos: np.ndarray | None = None,
    progress: bool = True,
    labels: np.ndarray | None = None,
    known: dict[int, tuple[float, float]] | None = None,
    record: BoundRecorder | None = None,
) -> BoundSummary:
    """L_k over all ``images``, or over a random subset of ``n`` of them, as metrics.json keeps it.

    The ELBO is cheap and known for every image (``elbos``, computed if not given); the
    bound, k decoder passes an image, only for the subset. From a subset the mean over
    all images is estimated as the ELBO's mean over all plus the subset's mean gap,
    bound − ELBO. Like the subset's own mean it is unbiased, but the gap varies across
    images far less than the bound does (a hard digit has a low bound and a low ELBO
    alike), so its standard error, that of the mean gap, is several times smaller (a
    difference estimator, as survey sampling calls it).

    ``known`` (index → (bound, seconds), :meth:`vae_lib.run.RunFolder.read_bounds`) are
    images bounded before, by an evaluation that was stopped: only the others are
    bounded, and each is given to ``record``. Image i draws the same noise either way.
    """
    elbos = elbo_per_image(model, images, labels=labels)[:, 0] if elbos is None else elbos
    chosen = np.arange(len(images)) if n >= len(images) else random_subset(len(images), n)
    known = {i: known[i] for i in chosen.tolist() if i in known} if known else {}
    todo = np.array([i for i in chosen.tolist() if i not in known], np.int64)
    start = time.perf_counter()
    new = iw_bounds(
        model,
        images[todo],
        k,
        progress=progress,
        indices=todo,
        labels=None if labels is None else labels[todo],
        record=record,
    )
    bound_of = {i: bound for i, (bound, _) in known.items()}
    bound_of |= dict(zip(todo.tolist(), new.tolist(), strict=True))
    bounds = np.array([bound_of[i] for i in chosen.tolist()])
    gaps = bounds - elbos[chosen]
    return BoundSummary(
        k=k,
        images=len(chosen),
        total=len(images),
        subset_seed=None if len(chosen) == len(images) else SUBSET_SEED,
        mean=float(bounds.mean()),
        stderr=stderr(bounds),
        elbo=float(elbos[chosen].mean()),
        estimate=float(elbos.mean() + gaps.mean()),
        estimate_stderr=stderr(gaps),
        seconds=time.perf_counter() - start + sum(seconds for _, seconds in known.values()),
    )


def evaluate_run(
    run_folder: str | RunFolder,
    k: int = 5000,
    n: int | None = None,
    data_dir: str | None = None,
    progress: bool = True,
) -> Metrics:
    """Evaluate a run's latest checkpoint on its held-out images; add the bound to its metrics.json.

    The images are the run's own protocol (:func:`vae_lib.data.test_inputs`: the
    thresholded test set for a statically trained run, its stochastic twin for a
    dynamic one, the 8-bit levels for ``binarization="none"``; the validation images
    for a ``validation`` run). ``n`` images are
    bounded (default: all on a GPU, 1,000 on a CPU, :func:`bound_summary`). Computed in
    float32, whatever the run trained in. Holds the run folder's lock while it works.
    Each image's bound is kept in the run folder as soon as it is known
    (:meth:`~vae_lib.run.RunFolder.append_bounds`): an evaluation stopped at any point
    resumes where it stopped, to the same figures.
    """
    run = run_folder if isinstance(run_folder, RunFolder) else RunFolder(run_folder)
    run.read_config()  # refuses a folder without a run before the lock would create it
    with run.lock():
        config, model, history = run.load()
        images, labels = held_out_images(load_dataset(config.dataset, data_dir), config)
        labels = labels if config.conditional else None
        if config.objective == "autoencoder":
            raise ValueError(f"{run.path} holds an autoencoder, which has no bound on log p(x) to evaluate")
        per_image = elbo_per_image(model, images, labels=labels)
        if n is None:
            n = len(images) if tf.config.list_physical_devices("GPU") else 1000
        bound = bound_summary(
            model,
            images,
            k,
            n,
            per_image[:, 0],
            progress,
            labels,
            known=run.read_bounds(k),
            record=lambda indices, bounds, seconds: run.append_bounds(k, indices, bounds, seconds),
        )
        # Everything but the bound follows from the checkpoint's history: a metrics.json
        # that is missing (a run stopped early) or damaged is written afresh.
        metrics = dataclasses.replace(
            Metrics.of_history(history, config), **elbo_means(per_image), bound=bound
        )
        run.write_metrics(metrics)
    return metrics


def posterior_means(
    model: CVAE, images: np.ndarray, batch_size: int = 1000, labels: np.ndarray | None = None
) -> np.ndarray:
    """The means of q(z|x) (q(z|x, y) given ``labels``), ``[N, latent_dim]``, of ``images``, in batches."""
    means = []
    for rows, _, x in _batches(images, batch_size):
        y = None if labels is None else tf.constant(labels[rows], tf.int32)
        means.append(model.encode(x, y)[0].numpy())
    return np.concatenate(means)


def active_units(
    model: CVAE,
    images: np.ndarray,
    threshold: float = 0.01,
    batch_size: int = 1000,
    labels: np.ndarray | None = None,
) -> int:
    """How many latent dimensions the model uses: Cov_x(E_q[z_u | x]) > ``threshold`` (Burda et al. 2016).

    A unit whose posterior mean does not move with x carries no information about x:
    its KL term has been driven to zero, the posterior equals the prior.
    """
    return int((posterior_means(model, images, batch_size, labels).var(axis=0) > threshold).sum())
