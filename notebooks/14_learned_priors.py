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
# # 14. Learned priors and importance-weighted training
#
# [Chapter 9](09_autoencoder_vs_vae.ipynb) found holes in the two-dimensional VAE's code
# space: cells of the plane that the prior $p(z) = \mathcal{N}(0, I)$ covers and no training
# image's code reaches, so that a sample drawn there decodes to something between digits. The
# encoder is not to blame for all of it. The prior is fixed, and the ELBO pays for every
# place where the codes and the prior disagree. This chapter lets the prior learn, in the two
# ways of {cite:t}`tomczak2018`: a mixture of Gaussians, and their VampPrior. It then trains
# the same model on the importance-weighted bound of [chapter 4](04_elbo.ipynb) instead of
# the ELBO, the IWAE of {cite:t}`burda2016`, and measures what each change buys and costs.
#
# ## What the KL term asks of the prior
#
# Average the KL term of the ELBO over the training images $x_1, \ldots, x_N$ and write
# $q(z) = \frac1N \sum_n q_\phi(z \mid x_n)$ for the *aggregate posterior*, the codes of all
# images pooled. Then {cite:t}`hoffman2016` show
#
# $$
# \frac1N \sum_{n=1}^{N} \mathrm{KL}\bigl(q_\phi(z \mid x_n) \,\|\, p(z)\bigr)
# = I_q(x; z) + \mathrm{KL}\bigl(q(z) \,\|\, p(z)\bigr),
# $$ (eq-14-decomposition)
#
# where $I_q(x; z)$ is the mutual information between an image and its code under the
# encoder. The first term is what the code carries about the image, and a useful code must
# pay it. The second is pure waste: the nats lost because the pooled codes are not where
# the prior puts its mass. It is zero exactly when $p(z) = q(z)$, so for a fixed encoder
# the best prior is the aggregate posterior itself. That is a mixture of $N = 60{,}000$
# Gaussians: too many to evaluate at every step, and, as {cite:t}`tomczak2018` argue, a
# prior that would overfit the training images. Two cheaper priors approximate it.
#
# A **mixture of Gaussians** with $K$ components whose means $m_k$, variances $s_k^2$ and
# weights $\pi_k$ are learned with the networks:
#
# $$
# p_\lambda(z) = \sum_{k=1}^{K} \pi_k\, \mathcal{N}\bigl(z;\ m_k,\ \operatorname{diag} s_k^2\bigr).
# $$ (eq-14-mixture)
#
# The **VampPrior** ("variational mixture of posteriors") replaces the $N$ images of the
# aggregate posterior by $K$ learned *pseudo-inputs* $u_1, \ldots, u_K$, images that the
# encoder maps to posteriors like any other:
#
# $$
# p_\lambda(z) = \frac1K \sum_{k=1}^{K} q_\phi(z \mid u_k).
# $$ (eq-14-vamp)
#
# Its components move with the encoder, so the prior follows the codes as they change. Both
# have $K = 500$ components here (the authors' code defaults to 1,000 pseudo-inputs). Neither has a closed-form KL
# against a Gaussian posterior, so the KL term of the ELBO is the one-sample estimate
# $\log q_\phi(z \mid x) - \log p_\lambda(z)$ at the posterior sample, the tutorial's own
# estimator ([chapter 4](04_elbo.ipynb)). Each prior is one small class of
# `vae_lib.priors` that the model holds; `log_mixture_pdf` does the sum of
# {eq}`eq-14-mixture` in log space, and the VampPrior hands it the encoder's posteriors
# at its pseudo-inputs:

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

# %% tags=["remove-output"]
import os

import matplotlib.pyplot as plt
import numpy as np
import tensorflow as tf

from vae_lib import data, plots, priors, streams
from vae_lib.book import glue, show_source, table
from vae_lib.classifier import book_classifier, confident_fraction
from vae_lib.config import QUICK_ENV, family_run
from vae_lib.evaluate import iw_bounds, posterior_means, stderr
from vae_lib.priors import log_normal_pdf
from vae_lib.train import Trained, train

QUICK = os.environ.get(QUICK_ENV) == "1"

# %% tags=["nbval-ignore-output", "remove-input"]
show_source(priors.log_mixture_pdf, priors.VampPrior.components, priors.VampPrior.log_prob)

# %% [markdown]
# The pseudo-inputs start near black, $0.05 \pm 0.01$ per pixel, and are kept in $[0, 1]$
# by clipping, as in the defaults of the authors' code (`experiment.py` of
# `jmtomczak/vae_vampprior`, which clips with a hard tanh). Gradients reach them through the encoder, since the
# prior's density depends on where it maps them.
#
# ## The importance-weighted bound as the objective
#
# [Chapter 4](04_elbo.ipynb) derived $\mathcal{L}_k$ and [chapter 8](08_papers.ipynb) used
# it to measure. {cite:t}`burda2016` also train on it: with $k$ posterior samples per image
# and step,
#
# $$
# \mathcal{L}_k(x) = \mathbb{E}_{z_1, \ldots, z_k \sim q_\phi(z \mid x)}
# \Bigl[\log \frac1k \sum_{i=1}^{k} \frac{p_\theta(x, z_i)}{q_\phi(z_i \mid x)}\Bigr],
# $$ (eq-14-iwae)
#
# which is the ELBO at $k = 1$ and rises towards $\log p_\theta(x)$ as $k$ grows. The
# encoder is no longer asked to make $q_\phi(z \mid x)$ match the posterior, only to
# propose samples that the weights can correct, so the decoder can be fitted under a
# broader posterior. The cost is $k$ decoder passes per image and step, and a known
# weakness: the signal-to-noise ratio of the encoder's gradient falls as $k$ grows
# {cite}`rainforth2018`, so that a larger $k$ is not better without end. Here $k = 5$
# (`objective="iwae"`, `iwae_samples=5`), one of the settings of {cite:t}`burda2016`'s
# table.
#
# ## Four models, one recipe
#
# All four are [chapter 9](09_autoencoder_vs_vae.ipynb)'s two-dimensional VAE, trained with
# the recipe that chapters [9](09_autoencoder_vs_vae.ipynb) to
# [13](13_grey_pixels.ipynb) share, and differ in one setting each. The first is
# [chapter 9](09_autoencoder_vs_vae.ipynb)'s own model, loaded from its folder if that chapter has trained it here (its
# printout of it may come from a run on another machine, and differ from these figures by
# a tenth of a nat). Each prints its training time; a model already trained is loaded, not
# trained again.

# %% tags=["nbval-ignore-output"]
RECIPES = {  # name in the tables → (run folder, the one setting that differs)
    "N(0, I) prior": ("ch09-vae", {}),
    "mixture prior": ("ch14-mixture", {"prior": "mixture"}),
    "VampPrior": ("ch14-vamp", {"prior": "vamp"}),
    "IWAE, k = 5": ("ch14-iwae5", {"objective": "iwae"}),
}
KEYS = {"N(0, I) prior": "normal", "mixture prior": "mixture", "VampPrior": "vamp", "IWAE, k = 5": "iwae"}
trained: dict[str, Trained] = {}
for label, (name, changes) in RECIPES.items():
    config, folder = family_run(name, latent_dim=2, **changes)
    trained[label] = train(config, folder, progress=False)
    seconds = np.median([row["seconds"] for row in trained[label].history])
    print(f"{label:14s} {folder}: {len(trained[label].history)} epochs, {seconds:.0f} s per epoch (median)")
models = {label: t.model for label, t in trained.items()}

# %% [markdown]
# ## The bounds
#
# Each model is judged on the thresholded test images, on its test ELBO (the mean over all
# of them, with one posterior sample per image, and for a learned prior the one-sample KL) and on $\mathcal{L}_{100}$, a bound much
# closer to $\log p(x)$ ([chapter 6](06_generation.ipynb) and
# [chapter 10](10_true_posterior.ipynb) show how close). In the reduced run of the book's
# tests it is the first 500 images and $k = 10$.

# %% tags=["nbval-ignore-output"]
mnist = data.load_dataset()
test_images = data.binary_test_images(mnist)
BOUNDED, K = (500, 10) if QUICK else (len(test_images), 100)
bounded = test_images[:BOUNDED]
rows, bounds = [], {}
for label, t in trained.items():
    last = t.history[-1]
    bounds[label] = iw_bounds(t.model, bounded, k=K, batch_size=100, progress=False)
    seconds = float(np.median([row["seconds"] for row in t.history]))
    rows.append(
        [
            label,
            f"{last['test_elbo']:.2f}",
            f"{bounds[label].mean():.2f} ± {stderr(bounds[label]):.2f}",
            f"{seconds:.0f}",
        ]
    )
    key = KEYS[label]
    glue(f"ch14_{key}_elbo", last["test_elbo"])
    glue(f"ch14_{key}_bound", float(bounds[label].mean()))
    glue(f"ch14_{key}_seconds", seconds)
    glue(f"ch14_{key}_kl", last["test_kl"])
glue("ch14_k", K)
glue("ch14_bounded", BOUNDED)
baseline = bounds["N(0, I) prior"]
for label in ("mixture prior", "VampPrior", "IWAE, k = 5"):
    key = KEYS[label]
    gain = bounds[label] - baseline  # the same images, so the difference has its own, smaller error
    glue(f"ch14_{key}_gain", float(gain.mean()))
    glue(f"ch14_{key}_gain_se", stderr(gain))
which = f"the first {BOUNDED:,}" if len(test_images) > BOUNDED else "the same images"
table(
    ["model", "test ELBO", f"L_{K} ± s.e.", "s per epoch"],
    rows,
    align="lrrr",
    caption=f"The four two-dimensional models on the thresholded test images, nats per image "
    f"(higher is better): the ELBO over all {len(test_images):,}, $\\mathcal{{L}}_{{{K}}}$ over {which} "
    "with its standard error across images, and the median training time of an epoch on this machine.",
    name="tab-14-bounds",
)

# %% [markdown]
# On the same {glue:text}`ch14_bounded:,` images, $\mathcal{L}_k$ with $k =$ {glue:text}`ch14_k` gains
# {glue:text}`ch14_mixture_gain:.2f` ± {glue:text}`ch14_mixture_gain_se:.2f` nats with the
# mixture prior, {glue:text}`ch14_vamp_gain:.2f` ±
# {glue:text}`ch14_vamp_gain_se:.2f` with the VampPrior and
# {glue:text}`ch14_iwae_gain:.2f` ± {glue:text}`ch14_iwae_gain_se:.2f` with the IWAE over
# the standard normal prior's {glue:text}`ch14_normal_bound:.2f`. These standard errors are
# those of the per-image differences, so they cover which test images were bounded; each
# model is one training run of one seed, and a second seed would move each figure by an
# amount not measured here.
#
# The mixture prior's difference is within its error bar of zero. The VampPrior's bound is
# lower, by several times its error across images, but that error bar does not cover the
# spread between training seeds, which could be as large: what one seed shows is that it
# gained nothing. The IWAE gains several nats of
# $\mathcal{L}_{100}$ while its own ELBO, {glue:text}`ch14_iwae_elbo:.2f` against
# {glue:text}`ch14_normal_elbo:.2f`, is far lower: it was never asked to make
# $q_\phi(z \mid x)$ a good posterior on its own, only a good proposal for the weights, and
# the ELBO measures the first. The epoch times say what each change costs: a learned
# prior's density is a sum over its 500 components at every step (and the VampPrior
# encodes its 500 pseudo-inputs as well), and the IWAE decodes five samples per image.
#
# ## Where the prior puts its mass
#
# In two dimensions the priors can be drawn. {numref}`fig-14-priors` shows each learned
# prior's density over the codes of the test images, the posterior means that the encoder
# gives them, coloured by digit.

# %% mystnb={"figure": {"caption": "The codes (posterior means) of the test images, coloured by digit, with the contours of each model's prior density holding 50 %, 90 % and 99 % of its mass.", "name": "fig-14-priors"}} tags=["nbval-ignore-output"]
codes = {label: posterior_means(model, test_images) for label, model in models.items()}
shown = ["N(0, I) prior", "mixture prior", "VampPrior"]
lim = 8.0  # wide enough for the learned priors, which spread further than N(0, I)
grid = np.linspace(-lim, lim, 241, dtype=np.float32)
z_grid = np.stack(np.meshgrid(grid, grid), axis=-1).reshape(-1, 2)
fig, axes = plt.subplots(1, 3, figsize=(plots.PAGE_WIDTH, 4.3), sharex=True, sharey=True)
outside = []
for ax, label in zip(axes, shown, strict=True):
    density = np.exp(models[label].prior.log_prob(tf.constant(z_grid)).numpy())
    outside.append(1 - density.sum() * (grid[1] - grid[0]) ** 2)
    ordered = np.sort(density)[::-1]
    mass = np.cumsum(ordered) / ordered.sum()  # of the mass inside the square
    levels = sorted(ordered[np.searchsorted(mass, q)] for q in (0.99, 0.9, 0.5))
    ax.scatter(*codes[label].T, c=mnist.test_labels, cmap="tab10", s=1, alpha=0.4, rasterized=True)
    ax.contour(grid, grid, density.reshape(len(grid), len(grid)), levels=levels, colors="k", linewidths=1)
    ax.set_title(label)
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.set_aspect("equal")
    ax.set_xlabel("$z_1$")
axes[0].set_ylabel("$z_2$")
digits = [plt.Line2D([], [], ls="", marker="o", color=plt.cm.tab10(d), label=str(d)) for d in range(10)]
fig.legend(handles=digits, loc="lower center", ncol=10, frameon=False, handletextpad=0.1)
fig.tight_layout(rect=(0, 0.1, 1, 1))  # the bottom tenth for the legend, below the z₁ labels
plt.show()

# %% [markdown]
# The square of {numref}`fig-14-priors` reaches to ±8, further than the codes of the standard
# normal model go, because the learned priors spread further; it holds all but
# {glue:text}`ch14_outside:.2g` % of each prior's mass.
#
# The holes can be put in numbers with the two KL divergences between the prior and the
# aggregate posterior of the test images, $q(z) = \frac1M \sum_m q_\phi(z \mid x_m)$:
# $\mathrm{KL}(q(z) \,\|\, p(z))$, the waste term of {eq}`eq-14-decomposition`, and
# $\mathrm{KL}(p(z) \,\|\, q(z))$, which is large where the prior has mass and the codes have
# none, which is what a hole is. Both are Monte Carlo averages over 2,000 draws, with
# $\log q(z)$ summed over all $M$ test images' posteriors. The classifier of
# [chapter 12](12_conditional_vae.ipynb) then judges 2,000 samples from each prior: the
# share it reads as some digit with a probability of at least 0.9.

# %% tags=["nbval-ignore-output"]
glue("ch14_outside", 100 * max(outside))  # the share of a prior's mass outside the figure's square
DRAWS = 2000


def log_aggregate(z: np.ndarray, mean: np.ndarray, logvar: np.ndarray) -> np.ndarray:
    """log q(z) = log (1/M) Σₘ N(z; meanₘ, exp(logvarₘ)) of codes ``[n, 2]``: nats ``[n]``."""
    out = []
    for chunk in np.array_split(z, max(1, len(z) // 100)):
        per_image = log_normal_pdf(tf.constant(chunk)[:, None, :], mean, logvar)  # [chunk, M]
        out.append(tf.reduce_logsumexp(per_image, axis=1).numpy() - np.log(len(mean)))
    return np.concatenate(out)


classifier = book_classifier(mnist)
hole_rows = []
for label in shown:
    model = models[label]
    mean, logvar = (t.numpy() for t in model.encode(test_images))
    pick = np.random.default_rng(0).integers(0, len(mean), DRAWS)
    from_q = mean[pick] + np.exp(0.5 * logvar[pick]) * np.random.default_rng(1).normal(size=(DRAWS, 2))
    from_q = from_q.astype(np.float32)
    from_p = model.prior.sample(DRAWS, 2, streams.tf_seed(0, streams.Stream.PRIOR)).numpy()
    log_p = {name: model.prior.log_prob(tf.constant(z)).numpy() for name, z in (("q", from_q), ("p", from_p))}
    kl_q_p = float(np.mean(log_aggregate(from_q, mean, logvar) - log_p["q"]))
    kl_p_q = float(np.mean(log_p["p"] - log_aggregate(from_p, mean, logvar)))
    sure = confident_fraction(classifier, model.decode(from_p, apply_sigmoid=True).numpy())
    key = KEYS[label]
    glue(f"ch14_{key}_kl_q_p", kl_q_p)
    glue(f"ch14_{key}_kl_p_q", kl_p_q)
    glue(f"ch14_{key}_sure", 100 * sure)
    hole_rows.append([label, f"{kl_q_p:.2f}", f"{kl_p_q:.2f}", f"{sure:.1%}"])
glue("ch14_share_se", 100 * np.sqrt(0.25 / DRAWS))
table(
    ["prior", "KL(q(z) ‖ p(z))", "KL(p(z) ‖ q(z))", "samples read as a digit"],
    hole_rows,
    align="lrrr",
    caption="How well each prior matches the aggregate posterior of the test images, in nats, "
    "and the share of its samples that the classifier reads as some digit with p ≥ 0.9.",
    name="tab-14-holes",
)

# %% [markdown]
# The learned priors do fill the holes. The standard normal prior leaves
# {glue:text}`ch14_normal_kl_p_q:.2f` nats of $\mathrm{KL}(p \,\|\, q)$, its samples
# falling where few codes are; the mixture brings that to
# {glue:text}`ch14_mixture_kl_p_q:.2f` and the VampPrior, whose contours in
# {numref}`fig-14-priors` follow the clusters of the codes, to
# {glue:text}`ch14_vamp_kl_p_q:.2f`. Yet the classifier's verdict on their samples does not
# move: {glue:text}`ch14_normal_sure:.1f` %, {glue:text}`ch14_mixture_sure:.1f` % and
# {glue:text}`ch14_vamp_sure:.1f` % (a share of 2,000 has a standard error of at most
# {glue:text}`ch14_share_se:.1f` points). In two dimensions, then, the unreadable samples
# do not come from the holes. They come from the regions where the clusters of two digits
# meet, which the codes of real images also occupy and any prior that follows the codes
# must cover too. {numref}`fig-14-samples` shows the samples.
#
# The other divergence explains why the bounds did not move. The waste term of
# {eq}`eq-14-decomposition`, $\mathrm{KL}(q(z) \,\|\, p(z))$, is only
# {glue:text}`ch14_normal_kl_q_p:.2f` nats for the standard normal prior, measured on the
# test images' codes, of a KL term of {glue:text}`ch14_normal_kl:.2f` nats per image. With
# the encoder and decoder held fixed, replacing $p(z)$ by $q(z)$ itself would add exactly
# that waste to the test images' average ELBO, so it is about all that a better prior
# could give this model: the rest of the KL term is the mutual information, which a code
# that tells the digits apart has to pay.

# %% mystnb={"figure": {"caption": "Sixty-four samples from each prior, decoded: pixel probabilities of the decoder's Bernoulli distribution.", "name": "fig-14-samples"}} tags=["nbval-ignore-output"]
fig, axes = plt.subplots(1, 3, figsize=(plots.PAGE_WIDTH, 3.4))
for ax, label in zip(axes, shown, strict=True):
    samples = models[label].sample(64, seed=3).numpy()
    ax.imshow(plots.tile(samples, 8), cmap="gray_r", vmin=0, vmax=1)
    ax.set_title(label)
    ax.axis("off")
fig.tight_layout()
plt.show()

# %% [markdown]
# ## Summary
#
# * The KL term of the ELBO splits into what the code carries and what the prior wastes
#   ({eq}`eq-14-decomposition`); a learned prior can only reduce the second.
# * A mixture of 500 Gaussians and a VampPrior of 500 pseudo-inputs are one small class
#   each in `vae_lib.priors`, given to the model as `prior="mixture"` or `prior="vamp"`.
# * In two dimensions, with one training seed per model ({numref}`tab-14-bounds`,
#   {numref}`tab-14-holes`): the learned priors move their mass onto the codes, the
#   VampPrior most, but gain nothing measurable in $\mathcal{L}_{100}$ and do not make
#   their samples easier to read, because the standard prior wasted only a fraction of a
#   nat.
# * Training on $\mathcal{L}_5$ ({eq}`eq-14-iwae`) is one setting, `objective="iwae"`; it
#   bought several nats of $\mathcal{L}_{100}$, lowered the ELBO, and cost about as many
#   decoder passes as it has samples.
#
# [Chapter 15](15_ablation.ipynb) asks the same questions at the scale of
# [chapter 8](08_papers.ipynb)'s results model, fifty latent dimensions, where a code
# carries far more and the prior has more room to waste. Still open: several training
# seeds per model, and larger $k$ for the IWAE.
#
# ## Exercises
#
# 1. Train the mixture prior with $K = 10$ components (`prior_components=10`). Does each
#    component take one digit? Colour {numref}`fig-14-priors`'s codes by the component
#    that gives them the highest density.
# 2. Show the VampPrior's pseudo-inputs (`models["VampPrior"].prior.pseudo_inputs`) as
#    images. Do they look like digits?
# 3. Train the IWAE with $k = 1$ and compare it with the standard model. Which estimator of
#    the KL does each use?
