# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 9. Autoencoder and VAE, side by side
#
# [Chapter 6](06_generation.ipynb) credited the KL term with the order of the VAE's latent
# space: neighbouring codes mean similar things, and codes drawn from the prior decode to
# digits. That is a claim about a model it never showed, the plain autoencoder, which has
# the same encoder and decoder and no KL term. This chapter trains it: two models with the
# same networks, the same data and the same recipe, differing in their objective alone.
# Their codes have two dimensions, so that both latent spaces can be drawn whole, and
# then sixteen, where the autoencoder's freedom shows. Last, the same VAE meets a
# harder data set, Fashion-MNIST's clothes.

# %% tags=["hide-cell"]
import sys

if "google.colab" in sys.modules:  # Colab: fetch the companion library; keep Colab's TensorFlow
    import subprocess
    from importlib.metadata import version

    # tf-keras is released in step with TensorFlow: ask for the one that matches Colab's
    # TensorFlow (tf-keras 2.19.x for TensorFlow 2.19), or pip would take the newest
    # tf-keras and upgrade TensorFlow to suit it.
    major, minor = version("tensorflow").split(".")[:2]
    tf_keras = f"tf-keras~={major}.{minor}.0"
    library = "git+https://github.com/vae-book/cvae-mnist-tf@main"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", library, tf_keras], check=True)

# %%
import os
import textwrap

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from vae_lib import data, plots
from vae_lib.book import glue, table
from vae_lib.classifier import book_classifier, confident_fraction
from vae_lib.config import QUICK_ENV, family_run
from vae_lib.evaluate import elbo_per_image, posterior_means, stderr
from vae_lib.model import CVAE
from vae_lib.train import Trained, train

QUICK = os.environ.get(QUICK_ENV) == "1"

# %% [markdown]
# ## Two objectives
#
# Both models encode an image $x$ to a mean $\mu_\phi(x)$ and a log-variance
# $\log \sigma^2_\phi(x)$, and decode a code $z$ to the 784 pixel probabilities of
# $p_\theta(x \mid z)$, with the networks of [chapter 2](02_encoder_decoder.ipynb). The
# **autoencoder** ignores the variance. Its code for $x$ is the mean itself, and training
# maximizes how well that one code brings $x$ back:
#
# $$
# \max_{\theta, \phi}\; \sum_{n=1}^{N} \log p_\theta\bigl(x_n \mid z = \mu_\phi(x_n)\bigr).
# $$ (eq-09-autoencoder)
#
# The **VAE** maximizes the sum of the ELBOs of [chapter 4](04_elbo.ipynb)
# {cite}`kingma2014,rezende2014`,
#
# $$
# \mathcal{L}(x) = \mathbb{E}_{q_\phi(z \mid x)}\bigl[\log p_\theta(x \mid z)\bigr]
# - \mathrm{KL}\bigl(q_\phi(z \mid x) \,\|\, p(z)\bigr), \qquad
# q_\phi(z \mid x) = \mathcal{N}\bigl(\mu_\phi(x), \operatorname{diag} \sigma^2_\phi(x)\bigr),
# $$ (eq-09-elbo)
#
# and for the prior $p(z) = \mathcal{N}(0, I)$ its KL term is, per code dimension $j$,
#
# $$
# \mathrm{KL}\bigl(q_\phi(z \mid x) \,\|\, p(z)\bigr) = \frac{1}{2} \sum_{j}
# \bigl(\mu_j^2 + \sigma_j^2 - 1 - \log \sigma_j^2\bigr).
# $$ (eq-09-kl)
#
# The two objectives differ in two places. The autoencoder's reconstruction is the first
# term of {eq}`eq-09-elbo` with $\sigma \to 0$: it is asked about a single point, and can
# place the codes of two images as close together as it likes, as long as the decoder can
# tell them apart. The VAE's is asked about a whole cloud of codes around $\mu$, and the
# $-\log \sigma_j^2$ of {eq}`eq-09-kl` keeps that cloud from shrinking to a point: each
# image's code must decode to something like it over a region of the latent space, so the
# regions of different images are forced to share borders and the decoder to change
# smoothly across them. The $\mu_j^2$ term pulls all the regions towards the origin, to the
# scale of the prior, so that the prior's samples land on them. The autoencoder has no
# prior at all; where its codes go is up to the optimizer. So goes the argument; the rest of
# the chapter measures what the two differences do.
#
# ## Two models, one recipe
#
# `family_run` is the recipe that chapters [9](09_autoencoder_vs_vae.ipynb) to [12](12_conditional_vae.ipynb) share: the tutorial's networks, trained
# for 10 epochs in batches of 128 at a learning rate of $10^{-3}$ (faster than the
# tutorial's recipe of [chapter 5](05_training.ipynb), and to a better ELBO), each model in
# a folder of its own that is loaded, not retrained, when it holds a finished run. The
# autoencoder differs in one setting, `objective="autoencoder"`. With `VAE_QUICK=1` every
# model of this page trains on 2,000 images for one epoch, and its figures look poorer.


# %% tags=["nbval-ignore-output"]
def trained_model(name: str, latent_dim: int = 2, **changes: object) -> Trained:
    """The family's recipe with ``latent_dim`` and ``changes``, trained in runs/``name`` (or loaded)."""
    config, folder = family_run(name, latent_dim=latent_dim, **changes)
    trained = train(config, folder, progress=False)
    last = trained.history[-1]
    print(f"{folder}: {len(trained.history)} epochs ({trained.epochs_run} trained now);", end=" ")
    print(f"test objective {last['test_elbo']:.2f} nats per image")
    return trained


autoencoder = trained_model("ch09-ae", objective="autoencoder")
vae = trained_model("ch09-vae")

# %% [markdown]
# For the autoencoder the printed objective is {eq}`eq-09-autoencoder` per test image; for
# the VAE it is the ELBO. The two are not the same quantity, and we compare them properly
# below. First the images, and the codes both models give them: the test images, which
# neither model saw, for the figures, and the training images, which they did see, to fit a
# distribution to below.

# %% tags=["nbval-ignore-output"]
mnist = data.load_dataset()
test_images, test_labels = data.binary_test_images(mnist), mnist.test_labels
# The training images a model was trained on: all 60,000, or the reduced run's first 2,000.
train_size = autoencoder.config.train_size
train_images = data.binarize_static(mnist.train_images[:train_size])
train_labels = mnist.train_labels[:train_size]
models = {"autoencoder": autoencoder.model, "VAE": vae.model}
test_codes = {name: posterior_means(model, test_images) for name, model in models.items()}
train_codes = {name: posterior_means(model, train_images) for name, model in models.items()}
print(f"{len(test_images):,} test and {len(train_images):,} training images, codes of shape", end=" ")
print(test_codes["VAE"].shape)

# %% [markdown]
# ## Two maps of the test set
#
# {numref}`fig-09-codes` places each test image at its code, $\mu_\phi(x)$, coloured by its
# label, which neither model was given.


# %% mystnb={"figure": {"caption": "The 10,000 test digits at their codes \u03bc(x), coloured by label: the autoencoder (left) and the VAE (right). Note the axes: each panel has its own scale.", "name": "fig-09-codes"}} tags=["nbval-ignore-output"]
def scatter_codes(
    fig: Figure, ax: Axes, codes: np.ndarray, labels: np.ndarray, classes: tuple[str, ...]
) -> None:
    """Codes ``[N, 2]`` as points coloured by their labels ``[N]``, with a colour bar naming the classes."""
    points = ax.scatter(codes[:, 0], codes[:, 1], c=labels, cmap="tab10", vmin=-0.5, vmax=9.5, s=1, alpha=0.5)
    colorbar = fig.colorbar(points, ax=ax, ticks=range(len(classes)))
    colorbar.ax.set_yticklabels(classes)
    ax.set_xlabel("$z_1$", fontsize=plots.LABEL_SIZE)
    ax.set_ylabel("$z_2$", fontsize=plots.LABEL_SIZE)


def side_by_side(height: float = 4.2) -> tuple[Figure, np.ndarray]:
    """A figure of two panels, left and right, as wide as the page (so its text keeps its size)."""
    return plt.subplots(1, 2, figsize=(plots.PAGE_WIDTH, height))


digits = data.DATASETS["mnist"].class_names
fig, axes = side_by_side()
for ax, (name, codes) in zip(axes, test_codes.items(), strict=True):
    scatter_codes(fig, ax, codes, test_labels, digits)
    ax.set_title(name, fontsize=plots.LABEL_SIZE)
fig.tight_layout()
plt.show()

# %% tags=["nbval-ignore-output"]
spread = {name: codes.std(axis=0) for name, codes in test_codes.items()}
centre = {name: codes.mean(axis=0) for name, codes in test_codes.items()}
for name, short in [("autoencoder", "ae"), ("VAE", "vae")]:
    glue(f"ch09_{short}_std_z1", float(spread[name][0]))
    glue(f"ch09_{short}_std_z2", float(spread[name][1]))
    glue(f"ch09_{short}_mean_z1", float(centre[name][0]))
    glue(f"ch09_{short}_mean_z2", float(centre[name][1]))
    print(
        f"{name:>11}: codes' mean {np.round(centre[name], 2)}, standard deviations", np.round(spread[name], 2)
    )

# %% [markdown]
# Both maps sort the digits by class, without labels: the class is the most economical
# thing to say about a digit in two numbers, whichever objective asks for them. (A map like
# the autoencoder's, from a deep fully connected autoencoder, is how {cite:t}`hinton2006`
# showed that such networks find far better codes than principal components do.) Neither
# sorts them perfectly: in both, 4s, 7s and 9s share a region, and so do 3s, 5s and 8s.
#
# The plainest difference is place and scale. The VAE's codes are centred near the origin,
# at ({glue:text}`ch09_vae_mean_z1:.2f`, {glue:text}`ch09_vae_mean_z2:.2f`), with standard
# deviations of {glue:text}`ch09_vae_std_z1:.2f` and {glue:text}`ch09_vae_std_z2:.2f`: the
# prior's scale, as the $\mu_j^2$ and $\sigma_j^2$ terms of {eq}`eq-09-kl` ask. The
# autoencoder's sit at ({glue:text}`ch09_ae_mean_z1:.2f`, {glue:text}`ch09_ae_mean_z2:.2f`),
# with standard deviations of {glue:text}`ch09_ae_std_z1:.2f` and
# {glue:text}`ch09_ae_std_z2:.2f`, where its optimizer happened to leave them: moving or
# stretching all codes changes nothing in {eq}`eq-09-autoencoder` if the decoder's first
# layer undoes it. Its cloud has lobes, and an arm of 1s, but it is a cloud, not a few
# separate islands: with two numbers per image, 60,000 images fill the plane whether or
# not anything asks them to.
#
# ## Between and around the codes
#
# What does each decoder make of the rest of the plane? {numref}`fig-09-grids` decodes a
# 20 × 20 grid spread evenly over each model's own range of codes: from the 0.5th to the
# 99.5th percentile of its training images' codes in each coordinate, so that a few stray
# codes do not set the scale. Hold it against {numref}`fig-09-codes`, whose axes are in the
# same units.


# %% mystnb={"figure": {"caption": "The decoders over a 20 \u00d7 20 grid, evenly spaced over each model's range of codes (0.5th to 99.5th percentile of the training images' codes): the autoencoder (left) and the VAE (right).", "name": "fig-09-grids"}} tags=["nbval-ignore-output"]
def code_box(codes: np.ndarray, tail: float = 0.5) -> np.ndarray:
    """The box holding all but ``tail`` percent of ``codes`` ``[N, 2]`` at either end of each axis.

    ``[2, 2]``: row 0 the lower corner (z1, z2), row 1 the upper one.
    """
    return np.percentile(codes, [tail, 100.0 - tail], axis=0)


def decode_grid(model: CVAE, z1: np.ndarray, z2: np.ndarray) -> np.ndarray:
    """Decode every (z1, z2) of two axes ``[n]``, one mosaic ``[n·28, n·28]``, z2 rising up the rows."""
    g1, g2 = np.meshgrid(z1, z2[::-1])
    z = np.stack([g1.ravel(), g2.ravel()], axis=1).astype(np.float32)
    return plots.tile(model.decode(z, apply_sigmoid=True).numpy(), len(z1))


def show_mosaic(ax: Axes, mosaic: np.ndarray, z1: np.ndarray, z2: np.ndarray, title: str) -> None:
    """A :func:`decode_grid` mosaic with its axes labelled by the codes (five ticks each)."""
    ax.imshow(mosaic, cmap="gray_r", vmin=0.0, vmax=1.0)
    n = len(z1)
    ticks = np.linspace(0, n - 1, 5).round().astype(int)
    ax.set_xticks(28 * ticks + 14, [f"{z1[i]:.2f}" for i in ticks])
    ax.set_yticks(28 * ticks + 14, [f"{z2[::-1][i]:.2f}" for i in ticks])
    ax.set_xlabel("$z_1$", fontsize=plots.LABEL_SIZE)
    ax.set_ylabel("$z_2$", fontsize=plots.LABEL_SIZE)
    ax.set_title(title, fontsize=plots.LABEL_SIZE)


boxes = {name: code_box(codes) for name, codes in train_codes.items()}
fig, axes = side_by_side(height=5.0)
for ax, (name, model) in zip(axes, models.items(), strict=True):
    z1, z2 = (np.linspace(*boxes[name][:, j], 20) for j in range(2))
    show_mosaic(ax, decode_grid(model, z1, z2), z1, z2, name)
fig.tight_layout()
plt.show()

# %% [markdown]
# Both decoders give digits over most of their box, each morphing into its neighbours: the
# VAE's grid is the manifold of [chapter 6](06_generation.ipynb), and the autoencoder's,
# on a grid stretched to its larger range, looks much the same. Where a box's corner holds
# no codes, both produce faint, broken strokes that are no digit (the top left of the
# autoencoder's, the top right of the VAE's); elsewhere a decoder that is smooth in $z$
# fills the few gaps between codes by continuity.
#
# Walking from one test digit's code to another's ({numref}`fig-09-walks`, along the
# straight line {eq}`eq-06-line` of [chapter 6](06_generation.ipynb) in each latent space)
# crosses the space between them.

# %% mystnb={"figure": {"caption": "Walks between the codes of the first test digits of three pairs of classes, in each model: the first digit, ten decoded points of the straight line between the two codes, the second digit.", "name": "fig-09-walks"}} tags=["nbval-ignore-output"]
first_of = {digit: int(np.argmax(test_labels == digit)) for digit in range(10)}
walks = {}
for a, b in [(1, 7), (3, 8), (0, 6)]:
    start, end = test_images[first_of[a]], test_images[first_of[b]]
    for name, model in models.items():
        walks[f"{name}, {a} → {b}"] = np.concatenate([start[None], model.interpolate(start, end), end[None]])
plots.plot_image_rows(walks)
plt.show()

# %% [markdown]
# The walks are much alike too. Both models pass through 5s on the way from 3 to 8, and
# both turn the 1 into a 7 through the same blotted hybrids. The decoded ends are
# reconstructions, not the digits: the VAE reconstructs this 6 as a 0, and its walk never
# leaves the 0s.
#
# ## Drawing new codes
#
# To generate with a VAE we draw codes from its prior. The autoencoder has no prior, but
# we can give it one after the fact: fit a Gaussian $\mathcal{N}(m, C)$ to the codes of its
# training images, with $m$ their mean and $C$ their covariance, draw codes from it and
# decode them. We do the same for the VAE, whose fitted Gaussian should be close to its
# prior, and draw from the prior $\mathcal{N}(0, I)$ too ({numref}`fig-09-samples`).

# %% tags=["nbval-ignore-output"]
Gaussian = tuple[np.ndarray, np.ndarray]  # mean [d] and covariance [d, d]


def fitted_gaussian(codes: np.ndarray) -> Gaussian:
    """The mean and covariance of ``codes`` ``[N, d]``."""
    return codes.mean(axis=0), np.cov(codes.T)


def standard_normal(dim: int) -> Gaussian:
    """The prior N(0, I) of a ``dim``-dimensional code."""
    return np.zeros(dim), np.eye(dim)


def draw(gaussian: Gaussian, n: int, seed: int) -> np.ndarray:
    """``n`` codes ``float32 [n, d]`` drawn from ``gaussian``."""
    return np.random.default_rng(seed).multivariate_normal(*gaussian, size=n).astype(np.float32)


def decoded(model: CVAE, codes: np.ndarray) -> np.ndarray:
    """Pixel probabilities ``[N, 28, 28, 1]`` of ``codes`` ``[N, d]``."""
    return model.decode(codes, apply_sigmoid=True).numpy()


# label → (the model that decodes, the Gaussian its codes are drawn from)
samplers = {
    "autoencoder, fitted": ("autoencoder", fitted_gaussian(train_codes["autoencoder"])),
    "VAE, fitted": ("VAE", fitted_gaussian(train_codes["VAE"])),
    "VAE, prior": ("VAE", standard_normal(2)),
}
for label, (_, (mean, covariance)) in samplers.items():
    print(f"{label:>19}: m = {np.round(mean, 2)}, C = {np.round(covariance, 2).tolist()}")
for label, short in [("autoencoder, fitted", "ae"), ("VAE, fitted", "vae")]:
    mean, covariance = samplers[label][1]
    glue(f"ch09_{short}_fit_mean_z1", float(mean[0]))
    glue(f"ch09_{short}_fit_mean_z2", float(mean[1]))
    glue(f"ch09_{short}_fit_var_z1", float(covariance[0, 0]))
    glue(f"ch09_{short}_fit_var_z2", float(covariance[1, 1]))
    glue(f"ch09_{short}_fit_cov", float(covariance[0, 1]))

# %% mystnb={"figure": {"caption": "Codes drawn from a Gaussian fitted to each model's training codes, decoded (top two rows), and codes drawn from the VAE's prior N(0, I), decoded by the VAE (bottom row).", "name": "fig-09-samples"}} tags=["nbval-ignore-output"]
plots.plot_image_rows(
    {label: decoded(models[name], draw(gaussian, 16, seed=1)) for label, (name, gaussian) in samplers.items()}
)
plt.show()

# %% [markdown]
# The VAE's fitted Gaussian is near its prior: variances of
# {glue:text}`ch09_vae_fit_var_z1:.2f` and {glue:text}`ch09_vae_fit_var_z2:.2f`, covariance
# {glue:text}`ch09_vae_fit_cov:.2f`. The autoencoder's is centred at
# ({glue:text}`ch09_ae_fit_mean_z1:.2f`, {glue:text}`ch09_ae_fit_mean_z2:.2f`), with
# variances of {glue:text}`ch09_ae_fit_var_z1:.2f` and {glue:text}`ch09_ae_fit_var_z2:.2f`
# and covariance {glue:text}`ch09_ae_fit_cov:.2f`: a prior no one could have written down
# before training. Decoded, all three give digits, blurry ones as in [chapter 6](06_generation.ipynb), among
# shapes between digits, and by eye there is little to choose between them. Two
# measurements can choose.
#
# ## What the KL term buys
#
# ### Codes where the codes are
#
# Divide each model's box of {numref}`fig-09-grids` into 40 × 40 cells, and call a cell
# *reached* if the code of at least one training image falls in it. Decoding an unreached
# cell asks the decoder about a place it was never trained on. {numref}`fig-09-holes`
# shows the reached cells, with the contour of each fitted Gaussian that holds 86% of its
# samples (two standard deviations: $1 - e^{-2}$ of the mass in two dimensions).

# %% tags=["nbval-ignore-output", "remove-output"]
CELLS = 40  # per axis of a model's box: 1,600 cells, some 37 training codes per cell on average


def reached_cells(codes: np.ndarray, box: np.ndarray) -> np.ndarray:
    """Whether each of CELLS × CELLS cells of ``box`` holds one of ``codes`` ``[N, 2]``: bool ``[z1, z2]``."""
    counts, _, _ = np.histogram2d(codes[:, 0], codes[:, 1], bins=CELLS, range=box.T)
    return counts > 0


def unreached_share(z: np.ndarray, reached: np.ndarray, box: np.ndarray) -> float:
    """The share of codes ``z`` ``[N, 2]`` that fall in an unreached cell of ``box`` or outside it."""
    cell = np.floor((z - box[0]) / (box[1] - box[0]) * CELLS).astype(int)
    inside = np.all((cell >= 0) & (cell < CELLS), axis=1)
    hit = np.zeros(len(z), bool)
    hit[inside] = reached[cell[inside, 0], cell[inside, 1]]
    return float(1.0 - hit.mean())


reached = {name: reached_cells(codes, boxes[name]) for name, codes in train_codes.items()}
holes = {name: 1.0 - float(cells.mean()) for name, cells in reached.items()}
glue("ch09_ae_holes", 100 * holes["autoencoder"])
glue("ch09_vae_holes", 100 * holes["VAE"])


# %% mystnb={"figure": {"caption": "The cells of each model's box that a training image's code reaches (grey) and that none does (white), with the contour of the fitted Gaussian holding 86 % of its mass (orange) and, for the VAE, the prior's (blue, dashed).", "name": "fig-09-holes"}} tags=["nbval-ignore-output"]
def two_sigma_contour(gaussian: Gaussian) -> np.ndarray:
    """Points ``[200, 2]`` of the ellipse at Mahalanobis distance 2 from a 2-D ``gaussian``'s mean."""
    mean, covariance = gaussian
    angle = np.linspace(0.0, 2 * np.pi, 200)
    circle = 2.0 * np.stack([np.cos(angle), np.sin(angle)], axis=1)
    return mean + circle @ np.linalg.cholesky(covariance).T


fig, axes = side_by_side(height=4.6)
for ax, name in zip(axes, models, strict=True):
    box = boxes[name]
    extent = (box[0, 0], box[1, 0], box[0, 1], box[1, 1])
    ax.imshow(reached[name].T, origin="lower", extent=extent, aspect="auto", cmap="Greys", vmin=0, vmax=2.5)
    ax.plot(
        *two_sigma_contour(samplers[f"{name}, fitted"][1]).T, color="tab:orange", lw=2, label="fitted N(m, C)"
    )
    if name == "VAE":
        ax.plot(*two_sigma_contour(standard_normal(2)).T, "--", color="tab:blue", lw=2, label="N(0, I)")
    ax.set_xlim(extent[:2])
    ax.set_ylim(extent[2:])
    ax.set_title(f"{name}: {holes[name]:.0%} of the box unreached", fontsize=plots.LABEL_SIZE)
    ax.set_xlabel("$z_1$", fontsize=plots.LABEL_SIZE)
    ax.set_ylabel("$z_2$", fontsize=plots.LABEL_SIZE)
    ax.legend(loc="upper right")
fig.tight_layout()
plt.show()

# %% [markdown]
# What matters for generating, though, is not the area of the holes but how often the
# samples fall into them. {numref}`tab-09-unreached` counts that for 100,000 codes from
# each Gaussian, and for the test images' own codes, which show how well a sampler could
# do that drew codes exactly as the encoder makes them. It also asks a second judge: a
# small convolutional classifier of MNIST (`vae_lib.classifier`, the one of
# [chapter 12](12_conditional_vae.ipynb), which names
# {glue:text}`ch09_classifier_accuracy:.1f`% of the test digits correctly), which says of
# each of 2,000 decoded codes whether it takes it for some digit with a probability of at
# least 0.9.

# %% tags=["nbval-ignore-output"]
classifier = book_classifier(mnist)
JUDGED = 2000  # decoded codes per sampler that the classifier judges
real_confident = confident_fraction(classifier, test_images[:JUDGED])
glue("ch09_classifier_accuracy", 100 * classifier.test_accuracy)
glue("ch09_real_confident", 100 * real_confident)
glue("ch09_share_stderr", 100 * np.sqrt(0.25 / JUDGED))  # the largest standard error of a share of JUDGED
print(f"classifier: {classifier.test_accuracy:.2%} of the test digits right,", end=" ")
print(f"sure (p ≥ 0.9) of {real_confident:.1%} of the first {JUDGED:,}")


def confident_samples(model: CVAE, gaussian: Gaussian) -> float:
    """The share of JUDGED codes drawn from ``gaussian`` and decoded that the classifier is sure of."""
    return confident_fraction(classifier, decoded(model, draw(gaussian, JUDGED, seed=2)))


rows = []
for name, model in models.items():
    test_share = unreached_share(test_codes[name], reached[name], boxes[name])
    confident = confident_fraction(classifier, model.reconstruct(test_images[:JUDGED]))
    rows.append([name, "the test images' codes", f"{test_share:.1%}", f"{confident:.1%}"])
    glue(f"ch09_{name.lower()}_test_unreached", 100 * test_share)
    glue(f"ch09_{name.lower()}_test_confident", 100 * confident)
sure = {}  # sampler label → share of its decoded codes the classifier is sure of
for label, (name, gaussian) in samplers.items():
    share = unreached_share(draw(gaussian, 100_000, seed=2), reached[name], boxes[name])
    confident = sure[label] = confident_samples(models[name], gaussian)
    gaussian_name = "N(0, I)" if label.endswith("prior") else "the fitted N(m, C)"
    rows.append([name, gaussian_name, f"{share:.1%}", f"{confident:.1%}"])
    short = label.split(",")[0].lower() if label.endswith("fitted") else "prior"
    glue(f"ch09_{short}_unreached", 100 * share)
    glue(f"ch09_{short}_confident", 100 * confident)
table(
    ["model", "codes", "unreached", "classifier sure"],
    rows,
    align="llrr",
    caption="Where codes fall, and what they decode to: the share of codes in an unreached cell of the"
    " model's box or outside it (10,000 test images' codes, or 100,000 drawn), and the share of"
    " 2,000 decoded codes that the classifier takes for some digit with probability ≥ 0.9.",
    name="tab-09-unreached",
)

# %% [markdown]
# No training image reaches {glue:text}`ch09_ae_holes:.0f`% of the autoencoder's box and
# {glue:text}`ch09_vae_holes:.0f`% of the VAE's, mostly at the corners, outside the bulk of
# the fitted Gaussians ({numref}`fig-09-holes`). So the samples rarely go there
# ({numref}`tab-09-unreached`): {glue:text}`ch09_autoencoder_unreached:.1f`% of the codes
# drawn from the autoencoder's fitted Gaussian, {glue:text}`ch09_vae_unreached:.1f`% from
# the VAE's and {glue:text}`ch09_prior_unreached:.1f`% from its prior, against
# {glue:text}`ch09_autoencoder_test_unreached:.1f`% and
# {glue:text}`ch09_vae_test_unreached:.1f`% of the test images' codes (of which up to 2%
# must fall outside a box cut at the 0.5th and 99.5th percentiles of each of the two
# coordinates, so that nearly all of these are the box's edge, not holes). The classifier is sure
# of {glue:text}`ch09_autoencoder_confident:.1f`% of the autoencoder's samples,
# {glue:text}`ch09_vae_confident:.1f`% of the VAE's fitted ones and
# {glue:text}`ch09_prior_confident:.1f`% of its prior's; of real test digits it is sure of
# {glue:text}`ch09_real_confident:.1f`%, and of the two models' reconstructions of them
# {glue:text}`ch09_autoencoder_test_confident:.1f`% and
# {glue:text}`ch09_vae_test_confident:.1f`%.
#
# Each share of the last column has a standard error of at most
# {glue:text}`ch09_share_stderr:.1f` points. The classifier is sure of fewer reconstructions
# than real digits. Blur alone does not explain it: [chapter 12](12_conditional_vae.ipynb)'s
# two-dimensional conditional samples are as blurred and are read as their label about as
# often as real digits. What a two-number code loses is more likely the digit itself, for
# images whose codes lie where the clusters of two digits meet; the samples are judged by
# the same standard. By both measures the VAE's samples are a little better, and its prior is
# about as good a sampler as the Gaussian fitted to its codes after training. But the
# differences are a few points, not the gulf between a generator and a model that cannot
# generate. In two dimensions that is the bottleneck's doing: two numbers per image leave
# the autoencoder no room to scatter its codes.
#
# ### Reconstructions, and what they cost
#
# The price of the KL term, by the argument of {eq}`eq-09-kl`, is reconstruction. Decoding
# each test image's code $\mu_\phi(x)$ ({numref}`fig-09-reconstructions`) compares the
# two models, and the log-likelihood $\log p_\theta(x \mid z = \mu_\phi(x))$, the
# objective {eq}`eq-09-autoencoder`, measures them; for the VAE we add the two terms of its
# ELBO ({numref}`tab-09-mnist`).

# %% mystnb={"figure": {"caption": "The first 16 test digits (top) and their reconstructions decoded from \u03bc(x) by the autoencoder and by the VAE.", "name": "fig-09-reconstructions"}} tags=["nbval-ignore-output"]
originals = test_images[:16]
plots.plot_image_rows(
    {"input": originals} | {name: model.reconstruct(originals) for name, model in models.items()}
)
plt.show()


# %% tags=["nbval-ignore-output"]
def at_the_mean(model: CVAE, images: np.ndarray) -> np.ndarray:
    """log p(x | z = μ(x)) of each image ``[N]``, nats: the autoencoder's objective, for either model."""
    return elbo_per_image(model, images, objective="autoencoder")[:, 0]


# Column heads of the tables (a bare | would end a Markdown table's cell).
AT_MEAN, KL = "$\\log p(x \\mid z = \\mu)$", "$\\mathrm{KL}(q \\,\\Vert\\, p)$"
reconstruction = {name: at_the_mean(model, test_images) for name, model in models.items()}
vae_terms = elbo_per_image(vae.model, test_images)  # [N, 3]: ELBO, E_q log p(x|z), KL
table(
    ["model", AT_MEAN, "$\\mathbb{E}_q \\log p(x \\mid z)$", KL, "ELBO"],
    [
        ["autoencoder", f"{reconstruction['autoencoder'].mean():.2f}", "—", "—", "—"],
        [
            "VAE",
            f"{reconstruction['VAE'].mean():.2f}",
            *(f"{v:.2f}" for v in vae_terms.mean(axis=0)[[1, 2, 0]]),
        ],
    ],
    align="lrrrr",
    caption="The two MNIST models on the 10,000 test images, nats per image (the autoencoder has no"
    " distribution q and no prior, so no KL and no ELBO).",
    name="tab-09-mnist",
)

# %% tags=["nbval-ignore-output"]
gap = reconstruction["VAE"] - reconstruction["autoencoder"]


def last_epoch_gain(trained: Trained) -> float:
    """How much the test objective rose in the last epoch, nats per image (NaN after one epoch)."""
    history = trained.history
    return history[-1]["test_elbo"] - history[-2]["test_elbo"] if len(history) > 1 else float("nan")


last_gain = {"ae": last_epoch_gain(autoencoder), "vae": last_epoch_gain(vae)}
glue("ch09_ae_reconstruction", float(reconstruction["autoencoder"].mean()))
glue("ch09_vae_at_mean", float(reconstruction["VAE"].mean()))
glue("ch09_gap", float(gap.mean()))
glue("ch09_gap_stderr", stderr(gap))
glue("ch09_ae_better_share", 100 * float((gap < 0).mean()))
glue("ch09_vae_elbo", float(vae_terms[:, 0].mean()))
glue("ch09_vae_expected", float(vae_terms[:, 1].mean()))
glue("ch09_vae_kl", float(vae_terms[:, 2].mean()))
for short, gain in last_gain.items():
    glue(f"ch09_{short}_last_gain", gain)
print(f"VAE − autoencoder, log p(x | z = μ): {gap.mean():.2f} ± {stderr(gap):.2f} nats per image")
print(f"the autoencoder reconstructs {(gap < 0).mean():.1%} of the test images better")
print("gain of the test objective in the last epoch:", {k: round(v, 2) for k, v in last_gain.items()})

# %% [markdown]
# The price is not paid here. The VAE reconstructs a test image with a log-likelihood of
# {glue:text}`ch09_vae_at_mean:.2f` nats on average, the autoencoder with
# {glue:text}`ch09_ae_reconstruction:.2f`: the VAE is better by {glue:text}`ch09_gap:.2f` ±
# {glue:text}`ch09_gap_stderr:.2f` nats per image, and the autoencoder better on only
# {glue:text}`ch09_ae_better_share:.0f`% of the test images. {eq}`eq-09-autoencoder` does
# not allow that at its optimum: the VAE's encoder mean and decoder are a choice of the
# autoencoder's networks too, so the best autoencoder reconstructs at least as well as any
# VAE. Ours is not the best one. In its tenth epoch its objective still rose by
# {glue:text}`ch09_ae_last_gain:.2f` nats, while the VAE's ELBO changed by
# {glue:text}`ch09_vae_last_gain:.2f`: ten epochs of this recipe were enough for the VAE and
# not for the autoencoder, as if the noise and the prior made the VAE's problem the easier
# one to optimize. With the same training, the KL term cost these two-dimensional codes
# nothing in reconstruction.
#
# It costs nats in the ELBO. The VAE's expected reconstruction under $q_\phi(z \mid x)$,
# {glue:text}`ch09_vae_expected:.2f`, is below its reconstruction at the mean, because a
# code drawn from the posterior is a noisier code than $\mu$ itself; and its ELBO
# subtracts the KL term, {glue:text}`ch09_vae_kl:.2f` nats, to reach
# {glue:text}`ch09_vae_elbo:.2f` nats per image. That ELBO is a bound on
# $\log p_\theta(x)$, the log-probability that the VAE *as a generator* gives the image:
# draw $z$ from the prior, decode. The autoencoder's {glue:text}`ch09_ae_reconstruction:.2f`
# nats is no such thing. It is the probability of $x$ given the one code chosen by looking
# at $x$, and says nothing about how probable $x$ is among the images the autoencoder could
# generate, which without a prior is not even defined.
#
# ## In sixteen dimensions
#
# Two numbers per image are a tight bottleneck, and it did much of the KL term's work for
# it. Give both models sixteen, as `latent_dim=16` (the same recipe otherwise), and the
# autoencoder is free to put its codes wherever they serve reconstruction best.

# %% tags=["nbval-ignore-output"]
autoencoder16 = trained_model("ch09-ae-16", latent_dim=16, objective="autoencoder")
vae16 = trained_model("ch09-vae-16", latent_dim=16)
models16 = {"autoencoder": autoencoder16.model, "VAE": vae16.model}
samplers16 = {
    "autoencoder, fitted": (
        "autoencoder",
        fitted_gaussian(posterior_means(autoencoder16.model, train_images)),
    ),
    "VAE, fitted": ("VAE", fitted_gaussian(posterior_means(vae16.model, train_images))),
    "VAE, prior": ("VAE", standard_normal(16)),
}

# %% mystnb={"figure": {"caption": "With 16-dimensional codes: codes drawn from a Gaussian fitted to each model's training codes, decoded (top two rows), and codes drawn from the VAE's prior, decoded by the VAE (bottom row).", "name": "fig-09-samples-16"}} tags=["nbval-ignore-output"]
plots.plot_image_rows(
    {
        label: decoded(models16[name], draw(gaussian, 16, seed=1))
        for label, (name, gaussian) in samplers16.items()
    }
)
plt.show()

# %% tags=["nbval-ignore-output"]
reconstruction16 = {name: at_the_mean(model, test_images) for name, model in models16.items()}
vae16_terms = elbo_per_image(vae16.model, test_images)
sure16 = {
    label: confident_samples(models16[name], gaussian) for label, (name, gaussian) in samplers16.items()
}
summary = []  # per model: code size, name, log p(x | z = μ), KL, ELBO, sure of fitted, sure of prior
for dim, at_means, terms, judged in [
    (2, reconstruction, vae_terms, sure),
    (16, reconstruction16, vae16_terms, sure16),
]:
    elbo, _, kl = terms.mean(axis=0)
    summary.append(
        (dim, "autoencoder", at_means["autoencoder"].mean(), None, None, judged["autoencoder, fitted"], None)
    )
    summary.append(
        (dim, "VAE", at_means["VAE"].mean(), kl, elbo, judged["VAE, fitted"], judged["VAE, prior"])
    )
glue("ch09_ae16_at_mean", float(reconstruction16["autoencoder"].mean()))
glue("ch09_vae16_at_mean", float(reconstruction16["VAE"].mean()))
glue("ch09_vae16_elbo", float(vae16_terms[:, 0].mean()))
glue("ch09_vae16_kl", float(vae16_terms[:, 2].mean()))
for label, short in [
    ("autoencoder, fitted", "ae16_fitted"),
    ("VAE, fitted", "vae16_fitted"),
    ("VAE, prior", "vae16_prior"),
]:
    glue(f"ch09_{short}_confident", 100 * sure16[label])
gap16 = reconstruction16["autoencoder"] - reconstruction16["VAE"]
glue("ch09_gap16", float(gap16.mean()))
glue("ch09_gap16_stderr", stderr(gap16))
print(f"16-D, autoencoder − VAE, log p(x | z = μ): {gap16.mean():.2f} ± {stderr(gap16):.2f} nats per image")


def cell(value: float | None, form: str) -> str:
    """A table cell: ``value`` in ``form``, or a dash where a model has no such number."""
    return "—" if value is None else format(value, form)


table(
    ["code", "model", AT_MEAN, KL, "ELBO", "sure, fitted", "sure, prior"],
    [
        [
            f"{dim}-D",
            name,
            cell(at_mean, ".2f"),
            cell(kl, ".2f"),
            cell(elbo, ".2f"),
            cell(fitted, ".1%"),
            cell(prior, ".1%"),
        ]
        for dim, name, at_mean, kl, elbo, fitted, prior in summary
    ],
    align="llrrrrr",
    caption="Both pairs on MNIST's test images, nats per image, and the share of 2,000 decoded codes,"
    " drawn from the fitted Gaussian or the prior, that the classifier takes for some digit with"
    " probability ≥ 0.9.",
    name="tab-09-sixteen",
)

# %% [markdown]
# With sixteen numbers per image both models reconstruct far better than with two
# ({numref}`tab-09-sixteen`), and now the autoencoder is the better one:
# $\log p_\theta(x \mid z = \mu)$ is {glue:text}`ch09_ae16_at_mean:.2f` nats against the
# VAE's {glue:text}`ch09_vae16_at_mean:.2f`, a difference of {glue:text}`ch09_gap16:.2f` ±
# {glue:text}`ch09_gap16_stderr:.2f` nats per image. The KL term has grown to
# {glue:text}`ch09_vae16_kl:.2f` nats, and the VAE's ELBO is
# {glue:text}`ch09_vae16_elbo:.2f`: the price of the KL term is paid far more in the bound
# than in the reconstruction.
#
# Generation, though, stays close ({numref}`fig-09-samples-16`). The classifier is sure of
# {glue:text}`ch09_ae16_fitted_confident:.1f`% of the autoencoder's samples from its fitted
# Gaussian, {glue:text}`ch09_vae16_fitted_confident:.1f`% of the VAE's and
# {glue:text}`ch09_vae16_prior_confident:.1f`% of those from its prior. A Gaussian fitted
# to an autoencoder's codes after training, with a full covariance, is about as good a
# sampler here as the VAE's prior. On this evidence what the KL term buys is less the
# quality of the samples than two things the autoencoder lacks altogether: a prior known
# before training, the same for every model, so that codes can be drawn without looking at
# any; and the ELBO, a bound on $\log p_\theta(x)$ by which models can be compared, as
# [chapter 8](08_papers.ipynb) compares them with the papers'. With larger codes than these,
# or longer training, an autoencoder's codes may drift further from any Gaussian; the
# exercises try it.
#
# ## Fashion-MNIST
#
# Fashion-MNIST {cite}`xiao2017` was made to replace MNIST as the first data set to try:
# 70,000 grey images of Zalando's articles of clothing, 28 × 28 pixels in ten classes, in
# exactly MNIST's format and split, so that any code that reads one reads the other. Its
# classes are harder to keep apart (shirts, pullovers and coats look much alike), and its
# images are not strokes on a blank page but filled shapes with texture and shading. The
# library reads it from a folder named by the variable `VAE_FASHION_DATA_DIR` (Debian's
# package `dataset-fashion-mnist` installs one in `/usr/share/datasets/fashion-mnist`),
# which is how this book is built offline; without it Keras downloads the data.
#
# The model is given what it is given on MNIST: images thresholded at grey level 0.5.
# For clothes that is a harsher cut than for digits ({numref}`fig-09-fashion-data`).

# %% mystnb={"figure": {"caption": "The first Fashion-MNIST test image of each class, as grey levels (top) and thresholded at 0.5 (bottom), which is what the models are trained on and judged by.", "name": "fig-09-fashion-data"}}
fashion = data.load_dataset("fashion_mnist")
clothes = data.DATASETS["fashion_mnist"].class_names
first_of_class = [int(np.argmax(fashion.test_labels == c)) for c in range(len(clothes))]
examples = fashion.test_images[first_of_class]
plots.plot_image_rows(
    {"grey": data.to_unit_interval(examples), "thresholded": data.binarize_static(examples)}
)
plt.show()


# %%
def share_changed_by_thresholding(images: np.ndarray) -> float:
    """Σ|g − 1[g > 0.5]| / Σ g over ``uint8`` images: how much of their grey is lost or added, a share."""
    grey = data.to_unit_interval(images)
    return float(np.abs(grey - (grey > 0.5)).sum() / grey.sum())


changed = {
    name: share_changed_by_thresholding(d.test_images) for name, d in [("MNIST", mnist), ("Fashion", fashion)]
}
black = {
    name: float(data.binarize_static(d.test_images).mean())
    for name, d in [("MNIST", mnist), ("Fashion", fashion)]
}
glue("ch09_mnist_changed", 100 * changed["MNIST"])
glue("ch09_fashion_changed", 100 * changed["Fashion"])
glue("ch09_mnist_black", 100 * black["MNIST"])
glue("ch09_fashion_black", 100 * black["Fashion"])
for name in changed:
    print(f"{name}: thresholding changes {changed[name]:.1%} of the grey; {black[name]:.1%} of pixels are on")

# %% [markdown]
# Thresholding moves {glue:text}`ch09_mnist_changed:.0f`% of the grey of MNIST's test
# images (the anti-aliased edges of the strokes) and
# {glue:text}`ch09_fashion_changed:.0f`% of Fashion-MNIST's. The texture of a pullover, the
# print on a T-shirt, the parts of a sandal darker than 0.5: all of this is gone. A pale
# hoodie keeps little more than its outline, a sandal a few straps, and a dark bag turns
# into a solid block; what is left is mostly a silhouette. The models below learn
# silhouettes, and their numbers are on thresholded clothes: they are comparable with each
# other, not with papers on Fashion-MNIST's grey images.
#
# The same two recipes, with one more setting, `dataset="fashion_mnist"`:

# %% tags=["nbval-ignore-output"]
fashion_vae = trained_model("ch09-fashion-vae", dataset="fashion_mnist")
fashion_autoencoder = trained_model("ch09-fashion-ae", dataset="fashion_mnist", objective="autoencoder")
fashion_test = data.binary_test_images(fashion)
fashion_train = data.binarize_static(fashion.train_images[:train_size])
fashion_train_labels = fashion.train_labels[:train_size]
fashion_models = {"autoencoder": fashion_autoencoder.model, "VAE": fashion_vae.model}
fashion_test_codes = {name: posterior_means(model, fashion_test) for name, model in fashion_models.items()}
fashion_train_codes = {name: posterior_means(model, fashion_train) for name, model in fashion_models.items()}

# %% mystnb={"figure": {"caption": "The VAE's codes \u03bc(x) of the 10,000 test images of MNIST (left) and of Fashion-MNIST (right), each coloured by its classes.", "name": "fig-09-fashion-codes"}} tags=["nbval-ignore-output"]
fig, axes = side_by_side()
scatter_codes(fig, axes[0], test_codes["VAE"], test_labels, digits)
scatter_codes(fig, axes[1], fashion_test_codes["VAE"], fashion.test_labels, clothes)
axes[0].set_title("VAE, MNIST", fontsize=plots.LABEL_SIZE)
axes[1].set_title("VAE, Fashion-MNIST", fontsize=plots.LABEL_SIZE)
fig.tight_layout()
plt.show()

# %% [markdown]
# The clothes also sort themselves without labels ({numref}`fig-09-fashion-codes`), and
# also not into ten. Trousers and ankle boots have regions of their own; sandals and
# sneakers border each other; pullovers, coats and shirts, whose silhouettes differ
# little, share one region in which their colours mix. The decoder's view of the same
# plane ({numref}`fig-09-fashion-manifolds`, both over the grid of prior quantiles of
# [chapter 6](06_generation.ipynb)'s manifold) shows a continuum: shoes along one edge,
# tops of every length across the rest.

# %% mystnb={"figure": {"caption": "The VAEs' decoders over a 15 \u00d7 15 grid, evenly spaced in prior probability from the 5 % to the 95 % quantile of each coordinate: MNIST (left) and Fashion-MNIST (right).", "name": "fig-09-fashion-manifolds"}} tags=["nbval-ignore-output"]
quantiles = plots.normal_quantiles(15)
fig, axes = side_by_side(height=5.0)
show_mosaic(axes[0], plots.latent_manifold(vae.model, 15), quantiles, quantiles, "VAE, MNIST")
show_mosaic(axes[1], plots.latent_manifold(fashion_vae.model, 15), quantiles, quantiles, "VAE, Fashion-MNIST")
fig.tight_layout()
plt.show()


# %% [markdown]
# How much the classes overlap can be measured. Give each test image the class most common
# among the 10 training images whose codes are nearest its own: the share of test images
# that get their true class back is high where classes keep to regions of their own, and
# low where they mix. {numref}`tab-09-fashion` sets it beside each model's reconstruction
# and, for the VAEs, the ELBO and its KL term, the *rate*: the nats a code carries about its
# image, on average, beyond what the prior already says {cite}`alemi2018`.


# %% tags=["nbval-ignore-output"]
def nearest_codes_vote(
    reference: np.ndarray, reference_labels: np.ndarray, codes: np.ndarray, k: int = 10
) -> np.ndarray:
    """The label most common among the ``k`` ``reference`` codes nearest each of ``codes`` ``[N, 2]``.

    Returns ``[N]`` labels; ties go to the smaller label. Queried 200 at a time, so that the
    distances ``[200, len(reference)]`` stay small.
    """
    squared_norms = (reference**2).sum(axis=1)
    votes = []
    for start in range(0, len(codes), 200):
        distances = squared_norms[None, :] - 2.0 * codes[start : start + 200] @ reference.T  # + |query|²
        nearest = np.argpartition(distances, k, axis=1)[:, :k]
        votes.append(np.eye(10)[reference_labels[nearest]].sum(axis=1).argmax(axis=1))
    return np.concatenate(votes)


# data set → its models, their codes of the test and training images, and the labels of both
both_data_sets = {
    "MNIST": (models, test_codes, train_codes, test_labels, train_labels),
    "Fashion-MNIST": (
        fashion_models,
        fashion_test_codes,
        fashion_train_codes,
        fashion.test_labels,
        fashion_train_labels,
    ),
}
fashion_reconstruction = {name: at_the_mean(model, fashion_test) for name, model in fashion_models.items()}
terms_of_vae = {"MNIST": vae_terms, "Fashion-MNIST": elbo_per_image(fashion_vae.model, fashion_test)}
reconstruction_of = {"MNIST": reconstruction, "Fashion-MNIST": fashion_reconstruction}
measured = {}
for dataset, (pair, codes, reference, labels, reference_labels) in both_data_sets.items():
    elbo, _, kl = terms_of_vae[dataset].mean(axis=0)
    for name in pair:
        vote = nearest_codes_vote(reference[name], reference_labels, codes[name])
        measured[dataset, name] = {
            "vote": vote,
            "agree": float((vote == labels).mean()),
            "at_mean": float(reconstruction_of[dataset][name].mean()),
            "elbo": float(elbo) if name == "VAE" else None,
            "kl": float(kl) if name == "VAE" else None,
        }
table(
    ["data", "model", AT_MEAN, KL, "ELBO", "10 nearest codes agree"],
    [
        [
            dataset,
            name,
            f"{m['at_mean']:.2f}",
            cell(m["kl"], ".2f"),
            cell(m["elbo"], ".2f"),
            f"{m['agree']:.1%}",
        ]
        for (dataset, name), m in measured.items()
    ],
    align="llrrrr",
    caption="The four two-dimensional models on their test sets (thresholded), nats per image; last column:"
    " the share of test images whose 10 nearest training codes are mostly of their class.",
    name="tab-09-fashion",
)

# %% tags=["nbval-ignore-output"]
for (dataset, name), m in measured.items():
    key = f"ch09_{dataset.split('-')[0].lower()}_{'ae' if name == 'autoencoder' else 'vae'}"
    glue(f"{key}_agree", 100 * m["agree"])
    glue(f"{key}_at_mean", m["at_mean"])
    if m["elbo"] is not None:
        glue(f"{key}_elbo", float(m["elbo"]))
        glue(f"{key}_kl", float(m["kl"]))
for dataset, classes, labels in [
    ("MNIST", digits, test_labels),
    ("Fashion-MNIST", clothes, fashion.test_labels),
]:
    vote = measured[dataset, "VAE"]["vote"]
    per_class = np.array([(vote[labels == c] == c).mean() for c in range(10)])
    worst = int(per_class.argmin())
    mistaken = np.bincount(vote[labels == worst], minlength=10)
    mistaken[worst] = -1  # the class it is most often taken for, other than itself
    taken_for = int(mistaken.argmax())
    key = f"ch09_{dataset.split('-')[0].lower()}"
    glue(f"{key}_worst", classes[worst])
    glue(f"{key}_worst_agree", 100 * float(per_class[worst]))
    glue(f"{key}_worst_taken_for", classes[taken_for])
    shares = ", ".join(f"{name} {share:.0%}" for name, share in zip(classes, per_class, strict=True))
    print(textwrap.fill(f"{dataset} VAE, nearest codes agree: {shares}", width=100))

# %% [markdown]
# On MNIST the 10 nearest codes agree with a test image's class for
# {glue:text}`ch09_mnist_vae_agree:.1f`% of the test images in the VAE's map
# ({glue:text}`ch09_mnist_ae_agree:.1f`% in the autoencoder's); on Fashion-MNIST for
# {glue:text}`ch09_fashion_vae_agree:.1f`% ({glue:text}`ch09_fashion_ae_agree:.1f`%).
# Overall the clothes overlap about as much as the digits: two numbers are too few for
# either. Where they overlap differs. The digit the VAE keeps least apart is the
# {glue:text}`ch09_mnist_worst` ({glue:text}`ch09_mnist_worst_agree:.0f`% agree; its
# nearest codes vote most often for {glue:text}`ch09_mnist_worst_taken_for`); among the
# clothes it is the class {glue:text}`ch09_fashion_worst`
# ({glue:text}`ch09_fashion_worst_agree:.0f`% agree; its nearest codes vote most often for
# {glue:text}`ch09_fashion_worst_taken_for`).
#
# The Fashion-MNIST VAE's test ELBO is {glue:text}`ch09_fashion_vae_elbo:.2f` nats per
# image, beside {glue:text}`ch09_mnist_vae_elbo:.2f` on MNIST, and its rate
# {glue:text}`ch09_fashion_vae_kl:.2f` nats beside {glue:text}`ch09_mnist_vae_kl:.2f`.
# {glue:text}`ch09_fashion_black:.0f`% of a thresholded garment's pixels are on (1, drawn
# black in this book's figures), against {glue:text}`ch09_mnist_black:.0f`% of a digit's, and every one of the longer edges is a
# pixel to get wrong, so each image costs more nats; the code carries a little more about
# each image, and still only two numbers' worth. The autoencoder does not reconstruct
# better than the VAE here either ({glue:text}`ch09_fashion_ae_at_mean:.2f` against
# {glue:text}`ch09_fashion_vae_at_mean:.2f`), and {numref}`fig-09-fashion-reconstructions`
# shows what both keep of the images of {numref}`fig-09-fashion-data`: the silhouette of
# the class, little of the individual garment, none of the print.

# %% mystnb={"figure": {"caption": "The thresholded Fashion-MNIST images of {numref}`fig-09-fashion-data` (top) and their reconstructions decoded from \u03bc(x) by the autoencoder and by the VAE.", "name": "fig-09-fashion-reconstructions"}} tags=["nbval-ignore-output"]
shown = data.binarize_static(examples)
plots.plot_image_rows(
    {"thresholded": shown} | {name: model.reconstruct(shown) for name, model in fashion_models.items()}
)
plt.show()

# %% [markdown]
# ## Summary
#
# * An autoencoder and a VAE with the same networks and recipe differ in their objective
#   alone: $\log p_\theta(x \mid z = \mu_\phi(x))$ at one code ({eq}`eq-09-autoencoder`),
#   or the ELBO, which asks each code to survive noise and to stay near the prior
#   ({eq}`eq-09-elbo`, {eq}`eq-09-kl`).
# * With two-dimensional codes both sort digits by class without labels, and both decoders
#   give digits over most of their range. The autoencoder's codes sit at a place and scale
#   of their own; the VAE's at the prior's.
# * A Gaussian fitted to the autoencoder's codes generates nearly as well as the VAE's
#   prior: a few points fewer recognizable samples with two dimensions, as many as the
#   prior's with sixteen, by a classifier's count.
# * At equal training the two-dimensional VAE even reconstructs slightly better (the
#   autoencoder was still learning); with sixteen dimensions the autoencoder is better by
#   {glue:text}`ch09_gap16:.1f` nats per image, and the KL term costs the VAE's ELBO
#   {glue:text}`ch09_vae16_kl:.1f`.
# * What only the VAE has is a prior fixed before training and a bound on $\log p(x)$.
# * On Fashion-MNIST the same VAE separates trousers and ankle boots but mixes
#   pullovers, coats and shirts, pays more nats per image and carries a higher rate;
#   thresholding at 0.5 leaves it silhouettes to model.
#
# ## Exercises
#
# 1. {numref}`fig-09-grids` stops at each model's range of codes. Decode points well
#    outside it, e.g. at five times the codes' standard deviation from their mean, for
#    both models. Which decoder degrades more gracefully?
# 2. Train the two-dimensional autoencoder for 30 epochs
#    (`family_run("ch09-ae-30", latent_dim=2, objective="autoencoder", epochs=30)`). Does it
#    overtake the VAE's reconstruction, as {eq}`eq-09-autoencoder` says it eventually can,
#    and do its codes move further from a Gaussian?
# 3. Draw the autoencoder's codes from $\mathcal{N}(0, I)$ instead of its fitted Gaussian,
#    in two and in sixteen dimensions. What goes wrong, and what does it say about the
#    fitted Gaussian's part in {numref}`tab-09-sixteen`?
# 4. Repeat {numref}`tab-09-sixteen` with `latent_dim=50`, the size of
#    [chapter 7](07_results.ipynb)'s model. Does a fitted Gaussian still serve the
#    autoencoder as well as the prior serves the VAE?
# 5. Train both Fashion-MNIST models on stochastically binarized images
#    (`binarization="dynamic"`, [chapter 8](08_papers.ipynb)), which keep some texture as
#    the density of black pixels. How do the reconstructions and the rate change?
