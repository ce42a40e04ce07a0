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
import tensorflow_probability as tfp
from matplotlib.figure import Figure

from vae_lib.config import Dataset
from vae_lib.data import DATASETS
from vae_lib.evaluate import posterior_means
from vae_lib.model import CVAE

# Figures are drawn about as wide as the book's text column, so that text in this size reads at
# the size of the body text. Importing this module sets it for every text of a figure (titles,
# axis labels, tick labels, legends), so that a chapter's own figures match the library's.
LABEL_SIZE = 14
PAGE_WIDTH = 9.0  # inches
plt.rcParams.update(
    dict.fromkeys(
        [
            *("font.size", "axes.titlesize", "axes.labelsize", "xtick.labelsize", "ytick.labelsize"),
            *("legend.fontsize", "legend.title_fontsize", "figure.titlesize"),
        ],
        LABEL_SIZE,
    )
)


def tile(images: np.ndarray, ncols: int) -> np.ndarray:
    """Images ``[N, H, W(, 1)]`` → one ``[rows·H, ncols·W]`` mosaic (blank cells are 0); colour
    images ``[N, H, W, 3]`` → ``[rows·H, ncols·W, 3]``."""
    images = np.asarray(images)
    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    n, h, w = images.shape[:3]
    nrows = -(-n // ncols)
    mosaic = np.zeros((nrows * h, ncols * w, *images.shape[3:]), dtype=images.dtype)
    for i, image in enumerate(images):
        r, c = divmod(i, ncols)
        mosaic[r * h : (r + 1) * h, c * w : (c + 1) * w] = image
    return mosaic


def plot_images(images: np.ndarray, ncols: int = 8, title: str | None = None, scale: float = 0.6) -> Figure:
    """Grey-level images in [0, 1] ``[N, 28, 28, 1]`` (or colour ``[N, H, W, 3]``) as one mosaic."""
    mosaic = tile(images, ncols)
    fig, ax = plt.subplots(figsize=(scale * mosaic.shape[1] / 28, scale * mosaic.shape[0] / 28 + 0.3))
    ax.imshow(np.clip(mosaic, 0.0, 1.0), cmap="gray_r", vmin=0.0, vmax=1.0, interpolation="nearest")
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


def plot_image_rows(rows: dict[str, np.ndarray], title: str | None = None) -> Figure:
    """One strip per entry, its label on the left: images in [0, 1] ``[n, 28, 28, 1]`` side by side."""
    ncols = max(len(images) for images in rows.values())
    cell = min(0.75, PAGE_WIDTH / (ncols + 3))  # inches per image, leaving room for the labels
    fig, axes = plt.subplots(
        len(rows), 1, figsize=(cell * (ncols + 3), cell * 1.15 * len(rows) + 0.4), squeeze=False
    )
    for ax, (label, images) in zip(axes[:, 0], rows.items(), strict=True):
        ax.imshow(tile(np.asarray(images), ncols), cmap="gray_r", vmin=0.0, vmax=1.0, interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_ylabel(label, rotation=0, ha="right", va="center")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_reconstructions(model: CVAE, x: np.ndarray, y: np.ndarray | None = None) -> Figure:
    """Inputs (top row) above their reconstructions (bottom row); ``y``: a conditional model's labels."""
    return plot_image_rows({"input": x, "reconstruction": model.reconstruct(np.asarray(x), y)})


def normal_quantiles(n: int, coverage: float = 0.9) -> np.ndarray:
    """``n`` evenly spaced quantiles of N(0, 1) spanning its central ``coverage`` of the mass."""
    tail = (1.0 - coverage) / 2.0
    return tfp.distributions.Normal(0.0, 1.0).quantile(np.linspace(tail, 1.0 - tail, n)).numpy()


def latent_manifold(model: CVAE, n: int = 20, coverage: float = 0.9) -> np.ndarray:
    """Decode an n×n grid of a 2-D latent space, ``[n·28, n·28]`` probabilities.

    The grid is spaced by quantiles of N(0, 1) (central ``coverage`` of the
    mass), so every cell covers the same prior probability.
    """
    if model.latent_dim != 2:
        raise ValueError(f"the manifold needs a 2-D latent space, this model has {model.latent_dim}")
    q = normal_quantiles(n, coverage)
    z1, z2 = np.meshgrid(q, q[::-1])  # rows go up the z2 axis, as on a plot
    z = np.stack([z1.ravel(), z2.ravel()], axis=1).astype(np.float32)
    return tile(model.decode(z, apply_sigmoid=True).numpy(), n)


def plot_latent_manifold(
    model: CVAE, n: int = 20, dataset: Dataset = "mnist", coverage: float = 0.9
) -> Figure:
    """:func:`latent_manifold` with its axes in z, to hold against :func:`plot_latent_scatter`."""
    q = normal_quantiles(n, coverage)
    fig, ax = plt.subplots(figsize=(8, 8))
    ax.imshow(latent_manifold(model, n, coverage), cmap="gray_r", vmin=0.0, vmax=1.0)
    ticks = np.arange(0, n, max(1, n // 5))
    ax.set_xticks(28 * ticks + 14, [f"{q[i]:.2f}" for i in ticks])
    ax.set_yticks(28 * ticks + 14, [f"{q[::-1][i]:.2f}" for i in ticks])
    ax.set_xlabel("$z_1$ (a grid of N(0, 1) quantiles)")
    ax.set_ylabel("$z_2$")
    ax.set_title(f"Decoded {DATASETS[dataset].name} images over the latent plane")
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


def plot_interpolation(
    model: CVAE, pairs: dict[str, tuple[np.ndarray, np.ndarray]], steps: int = 10
) -> Figure:
    """One labelled row per pair of images: the first image, the walk between their codes, the last."""
    rows = {
        label: np.concatenate([a[None], model.interpolate(a, b, steps), b[None]])
        for label, (a, b) in pairs.items()
    }
    return plot_image_rows(rows, title="Input, decoded walk between the two posterior means, input")


def plot_history(history: Sequence[dict[str, float]]) -> Figure:
    """Training curves: −ELBO (train and held out), and the held-out ELBO's two parts, each on its axis."""
    epoch = [row["epoch"] for row in history]
    # Each part on its own axis: the KL is some 30 times smaller than the reconstruction term.
    fig, (left, middle, right) = plt.subplots(1, 3, figsize=(PAGE_WIDTH, 3.6))
    left.plot(epoch, [row["train_loss"] for row in history], "o-", label="train")
    left.plot(epoch, [-row["test_elbo"] for row in history], "s-", label="held out")
    left.set_title("Loss, −ELBO")
    left.legend()
    middle.plot(epoch, [-row["test_reconstruction"] for row in history], "s-", color="C1")
    middle.set_title("Reconstruction, −E log p(x|z)")
    right.plot(epoch, [row["test_kl"] for row in history], "s-", color="C2")
    right.set_title("KL(q(z|x) ‖ p(z))")
    left.set_ylabel("nats per image")
    for ax in (left, middle, right):
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


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
