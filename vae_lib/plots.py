"""Figures: samples, reconstructions, the 2-D latent space, interpolations, curves, GIFs.

Every ``plot_*`` function returns a matplotlib ``Figure`` (a notebook shows it,
the command line saves it); the plain functions return arrays.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import imageio.v2 as imageio
import matplotlib.pyplot as plt
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp
from matplotlib.figure import Figure

from vae_lib.config import Dataset
from vae_lib.data import DATASETS
from vae_lib.evaluate import posterior_means
from vae_lib.model import CVAE
from vae_lib.run import RunFolder


def tile(images: np.ndarray, ncols: int) -> np.ndarray:
    """Images ``[N, H, W(, 1)]`` → one ``[rows·H, ncols·W]`` mosaic (blank cells are 0)."""
    images = np.asarray(images)
    images = images.reshape(images.shape[:3])
    n, h, w = images.shape
    nrows = -(-n // ncols)
    mosaic = np.zeros((nrows * h, ncols * w), dtype=images.dtype)
    for i, image in enumerate(images):
        r, c = divmod(i, ncols)
        mosaic[r * h : (r + 1) * h, c * w : (c + 1) * w] = image
    return mosaic


def plot_images(images: np.ndarray, ncols: int = 8, title: str | None = None, scale: float = 0.6) -> Figure:
    """Grey-level images in [0, 1] ``[N, 28, 28, 1]`` as one mosaic."""
    mosaic = tile(images, ncols)
    fig, ax = plt.subplots(figsize=(scale * mosaic.shape[1] / 28, scale * mosaic.shape[0] / 28 + 0.3))
    ax.imshow(mosaic, cmap="gray_r", vmin=0.0, vmax=1.0, interpolation="nearest")
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


def plot_samples(
    model: CVAE, n: int = 32, seed: int = 0, ncols: int = 8, dataset: Dataset = "mnist"
) -> Figure:
    """Pixel probabilities of p(x|z) for z drawn from the prior N(0, I), of a model of ``dataset``."""
    title = f"Samples from the prior ({DATASETS[dataset].name})"
    return plot_images(model.sample(n, seed=seed).numpy(), ncols, title)


def reconstruct(model: CVAE, x: tf.Tensor) -> np.ndarray:
    """Pixel probabilities decoded from the posterior mean of each image ``[B, 28, 28, 1]``."""
    mean, _ = model.encode(x)
    return model.decode(mean, apply_sigmoid=True).numpy()


def plot_image_rows(rows: dict[str, np.ndarray]) -> Figure:
    """One strip per entry, its label on the left: images in [0, 1] ``[n, 28, 28, 1]`` side by side."""
    ncols = max(len(images) for images in rows.values())
    fig, axes = plt.subplots(len(rows), 1, figsize=(0.6 * ncols, 0.8 * len(rows)), squeeze=False)
    for ax, (label, images) in zip(axes[:, 0], rows.items(), strict=True):
        ax.imshow(tile(np.asarray(images), ncols), cmap="gray_r", vmin=0.0, vmax=1.0, interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_ylabel(label, rotation=0, ha="right", va="center")
    fig.tight_layout()
    return fig


def plot_reconstructions(model: CVAE, x: np.ndarray) -> Figure:
    """Inputs (top row) above their reconstructions (bottom row)."""
    return plot_image_rows({"input": x, "reconstruction": reconstruct(model, np.asarray(x))})


def latent_manifold(model: CVAE, n: int = 20, coverage: float = 0.9) -> np.ndarray:
    """Decode an n×n grid of a 2-D latent space, ``[n·28, n·28]`` probabilities.

    The grid is spaced by quantiles of N(0, 1) (central ``coverage`` of the
    mass), so every cell covers the same prior probability.
    """
    if model.latent_dim != 2:
        raise ValueError(f"the manifold needs a 2-D latent space, this model has {model.latent_dim}")
    tail = (1.0 - coverage) / 2.0
    q = tfp.distributions.Normal(0.0, 1.0).quantile(np.linspace(tail, 1.0 - tail, n)).numpy()
    z1, z2 = np.meshgrid(q, q[::-1])  # rows go up the z2 axis, as on a plot
    z = np.stack([z1.ravel(), z2.ravel()], axis=1).astype(np.float32)
    return tile(model.decode(z, apply_sigmoid=True).numpy(), n)


def plot_latent_manifold(model: CVAE, n: int = 20, dataset: Dataset = "mnist") -> Figure:
    fig, ax = plt.subplots(figsize=(8, 8))
    ax.imshow(latent_manifold(model, n), cmap="gray_r", vmin=0.0, vmax=1.0)
    ax.set_axis_off()
    ax.set_title(f"Decoded {DATASETS[dataset].name} images over a grid of N(0, 1) quantiles")
    fig.tight_layout()
    return fig


def plot_latent_scatter(
    model: CVAE, images: np.ndarray, labels: np.ndarray, dataset: Dataset = "mnist"
) -> Figure:
    """Posterior means of ``images`` of ``dataset`` in a 2-D latent space, coloured by class."""
    if model.latent_dim != 2:
        raise ValueError(f"the scatter needs a 2-D latent space, this model has {model.latent_dim}")
    info = DATASETS[dataset]
    z = posterior_means(model, images)
    fig, ax = plt.subplots(figsize=(7.5, 6.5))
    points = ax.scatter(z[:, 0], z[:, 1], c=labels, cmap="tab10", vmin=-0.5, vmax=9.5, s=2, alpha=0.6)
    colorbar = fig.colorbar(points, ax=ax, ticks=range(len(info.class_names)))
    colorbar.ax.set_yticklabels(info.class_names)
    ax.set_xlabel("$z_1$")
    ax.set_ylabel("$z_2$")
    ax.set_title(f"{info.name} test images in latent space (posterior means)")
    fig.tight_layout()
    return fig


def interpolate(model: CVAE, x_start: np.ndarray, x_end: np.ndarray, steps: int = 10) -> np.ndarray:
    """Decode ``steps`` evenly spaced points between the posterior means of two images ``[28, 28, 1]``."""
    means, _ = model.encode(np.stack([x_start, x_end]))
    t = np.linspace(0.0, 1.0, steps, dtype=np.float32)[:, None]
    z = (1.0 - t) * means[0] + t * means[1]
    return model.decode(z, apply_sigmoid=True).numpy()


def plot_interpolation(
    model: CVAE, pairs: Sequence[tuple[np.ndarray, np.ndarray]], steps: int = 10
) -> Figure:
    """One row per pair of images: the walk between their latent codes."""
    rows = np.concatenate([interpolate(model, a, b, steps) for a, b in pairs])
    return plot_images(rows, ncols=steps, title="Interpolation in latent space")


def plot_history(history: Sequence[dict[str, float]]) -> Figure:
    """Training curves: negative ELBO (train and test), and the test ELBO's two parts."""
    epoch = [row["epoch"] for row in history]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6))
    left.plot(epoch, [row["train_loss"] for row in history], "o-", label="train −ELBO")
    left.plot(epoch, [-row["test_elbo"] for row in history], "s-", label="test −ELBO")
    left.set_ylabel("nats per image")
    left.set_title("Loss (lower is better)")
    right.plot(epoch, [-row["test_reconstruction"] for row in history], "o-", label="−log p(x|z)")
    right.plot(epoch, [row["test_kl"] for row in history], "s-", label="KL(q ‖ p)")
    right.set_title("The two parts of the test loss")
    for ax in (left, right):
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    return fig


class EpochImages:
    """A training hook: after each epoch, decode fixed latent points to the run folder's ``epoch_NNNN.png``.

    Fixed points (the same z every epoch) make the frames a film of learning.
    """

    def __init__(self, out_dir: str | os.PathLike[str], latent_dim: int, n: int = 16, seed: int = 0) -> None:
        self.run = RunFolder(Path(out_dir))
        self.run.path.mkdir(parents=True, exist_ok=True)
        self.z = tf.random.stateless_normal((n, latent_dim), seed=[seed, 1])

    def __call__(self, epoch: int, model: CVAE) -> None:
        probabilities = model.decode(self.z, apply_sigmoid=True).numpy()
        mosaic = tile(probabilities, ncols=int(np.ceil(np.sqrt(len(probabilities)))))
        # Dark digits on white, 3× upscaled so the GIF is readable.
        frame = np.kron(255 - np.round(255 * mosaic), np.ones((3, 3))).astype(np.uint8)
        imageio.imwrite(self.run.epoch_image(epoch), frame)

    def frames(self) -> list[Path]:
        return self.run.epoch_images()


def save_gif(
    frames: Sequence[str | os.PathLike[str]], path: str | os.PathLike[str], seconds_per_frame: float = 0.5
) -> Path:
    """An animated GIF of image files, looping forever; the last frame is held three times as long."""
    if not frames:
        raise ValueError("no frames to animate")
    images = [imageio.imread(f) for f in frames]
    durations = [seconds_per_frame * 1000] * (len(images) - 1) + [seconds_per_frame * 3000]
    imageio.mimsave(path, images, duration=durations, loop=0)
    return Path(path)
