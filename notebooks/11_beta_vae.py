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
# # 11. β and the rate–distortion trade-off
#
# The ELBO of [chapter 4](04_elbo.ipynb) is two terms, a reconstruction and a KL, added
# with equal weights. Nothing forces that choice on a model builder who cares about the
# code more than about the bound: weigh the KL term by a number $\beta$ and the same
# networks learn other codes, which carry fewer nats about each image for $\beta > 1$ and
# more for $\beta < 1$. This chapter gives the two terms the names of information theory,
# *rate* and *distortion*, trains the same VAE at six values of $\beta$, and draws them in
# the plane of the two. At one end of it lies *posterior collapse*, a model whose code says
# nothing at all; we produce it on purpose and try the two usual cures on it. At the other
# end lie the claims of the $\beta$-VAE about *disentangled* codes, which we hold against
# what the latent dimensions of our models actually do.

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
import itertools
from collections.abc import Callable
from typing import NamedTuple

import matplotlib.pyplot as plt
import numpy as np

from vae_lib import data, plots
from vae_lib.book import glue, table
from vae_lib.config import family_run
from vae_lib.evaluate import active_units, posterior_means
from vae_lib.model import CVAE
from vae_lib.priors import gaussian_kl
from vae_lib.train import Trained, train

LATENT_DIM = 16

# %% [markdown]
# ## Rate and distortion
#
# Write $p_{\mathcal{D}}(x)$ for the distribution of the images, here the 10,000 test
# digits, each with probability $1/N$. For an encoder $q_\phi(z \mid x)$, a decoder
# $p_\theta(x \mid z)$ and the prior $p(z) = \mathcal{N}(0, I)$, the **distortion** is the
# reconstruction's cost, the negative log-likelihood of an image given a code drawn from
# its posterior,
#
# $$
# D = -\,\mathbb{E}_{p_{\mathcal{D}}(x)}\, \mathbb{E}_{q_\phi(z \mid x)}
#     \bigl[\log p_\theta(x \mid z)\bigr],
# $$ (eq-11-distortion)
#
# and the **rate** is the KL term, the nats per image the code costs against the prior,
#
# $$
# R = \mathbb{E}_{p_{\mathcal{D}}(x)}\,
#     \mathrm{KL}\bigl(q_\phi(z \mid x) \,\|\, p(z)\bigr).
# $$ (eq-11-rate)
#
# Both, {eq}`eq-11-distortion` and {eq}`eq-11-rate`, are in nats per image, and the ELBO of [chapter 4](04_elbo.ipynb), averaged over the
# images, is exactly minus their sum:
#
# $$
# -\,\mathbb{E}_{p_{\mathcal{D}}(x)}\bigl[\mathcal{L}(x)\bigr] = D + R.
# $$ (eq-11-elbo)
#
# Every ELBO in this chapter is the $-(D + R)$ of {eq}`eq-11-elbo`, the model judged at
# $\beta = 1$ whatever $\beta$ it was trained with. The rate earns its name from what it bounds. Write $q_\phi(z) =
# \mathbb{E}_{p_{\mathcal{D}}(x)}[q_\phi(z \mid x)]$ for the *aggregate posterior*, the
# codes of all images pooled ([chapter 6](06_generation.ipynb) drew it in two dimensions).
# Then
#
# $$
# R = I_q(x; z) + \mathrm{KL}\bigl(q_\phi(z) \,\|\, p(z)\bigr) \;\ge\; I_q(x; z),
# $$ (eq-11-mutual-information)
#
# where $I_q(x; z)$ is the mutual information between an image and its code when images
# are drawn from $p_{\mathcal{D}}$ and codes from the encoder: how many nats the code
# carries about the image. The rate is that, plus what it costs that the pooled codes are
# not distributed as the prior. {cite:t}`alemi2018` build on this: for any encoder and
# decoder, $H - D \le I_q(x; z) \le R$, where $H$ is the entropy of the images, so every
# model lies on or above the line $D + R = H$, and a good ELBO can be reached with
# very different codes.
#
# The **$\beta$-VAE** {cite}`higgins2017` trains on a weighted sum,
#
# $$
# \min_{\theta, \phi}\; D + \beta R,
# $$ (eq-11-beta)
#
# which for $\beta = 1$ is the negative ELBO. Draw each model as a point with its
# distortion $D$ across and its rate $R$ up, in the plane where {cite:t}`alemi2018` study the trade-off. The models a
# family of networks can reach fill a region whose lower-left edge is a convex curve, the
# *rate–distortion frontier*. The lines of constant $D + \beta R$ have slope $-1/\beta$ in
# this plane, and minimizing {eq}`eq-11-beta` slides such a line down until it touches the
# frontier: the optimum sits where the frontier's slope is
#
# $$
# \frac{\mathrm{d}R}{\mathrm{d}D} = -\frac{1}{\beta}.
# $$ (eq-11-slope)
#
# A small $\beta$ makes the line steep, and the model buys a lower distortion with many
# nats of rate; a large one makes it flat, and the model gives up distortion to save rate.
# The ELBO's own lines, $D + R = \text{const}$, have slope $-1$: every point on one of them
# has the same ELBO, however differently it splits it between the two terms.
#
# One point of the plane is known in advance. A model with $R = 0$ has $q_\phi(z \mid x) =
# p(z)$ for every image: its code is independent of the image, and its decoder has to
# predict every image from the same codes. With our decoder, whose pixels are independent
# Bernoulli variables given $z$, the best it can do is the same probability for each pixel
# in every image, that pixel's frequency among the images, which we take from the training
# images, $\bar{x}_i$. Its distortion is then
#
# $$
# D_0 = -\,\mathbb{E}_{p_{\mathcal{D}}(x)} \sum_{i=1}^{784}
#   \bigl[x_i \log \bar{x}_i + (1 - x_i) \log (1 - \bar{x}_i)\bigr].
# $$ (eq-11-d0)
#
# Every model with no rate lies on the distortion axis at $D_0$ or to the right of it (up
# to the small difference between the pixels' frequencies in training and test images).

# %%
mnist = data.load_dataset()
test_images, test_labels = data.binary_test_images(mnist), mnist.test_labels
pixel_frequency = data.binarize_static(mnist.train_images).mean(axis=0)
pixel_frequency = np.clip(pixel_frequency, 1e-6, 1 - 1e-6)  # pixels never black in training
flat = test_images.reshape(len(test_images), -1)
log_p = np.log(pixel_frequency).reshape(-1)
log_not_p = np.log1p(-pixel_frequency).reshape(-1)
no_rate_distortion = float(-(flat @ log_p + (1 - flat) @ log_not_p).mean())
glue("ch11_d0", no_rate_distortion)
print(f"D_0 = {no_rate_distortion:.2f} nats per test image")

# %% [markdown]
# $D_0$ is {glue:text}`ch11_d0:.2f` nats per test image: what the decoder pays for a
# digit when its code says nothing.
#
# ## Six values of β
#
# Each model of this chapter is the family's recipe of
# [chapter 9](09_autoencoder_vs_vae.ipynb), 10 epochs in batches of 128 at a learning rate
# of $10^{-3}$, with a code of
# {glue:text}`ch11_latent_dim` dimensions, enough for a model to leave some of them
# unused, and the closed-form KL of [chapter 4](04_elbo.ipynb) in the training loss
# (`kl="analytic"`), which free bits need below; it changes the gradients' noise, not what
# is minimized. The models differ in $\beta$ alone: {glue:text}`ch11_betas`. Whatever
# $\beta$ a model trained with, we *evaluate* it with the true ELBO, $\beta = 1$: the
# history's `test_kl` is its rate $R$ on the test images, its `test_reconstruction` is
# $-D$ (one posterior sample per image, as in training) and its `test_elbo` is $-(D + R)$.
# With `VAE_QUICK=1` every model trains on 2,000 images for one epoch and the numbers
# below are those of barely trained models.


# %% tags=["remove-output"]
def trained_model(name: str, **changes: object) -> Trained:
    """The family's recipe with a 16-D code, the closed-form KL and ``changes``, in runs/``name``."""
    config, folder = family_run(name, latent_dim=LATENT_DIM, kl="analytic", **changes)
    return train(config, folder, progress=False)


class Measured(NamedTuple):
    """A model's figures on the test images, nats per image (``active``: a count of units)."""

    rate: float  # R, eq-11-rate
    distortion: float  # D, eq-11-distortion
    active: int  # Burda et al.'s active units

    @property
    def elbo(self) -> float:
        """The test ELBO, −(D + R) (eq-11-elbo)."""
        return -(self.distortion + self.rate)


def measure(trained: Trained) -> Measured:
    """R and D of the last epoch's test evaluation (β = 1 whatever the training's β), and active units."""
    last = trained.history[-1]
    return Measured(last["test_kl"], -last["test_reconstruction"], active_units(trained.model, test_images))


glue("ch11_latent_dim", LATENT_DIM)
BETAS = [0.25, 0.5, 1.0, 2.0, 4.0, 8.0]
glue("ch11_betas", ", ".join(f"{beta:g}" for beta in BETAS))

# %% tags=["nbval-ignore-output"]
sweep = {beta: trained_model(f"ch11-beta{beta:g}", beta=beta) for beta in BETAS}
points = {beta: measure(trained) for beta, trained in sweep.items()}

# %% [markdown]
# {numref}`tab-11-sweep` gives each model's figures on the 10,000 test images, and the
# training objective {eq}`eq-11-beta` at its own $\beta$ besides.

# %% tags=["nbval-ignore-output"]
rows = []
for beta, point in points.items():
    objective = point.distortion + beta * point.rate
    rows.append([f"{beta:g}", f"{point.rate:.2f}", f"{point.distortion:.2f}", f"{point.elbo:.2f}"])
    rows[-1] += [f"{objective:.2f}", f"{point.active} of {LATENT_DIM}"]
table(
    ["β", "rate R", "distortion D", "ELBO −(D + R)", "D + βR", "active units"],
    rows,
    align="rrrrrr",
    caption="The six models on the test images, nats per image: every model is evaluated with the"
    " true ELBO (β = 1), whatever β it was trained with. Active units: posterior means whose"
    " variance over the test images exceeds 10⁻².",
    name="tab-11-sweep",
)

# %% tags=["nbval-ignore-output"]
best_beta = max(points, key=lambda beta: points[beta].elbo)
low, high = points[BETAS[0]], points[BETAS[-1]]
glue("ch11_best_beta", best_beta)
glue("ch11_best_elbo", points[best_beta].elbo)
for name, point in [("low", low), ("high", high)]:
    glue(f"ch11_rate_{name}", point.rate)
    glue(f"ch11_distortion_{name}", point.distortion)
    glue(f"ch11_elbo_{name}", point.elbo)
    glue(f"ch11_active_{name}", point.active)
glue("ch11_beta_low", BETAS[0])
glue("ch11_beta_high", BETAS[-1])
print(f"best test ELBO at β = {best_beta:g}: {points[best_beta].elbo:.2f} nats")

# %% [markdown]
# {eq}`eq-11-slope` can be checked without knowing the frontier. If each model sits where
# its own line touches a convex frontier, the chord between the models of two neighbouring
# values $\beta_k < \beta_{k+1}$ has a slope between theirs: its $-\Delta D / \Delta R$, the
# $\beta$ at which the two models would have the same objective, lies between $\beta_k$ and
# $\beta_{k+1}$.

# %% tags=["nbval-ignore-output"]
chord_betas = []
for smaller, larger in itertools.pairwise(BETAS):
    a, b = points[smaller], points[larger]
    chord_beta = -(b.distortion - a.distortion) / (b.rate - a.rate)
    chord_betas.append((smaller, larger, chord_beta))
    inside = smaller < chord_beta < larger
    print(f"β = {smaller:g} → {larger:g}: −ΔD/ΔR = {chord_beta:.2f}, between the two: {inside}")
glue("ch11_chord_betas", ", ".join(f"{chord:.2f}" for _, _, chord in chord_betas))
glue("ch11_chords_inside", sum(smaller < chord < larger for smaller, larger, chord in chord_betas))
glue("ch11_chords", len(chord_betas))

# %% [markdown]
# {numref}`fig-11-plane` draws the six models in the plane of {cite:t}`alemi2018`, with the
# point $(D_0, 0)$ of {eq}`eq-11-d0`. Through each model runs a short red segment of the
# line its objective {eq}`eq-11-beta` is constant on, slope $-1/\beta$; the grey lines are
# the ELBO's, slope $-1$, through the model with the best ELBO and through the two ends.


# %% mystnb={"figure": {"caption": "The six models in the rate\u2013distortion plane (test images, nats per image), labelled by their \u03b2. Red: the line of constant D + \u03b2R through each, slope \u22121/\u03b2 ({eq}`eq-11-slope`); grey, dashed: lines of constant ELBO, slope \u22121; square: the best a model with no rate can do, D\u2080 ({eq}`eq-11-d0`).", "name": "fig-11-plane"}} tags=["nbval-ignore-output"]
def plot_plane(ax: plt.Axes, points: dict[float, Measured], no_rate_distortion: float) -> None:
    """``points`` by β at (D, R), with each objective's and some of the ELBO's lines of constant value."""
    distortions = np.array([p.distortion for p in points.values()])
    rates = np.array([p.rate for p in points.values()])
    top = 1.15 * rates.max()
    across = np.linspace(0.0, no_rate_distortion * 1.05, 2)
    best = max(points.values(), key=lambda p: p.elbo)
    for point in {best, points[min(points)], points[max(points)]}:
        ax.plot(across, point.distortion + point.rate - across, color="0.6", ls="--", lw=0.8)
    for beta, point in points.items():
        # A segment of about 12 nats' length (as if both axes were drawn to one scale) of D + βR = const.
        half = 6.0 / np.hypot(1.0, 1.0 / beta)
        d = point.distortion + np.array([-half, half])
        ax.plot(d, point.rate - (d - point.distortion) / beta, color="tab:red", lw=2)
        ax.annotate(
            f"β = {beta:g}",
            (point.distortion, point.rate),
            textcoords="offset points",
            xytext=(8, 6),
        )
    ax.plot(distortions, rates, "o-", color="tab:blue", zorder=3)
    ax.plot([no_rate_distortion], [0.0], "s", color="black", zorder=3)
    ax.annotate(
        "$D_0$",
        (no_rate_distortion, 0.0),
        textcoords="offset points",
        xytext=(-8, 8),
        ha="right",
    )
    ax.set_xlim(0.0, no_rate_distortion * 1.05)
    ax.set_ylim(-1.0, top)
    ax.set_xlabel("distortion $D$, nats per image", fontsize=plots.LABEL_SIZE)
    ax.set_ylabel("rate $R$, nats per image", fontsize=plots.LABEL_SIZE)
    ax.grid(alpha=0.3)


fig, ax = plt.subplots(figsize=(plots.PAGE_WIDTH * 0.85, 4.4))
plot_plane(ax, points, no_rate_distortion)
fig.tight_layout()
plt.show()

# %% [markdown]
# The test ELBO is best at $\beta =$ {glue:text}`ch11_best_beta:g`, at
# {glue:text}`ch11_best_elbo:.2f` nats per image: the model trained on the ELBO is the
# best by the ELBO, on images it never saw. From $\beta =$ {glue:text}`ch11_beta_low:g` to
# $\beta =$ {glue:text}`ch11_beta_high:g` the rate falls from
# {glue:text}`ch11_rate_low:.2f` to {glue:text}`ch11_rate_high:.2f` nats per image and the
# distortion rises from {glue:text}`ch11_distortion_low:.2f` to
# {glue:text}`ch11_distortion_high:.2f`. A small $\beta$ buys the best reconstructions,
# and pays for them with more nats of code than they save: the ELBO of the
# $\beta =$ {glue:text}`ch11_beta_low:g` model is {glue:text}`ch11_elbo_low:.2f`.
#
# In {numref}`fig-11-plane` the six points lie on a convex curve, each crossed by its own
# red line almost as a tangent, and the chords between neighbours confirm it: their
# $-\Delta D / \Delta R$ are {glue:text}`ch11_chord_betas`, and
# {glue:text}`ch11_chords_inside` of the {glue:text}`ch11_chords` lie between the two
# values of $\beta$ they join, as {eq}`eq-11-slope` says they should. Every other model
# lies above the dashed ELBO line through the $\beta = 1$ model: models on one line would
# have the same ELBO however differently they split it, and these have worse ones (the
# best test ELBO, {glue:text}`ch11_best_elbo:.2f`, is at
# $\beta =$ {glue:text}`ch11_best_beta:g`). The
# curve is the frontier of *these* trainings, 10 epochs of one network each; longer
# training or larger networks would move points down and to the left, and the curve
# through them is only an upper bound on where the family's true frontier lies. The gap
# between the last point and $(D_0, 0)$ is wide: the first few nats of a code are worth
# many nats of distortion.
#
# ## Where the nats go
#
# The rate is a sum over the code's dimensions. For the diagonal Gaussian posterior
# $\mathcal{N}(\mu(x), \operatorname{diag} \sigma^2(x))$ and the standard normal prior each
# unit $j$ has a KL term of its own, and $R$ is their sum averaged over the images:
#
# $$
# R = \sum_{j=1}^{16} R_j, \qquad
# R_j = \mathbb{E}_{p_{\mathcal{D}}(x)}\, \tfrac{1}{2}
#   \bigl(\mu_j(x)^2 + \sigma_j(x)^2 - 1 - \log \sigma_j(x)^2\bigr).
# $$ (eq-11-unit-kl)
#
# [Chapter 7](07_results.ipynb) counted *active units* {cite}`burda2016`, those
# whose posterior mean varies over the images by more than $10^{-2}$,
#
# $$
# A_j = \operatorname{Var}_{p_{\mathcal{D}}(x)}\bigl(\mathbb{E}_{q_\phi(z \mid x)}[z_j]\bigr)
#   > 10^{-2},
# $$ (eq-11-active)
#
# and saw that a unit's KL term $R_j$ tells more than the count. {numref}`fig-11-units`
# shows each model's sixteen terms, largest first, beside the count of {eq}`eq-11-active`.


# %%
def kl_per_unit(model: CVAE, images: np.ndarray, batch_size: int = 1000) -> np.ndarray:
    """Each latent unit's KL term averaged over ``images`` ``[N, 28, 28, 1]``, ``[latent_dim]`` nats.

    The units' sum is the rate R of ``images``.
    """
    totals = np.zeros(model.latent_dim)
    for start in range(0, len(images), batch_size):
        mean, logvar = model.encode(images[start : start + batch_size])
        totals += gaussian_kl(mean, logvar, axis=None).numpy().sum(axis=0)
    return totals / len(images)


# %% mystnb={"figure": {"caption": "Each model's sixteen KL terms on the test images, largest first, nats per image; a model's terms add up to its rate R.", "name": "fig-11-units"}} tags=["nbval-ignore-output"]
unit_kls = {beta: kl_per_unit(trained.model, test_images) for beta, trained in sweep.items()}
fig, ax = plt.subplots(figsize=(plots.PAGE_WIDTH * 0.75, 3.8))
colours = plt.cm.viridis(np.linspace(0.0, 0.9, len(unit_kls)))
for (beta, kls), colour in zip(unit_kls.items(), colours, strict=True):
    ax.plot(range(1, LATENT_DIM + 1), np.sort(kls)[::-1], "o-", color=colour, label=f"β = {beta:g}")
ax.set_xlabel("latent unit, largest KL term first", fontsize=plots.LABEL_SIZE)
ax.set_ylabel("KL term, nats per image", fontsize=plots.LABEL_SIZE)
ax.set_xticks(range(1, LATENT_DIM + 1))
ax.legend(ncols=2)
ax.grid(alpha=0.3)
fig.tight_layout()
plt.show()

# %% tags=["nbval-ignore-output"]
for name, beta in [("low", BETAS[0]), ("high", BETAS[-1])]:
    glue(f"ch11_unit_kl_min_{name}", float(unit_kls[beta].min()))
    glue(f"ch11_unit_kl_max_{name}", float(unit_kls[beta].max()))
    glue(f"ch11_units_tenth_{name}", int((unit_kls[beta] > 0.1).sum()))
print({f"{beta:g}": int((kls > 0.1).sum()) for beta, kls in unit_kls.items()}, "units above 0.1 nats")

# %% [markdown]
# At $\beta =$ {glue:text}`ch11_beta_low:g` the rate is spread almost evenly, from
# {glue:text}`ch11_unit_kl_min_low:.2f` to {glue:text}`ch11_unit_kl_max_low:.2f` nats per
# unit. As $\beta$ grows the model does not switch units off one after another; it lowers
# all of them, the weaker ones faster, and by Burda et al.'s count every unit stays active
# until the largest values of $\beta$ ({numref}`tab-11-sweep` gives the count for each).
# At $\beta =$ {glue:text}`ch11_beta_high:g`,
# {glue:text}`ch11_active_high` units are active but only
# {glue:text}`ch11_units_tenth_high` carry more than 0.1 nats, the largest
# {glue:text}`ch11_unit_kl_max_high:.2f`: a unit whose posterior mean moves a little can
# pass the threshold of $10^{-2}$ while carrying a few hundredths of a nat, as in
# [chapter 7](07_results.ipynb). The count is a coarse summary; the KL terms are the
# measure.
#
# ## Posterior collapse, on purpose
#
# A model whose rate is zero has a posterior equal to the prior for every image,
# $q_\phi(z \mid x) = p(z)$: the code says nothing, the decoder ignores it, and every unit
# is inactive. This is *posterior collapse*. It is best known from decoders strong enough
# to model the images without any code, such as the recurrent decoders of sentences of
# {cite:t}`bowman2016`, where it happens at $\beta = 1$. Our decoder is not such a one:
# its pixels are independent given $z$, so without a code it can do no better than $D_0$,
# and at $\beta = 1$ every one of the sixteen units stayed active
# ({numref}`tab-11-sweep`). On MNIST with this decoder collapse does not happen by itself.
# But {eq}`eq-11-slope` says how to make it happen: a $\beta$ larger than the frontier's
# steepest slope, $-\mathrm{d}D/\mathrm{d}R$ at $R = 0$, makes even the first nat of code
# cost more than it saves. We train at $\beta =$ {glue:text}`ch11_collapse_beta`.
#
# Two cures are in common use. **KL warm-up** {cite}`bowman2016,sonderby2016` starts
# training with no KL term and raises its weight linearly over the first $T$ epochs,
#
# $$
# \beta_t = \beta \min\Bigl(1, \frac{t}{T}\Bigr),
# $$ (eq-11-warmup)
#
# with $t$ in {eq}`eq-11-warmup` counted in epochs (the library raises it a little at every step,
# `kl_warmup=T`), so that the encoder learns to use the code before the KL term can push it
# back to the prior. **Free bits** {cite}`kingma2016`, from the paper whose ResNet VAE
# [chapter 8](08_papers.ipynb) compared ours with, changes the objective itself: each
# unit's KL term, averaged over the batch $\mathcal{B}$, is charged only where it exceeds
# $\lambda$ nats,
#
# $$
# \min_{\theta, \phi}\; D + \beta \sum_{j=1}^{16}
#   \max\Bigl(\lambda,\; \frac{1}{|\mathcal{B}|} \sum_{x \in \mathcal{B}}
#   \mathrm{KL}\bigl(q_\phi(z_j \mid x) \,\|\, p(z_j)\bigr)\Bigr),
# $$ (eq-11-free-bits)
#
# so under {eq}`eq-11-free-bits` the first $\lambda$ nats of each unit are free (`free_bits=λ`, with the closed-form
# KL of each unit, `kl="analytic"`). We try both at $\beta =$
# {glue:text}`ch11_collapse_beta`: warm-up over {glue:text}`ch11_warmup_epochs` of the 10
# epochs, and free bits of $\lambda =$ {glue:text}`ch11_free_bits` nats per unit. All three
# are evaluated, as before, with the true ELBO.

# %% tags=["nbval-ignore-output"]
COLLAPSE_BETA, WARMUP_EPOCHS, FREE_BITS = 64.0, 5.0, 0.5
glue("ch11_collapse_beta", f"{COLLAPSE_BETA:g}")
glue("ch11_warmup_epochs", f"{WARMUP_EPOCHS:g}")
glue("ch11_free_bits", FREE_BITS)
prefix = f"ch11-beta{COLLAPSE_BETA:g}"
collapse_runs = {
    "collapsed": trained_model(prefix, beta=COLLAPSE_BETA),
    "KL warm-up": trained_model(f"{prefix}-warmup", beta=COLLAPSE_BETA, kl_warmup=WARMUP_EPOCHS),
    "free bits": trained_model(f"{prefix}-freebits", beta=COLLAPSE_BETA, free_bits=FREE_BITS),
}
collapse_points = {name: measure(trained) for name, trained in collapse_runs.items()}

# %% tags=["nbval-ignore-output"]
settings = {
    "collapsed": "—",
    "KL warm-up": f"`kl_warmup={WARMUP_EPOCHS:g}`",
    "free bits": f"`free_bits={FREE_BITS:g}`",
}
rows = [["β = 1 (from the sweep)", "—", f"{points[1.0].rate:.2f}", f"{points[1.0].distortion:.2f}"]]
rows[0] += [f"{points[1.0].elbo:.2f}", f"{points[1.0].active} of {LATENT_DIM}"]
for name, point in collapse_points.items():
    rows.append([f"β = {COLLAPSE_BETA:g}, {name}", settings[name], f"{point.rate:.2f}"])
    rows[-1] += [f"{point.distortion:.2f}", f"{point.elbo:.2f}", f"{point.active} of {LATENT_DIM}"]
table(
    ["model", "setting", "rate R", "distortion D", "ELBO", "active units"],
    rows,
    align="llrrrr",
    caption=f"Posterior collapse at β = {COLLAPSE_BETA:g} and its two cures, on the test images,"
    " nats per image (true ELBO, β = 1), with the β = 1 model for comparison.",
    name="tab-11-collapse",
)

# %% tags=["nbval-ignore-output"]
for key, name in [("collapsed", "collapsed"), ("warmup", "KL warm-up"), ("freebits", "free bits")]:
    point = collapse_points[name]
    glue(f"ch11_{key}_rate", point.rate)
    glue(f"ch11_{key}_distortion", point.distortion)
    glue(f"ch11_{key}_elbo", point.elbo)
    glue(f"ch11_{key}_active", point.active)
warmup_rates = [row["test_kl"] for row in collapse_runs["KL warm-up"].history]
glue("ch11_warmup_peak_rate", max(warmup_rates))
glue("ch11_warmup_peak_epoch", int(np.argmax(warmup_rates)) + 1)
glue("ch11_free_bits_floor", FREE_BITS * LATENT_DIM)
glue("ch11_collapsed_gap_d0", collapse_points["collapsed"].distortion - no_rate_distortion)
collapsed = collapse_points["collapsed"]
glue("ch11_collapsed_objective", collapsed.distortion + COLLAPSE_BETA * collapsed.rate)
glue("ch11_high_objective_at_collapse_beta", high.distortion + COLLAPSE_BETA * high.rate)
free_bits_kls = kl_per_unit(collapse_runs["free bits"].model, test_images)
glue("ch11_freebits_unit_min", float(free_bits_kls.min()))
glue("ch11_freebits_unit_max", float(free_bits_kls.max()))
print(f"free bits: units' KL terms from {free_bits_kls.min():.3f} to {free_bits_kls.max():.3f} nats")

# %% [markdown]
# {numref}`fig-11-collapse` follows the three runs' test rates epoch by epoch.

# %% mystnb={"figure": {"caption": "Test rate R after each epoch of the three runs at large \u03b2 (nats per image). The warm-up's \u03b2 reaches its full value at the dotted line.", "name": "fig-11-collapse"}} tags=["nbval-ignore-output"]
fig, ax = plt.subplots(figsize=(plots.PAGE_WIDTH * 0.7, 3.6))
for name, trained in collapse_runs.items():
    rates = [row["test_kl"] for row in trained.history]
    ax.plot(range(1, len(rates) + 1), rates, "o-", label=name)
ax.axvline(WARMUP_EPOCHS, color="0.5", ls=":")
ax.set_xlabel("epoch", fontsize=plots.LABEL_SIZE)
ax.set_ylabel("test rate $R$, nats per image", fontsize=plots.LABEL_SIZE)
ax.legend()
ax.grid(alpha=0.3)
fig.tight_layout()
plt.show()

# %% [markdown]
# At $\beta =$ {glue:text}`ch11_collapse_beta` the collapse is complete
# ({numref}`tab-11-collapse`): a rate of {glue:text}`ch11_collapsed_rate:.2f` nats per
# image, {glue:text}`ch11_collapsed_active` active units, and a distortion of
# {glue:text}`ch11_collapsed_distortion:.2f`, {glue:text}`ch11_collapsed_gap_d0:.2f`
# nats from $D_0$: the decoder draws the same average digit for every code. It is the
# objective's choice, not an accident of training. The $\beta = 8$ model's code, scored by
# the objective at $\beta =$ {glue:text}`ch11_collapse_beta`, would cost
# $D + \beta R =$ {glue:text}`ch11_high_objective_at_collapse_beta:.1f` nats per image,
# where having no code costs {glue:text}`ch11_collapsed_objective:.1f`.
#
# KL warm-up does not prevent it. While $\beta$ is still small the code is used: after
# epoch {glue:text}`ch11_warmup_peak_epoch`, the test rate is
# {glue:text}`ch11_warmup_peak_rate:.2f` nats. Then $\beta$ keeps rising, and long before it
# reaches its full value the rate is back at zero ({numref}`fig-11-collapse`); the run
# ends with {glue:text}`ch11_warmup_rate:.2f` nats and {glue:text}`ch11_warmup_active`
# active units. Warm-up changes the path of training, not the objective it ends on. It
# cures the collapse that is a trap of the optimization, a strong decoder learning to do
# without the code before the encoder has learned to make one, as in the sentence models
# of {cite:t}`bowman2016`; it cannot cure a collapse that is the objective's optimum.
#
# Free bits changes the objective, and the model takes the free nats: a rate of
# {glue:text}`ch11_freebits_rate:.2f`, all {glue:text}`ch11_freebits_active` units active,
# each carrying between {glue:text}`ch11_freebits_unit_min:.2f` and
# {glue:text}`ch11_freebits_unit_max:.2f` nats on the test images, close to
# $\lambda =$ {glue:text}`ch11_free_bits` (sixteen units of $\lambda$ would be
# {glue:text}`ch11_free_bits_floor:g` nats). No unit goes beyond what is free: above
# $\lambda$ each nat costs {glue:text}`ch11_collapse_beta` nats of objective. Its distortion
# of {glue:text}`ch11_freebits_distortion:.2f` and ELBO of
# {glue:text}`ch11_freebits_elbo:.2f` are close to those of the $\beta = 8$ model
# ({glue:text}`ch11_distortion_high:.2f` and {glue:text}`ch11_elbo_high:.2f`), but not
# equal: its rate, {glue:text}`ch11_freebits_rate:.2f` nats spread over all
# {glue:text}`ch11_freebits_active` units, is higher than the $\beta = 8$ model's
# {glue:text}`ch11_rate_high:.2f`, most of which sits in the
# {glue:text}`ch11_units_tenth_high` units that carry more than 0.1 nats, and the extra
# rate buys no lower distortion. Free bits sets the rate
# rather than curing anything: $\lambda$ is a second knob, and what it buys is chosen with
# it.
#
# ## Walking along one unit at a time
#
# The $\beta$-VAE's claim {cite}`higgins2017` is that a larger $\beta$ makes a code
# *disentangled*: that each latent unit comes to stand for one factor of variation of the
# data, and changing one unit changes one factor of the image. The usual test is a
# *latent traversal*: encode a test image, keep its posterior mean $\mu(x)$ but for one
# unit $j$, move that unit through a range of values and decode,
#
# $$
# \hat{x}(t) = \sigma\bigl(\ell_\theta(\mu(x) + t\, e_j)\bigr), \qquad
# t \in \{-3, -2.25, \dots, 3\},
# $$ (eq-11-traversal)
#
# where $e_j$ is the $j$-th unit vector and $t$ is counted in the prior's standard
# deviations. {numref}`fig-11-traversal-low` and {numref}`fig-11-traversal-high` do this at
# the two ends of the sweep, $\beta =$ {glue:text}`ch11_beta_low:g` and $\beta =$
# {glue:text}`ch11_beta_high:g`, for the same test digit: for the eight units with the
# largest KL terms $R_j$ ({eq}`eq-11-unit-kl`) and, in the last row, the unit with the
# smallest.

# %%
TRAVERSAL_OFFSETS = np.linspace(-3.0, 3.0, 9)  # prior standard deviations either side of the code
TRAVERSAL_IMAGE = 1  # the second test image, a 2


def traversals(model: CVAE, image: np.ndarray, unit_kl: np.ndarray, units: int = 8) -> dict[str, np.ndarray]:
    """Rows of decoded traversals (eq-11-traversal) around the code of ``image`` ``[28, 28, 1]``.

    The image itself, then 9 decoded images ``[9, 28, 28, 1]`` for each of the ``units``
    units of largest KL term ``unit_kl`` ``[latent_dim]`` (nats) and for the unit of
    smallest, each row labelled by its unit and that unit's KL term.
    """
    mean, _ = model.encode(image[None])
    order = np.argsort(unit_kl)[::-1]
    rows = {"test image": image[None]}
    for j in [*order[:units], order[-1]]:
        codes = np.repeat(mean.numpy(), len(TRAVERSAL_OFFSETS), axis=0)
        codes[:, j] += TRAVERSAL_OFFSETS
        rows[f"$z_{{{j + 1}}}$, {unit_kl[j]:.2f} nats"] = model.decode(codes, apply_sigmoid=True).numpy()
    return rows


# %% mystnb={"figure": {"caption": "Latent traversals {eq}`eq-11-traversal` of the \u03b2 = 0.25 model around a test digit: each row moves one unit from \u22123 to +3 prior standard deviations around the digit's code, the others kept; labels give the unit and its KL term R\u2c7c. Eight units of largest KL, then the smallest.", "name": "fig-11-traversal-low"}} tags=["nbval-ignore-output"]
image = test_images[TRAVERSAL_IMAGE]
plots.plot_image_rows(traversals(sweep[BETAS[0]].model, image, unit_kls[BETAS[0]]))
plt.show()

# %% mystnb={"figure": {"caption": "The same traversals for the \u03b2 = 8 model, around the same test digit.", "name": "fig-11-traversal-high"}} tags=["nbval-ignore-output"]
plots.plot_image_rows(traversals(sweep[BETAS[-1]].model, image, unit_kls[BETAS[-1]]))
plt.show()

# %% [markdown]
# At $\beta =$ {glue:text}`ch11_beta_low:g` ({numref}`fig-11-traversal-low`) the digit
# stays a 2 along almost every row, and the rows change its style: the thickness of the
# stroke, its slant, its width, the loop and the tail at the bottom. But hardly a row
# changes one of these alone; most change two or three together, thickness with slant,
# width with the shape of the tail, and two of them bend the 2 towards another class at
# one end, an 8 in one row and a 3 in another. The unit of smallest KL is no exception:
# it carries {glue:text}`ch11_unit_kl_min_low:.2f` nats, and moving it still changes the
# thickness and the tail. With nats to spare, the model has spread the style of a digit over all
# sixteen units, and what it keeps fixed is the class.
#
# At $\beta =$ {glue:text}`ch11_beta_high:g` ({numref}`fig-11-traversal-high`) it is the
# other way round. The code has few nats, and the model spends them first on what the
# digit *is*: most of the strong units' rows cross from one class to another, the 2
# becoming a 1 at one end of the first row and a 3, then a 5, at the other, or a 9 or an
# 8, a 6, a 3 in the rows below, and the style changes along with the class (the 1 is
# narrow, the 5 wide). The weak units change little, and the unit of smallest KL nothing
# at all: it is inactive, and its value means nothing to the decoder. Neither end shows
# one unit per factor. At the small $\beta$ the class is held fixed while style is spread
# over many units; at the large one a unit moves class and style together, and which
# classes it visits depends on the digit one starts from (try another
# `TRAVERSAL_IMAGE`).
#
# ## Disentangled?
#
# Traversals are pictures, and pictures can be chosen. Two numbers measure what they
# show, over all test images. MNIST's one labelled factor is the digit's class, so the
# first asks how much of each unit is class: the share of the variance of its posterior
# mean that lies *between* the classes $y$,
#
# $$
# \eta^2_j = \frac{\operatorname{Var}_y\bigl(\mathbb{E}[\mu_j(x) \mid y]\bigr)}
#   {\operatorname{Var}\bigl(\mu_j(x)\bigr)} \in [0, 1],
# $$ (eq-11-class-share)
#
# the *correlation ratio* of the unit with the label. A unit that stood for the class alone
# would have $\eta^2_j$ near 1, a unit that stood for a style shared by all classes
# (slant, say, or thickness) near 0. The labels are used here to judge the codes, never to
# train them. The second asks whether the pooled codes are *factorized*, as the prior is:
# the average absolute correlation, over the test images, between the posterior means of
# two active units. The $\beta$-VAE's argument for disentanglement is that a larger $\beta$
# pulls the aggregate posterior towards the factorized prior
# ({eq}`eq-11-mutual-information`).


# %%
def class_share(means: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """The class share η² of each unit (eq-11-class-share), ``[latent_dim]`` in [0, 1].

    ``means`` ``[N, latent_dim]`` are posterior means, ``labels`` ``[N]`` their images' classes.
    """
    classes = np.unique(labels)
    counts = np.array([(labels == c).sum() for c in classes])
    class_means = np.stack([means[labels == c].mean(axis=0) for c in classes])  # [classes, latent_dim]
    between = counts @ (class_means - means.mean(axis=0)) ** 2 / len(means)
    return between / means.var(axis=0)


def mean_abs_correlation(means: np.ndarray) -> float:
    """The average |correlation| between two different columns of ``means`` ``[N, units]``.

    NaN for fewer than two columns (a barely trained model may have one active unit or none).
    """
    if means.shape[1] < 2:
        return float("nan")
    correlation = np.corrcoef(means.T)
    return float(np.abs(correlation[~np.eye(len(correlation), dtype=bool)]).mean())


def reduced(values: np.ndarray, reduce: Callable[[np.ndarray], float]) -> float:
    """``reduce(values)`` as a float, or NaN if there are no values (no active unit)."""
    return float(reduce(values)) if values.size else float("nan")


# %% tags=["nbval-ignore-output"]
shares, correlations, is_active = {}, {}, {}
for beta, trained in sweep.items():
    means = posterior_means(trained.model, test_images)
    is_active[beta] = means.var(axis=0) > 1e-2  # eq-11-active
    shares[beta] = class_share(means, test_labels)
    correlations[beta] = mean_abs_correlation(means[:, is_active[beta]])
rows = []
for beta in BETAS:
    active_shares = shares[beta][is_active[beta]]
    largest, median = reduced(active_shares, np.max), reduced(active_shares, np.median)
    rows.append([f"{beta:g}", f"{is_active[beta].sum()}", f"{largest:.2f}", f"{median:.2f}"])
    rows[-1].append(f"{correlations[beta]:.3f}")
table(
    ["β", "active units", "largest η²", "median η²", "mean abs. correlation"],
    rows,
    align="rrrrr",
    caption="How much of each active unit is the digit's class ({eq}`eq-11-class-share`), and how"
    " correlated the active units' posterior means are, over the test images.",
    name="tab-11-disentangled",
)

# %% tags=["nbval-ignore-output"]
all_active_shares = np.concatenate([shares[beta][is_active[beta]] for beta in BETAS])
glue("ch11_largest_share", reduced(all_active_shares, np.max))
glue("ch11_correlation_low", correlations[BETAS[0]])
glue("ch11_correlation_high", correlations[BETAS[-1]])
# Models with fewer than two active units have no correlation to compare (NaN).
measured = {beta: value for beta, value in correlations.items() if not np.isnan(value)} or correlations
least_correlated = min(measured, key=measured.get)
glue("ch11_correlation_least", correlations[least_correlated])
glue("ch11_correlation_least_beta", f"{least_correlated:g}")
for name, beta in [("low", BETAS[0]), ("high", BETAS[-1])]:
    glue(f"ch11_median_share_{name}", reduced(shares[beta][is_active[beta]], np.median))

# %% mystnb={"figure": {"caption": "Each active unit of the six models: its KL term R\u2c7c ({eq}`eq-11-unit-kl`) across, the share \u03b7\u00b2\u2c7c of its posterior mean's variance that lies between the classes ({eq}`eq-11-class-share`) up.", "name": "fig-11-class-share"}} tags=["nbval-ignore-output"]
fig, ax = plt.subplots(figsize=(plots.PAGE_WIDTH * 0.75, 3.8))
for beta, colour in zip(BETAS, colours, strict=True):
    active = is_active[beta]
    ax.scatter(unit_kls[beta][active], shares[beta][active], color=colour, label=f"β = {beta:g}")
ax.set_ylim(0.0, 1.0)
ax.set_xlabel("KL term $R_j$, nats per image", fontsize=plots.LABEL_SIZE)
ax.set_ylabel("class share $\\eta^2_j$", fontsize=plots.LABEL_SIZE)
ax.legend(ncols=2)
ax.grid(alpha=0.3)
fig.tight_layout()
plt.show()

# %% [markdown]
# {numref}`tab-11-disentangled` and {numref}`fig-11-class-share` say the same over the
# whole test set. No unit of any model is purely class: the largest class share of any
# active unit is {glue:text}`ch11_largest_share:.2f`, and the median unit's is
# {glue:text}`ch11_median_share_low:.2f` at $\beta =$ {glue:text}`ch11_beta_low:g` and
# {glue:text}`ch11_median_share_high:.2f` at $\beta =$ {glue:text}`ch11_beta_high:g`. At
# the larger values of $\beta$ the strongest units are the most class-laden, in line with
# the traversals, and the weak ones carry little class; but the class of a digit is spread
# over several units, each of which also varies within the classes, at every $\beta$.
#
# The part of the claim that holds best is the factorization, and only over part of the
# sweep: the active units' posterior means are on average
# {glue:text}`ch11_correlation_low:.3f` correlated in absolute value at $\beta =$
# {glue:text}`ch11_beta_low:g` and {glue:text}`ch11_correlation_least:.3f` at
# $\beta =$ {glue:text}`ch11_correlation_least_beta` (the least), but
# {glue:text}`ch11_correlation_high:.3f` at $\beta =$ {glue:text}`ch11_beta_high:g`,
# whose fewer active units are correlated again ({numref}`tab-11-disentangled`). But
# uncorrelated units are not units that each stand for one factor: a rotation of the
# code can make correlated units uncorrelated without lining them up with anything.
#
# That is the point of {cite:t}`locatello2019`. For a factorized prior such as
# $\mathcal{N}(0, I)$ there are infinitely many invertible maps of the code, a rotation
# among them, that leave the prior's distribution unchanged; composed with the decoder,
# each gives a model of exactly the same $p_\theta(x)$, one whose units are entangled
# versions of the other's. Data without labels of the factors cannot tell these models
# apart, so an unsupervised objective cannot prefer the disentangled one, and which code
# a model ends up with is decided by what the objective does not see: the diagonal form of
# the posterior, the networks and the training. In their large study of such models,
# random seeds and hyperparameters mattered more for the disentanglement scores than the
# choice of model, $\beta$-VAE among them. On MNIST, where the factors are not even
# defined, apart from the class, our figures are consistent with this: $\beta$ moves the
# model along the rate–distortion curve, changes how correlated the code's units are
# without making them steadily less so, and what a unit means comes out of the model, not out of $\beta$. We trained one seed per
# $\beta$, so we cannot say how much another seed would change {numref}`tab-11-disentangled`.

# %% [markdown]
# ## Summary
#
# * The negative ELBO is a sum of two terms with names of their own: the distortion $D$,
#   the reconstruction's cost, and the rate $R$, the nats the code costs against the prior,
#   an upper bound on the information the code carries about the image
#   ({eq}`eq-11-mutual-information`).
# * The $\beta$-VAE minimizes $D + \beta R$ and lands where the rate–distortion curve has
#   slope $-1/\beta$ ({eq}`eq-11-slope`); our six models do, chord by chord. The best
#   test ELBO is at $\beta =$ {glue:text}`ch11_best_beta:g`; a smaller $\beta$ buys lower distortion with more rate, a
#   larger one the reverse.
# * A large enough $\beta$ makes the code worthless: at $\beta =$
#   {glue:text}`ch11_collapse_beta` the rate is zero, no unit is active and the decoder
#   draws the average digit. With this decoder collapse did not happen at $\beta = 1$
#   ({numref}`tab-11-sweep` counts its active units).
# * KL warm-up changes the path of training and did not prevent a collapse that is the
#   objective's optimum; free bits changes the objective and kept every unit active, at a
#   rate set by $\lambda$.
# * Traversals showed no unit standing for one factor at either end of the sweep: at small
#   $\beta$ units change several aspects of style at once, at large $\beta$ they change
#   class and style together. Larger $\beta$ made the units less correlated only up to a
#   point ({numref}`tab-11-disentangled`). Without
#   supervision, which code is the disentangled one is not identifiable
#   {cite}`locatello2019`.
#
# ## Exercises
#
# 1. Add $\beta = 16$ and $\beta = 32$ to the sweep. Where between $\beta = 8$ and
#    $\beta =$ {glue:text}`ch11_collapse_beta` does the rate reach zero, and what does that
#    say about the frontier's slope at $R = 0$ ({eq}`eq-11-slope`)?
# 2. Train the $\beta = 1$ model for 30 epochs instead of 10 (`epochs=30`). Does its point
#    move along the curve of {numref}`fig-11-plane` or below it?
# 3. Make collapse a trap rather than an optimum: train at $\beta = 16$ with and without
#    `kl_warmup=5`. Does warm-up change the end point there?
# 4. Free bits with $\lambda = 0.1$ and $\lambda = 2$ at $\beta =$
#    {glue:text}`ch11_collapse_beta`: how do the rate and the active units follow
#    $\lambda$? Where does each model land in the rate–distortion plane?
# 5. Rotate a trained model's code: decode $Q z$ for a random orthogonal $16 \times 16$
#    matrix $Q$ (`np.linalg.qr` of a Gaussian matrix) in place of $z$ in the traversals.
#    The prior is unchanged by $Q$; are the rotated traversals any less "disentangled"
#    than the original ones?
