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
# # 3. The reparameterization trick
#
# Training a VAE means maximizing an objective of the form
#
# $$
# \mathbb{E}_{z \sim q_\phi(z \mid x)}\bigl[f(z)\bigr]
# $$ (eq-03-objective)
#
# with respect to the encoder's weights $\phi$ ([chapter 4](04_elbo.ipynb) derives which
# $f$). The weights
# enter through the *distribution* that $z$ is drawn from, not through a formula we can
# differentiate. A sample is just a number: once $z$ has been drawn, nothing in it records
# how it would have changed had $\mu$ or $\sigma$ been slightly different. Backpropagation
# stops there.
#
# The way out, found independently by {cite:t}`kingma2014` and {cite:t}`rezende2014`, is to
# move the randomness out of the way. Draw noise that does not depend on $\phi$, and make
# $z$ a deterministic, differentiable function of that noise and of the encoder's outputs:
#
# $$
# \varepsilon \sim \mathcal{N}(0, I), \qquad z = \mu + \sigma \odot \varepsilon,
# \qquad \sigma = \exp\bigl(\tfrac12 \log \sigma^2\bigr).
# $$ (eq-03-trick)
#
# Then $z$ has exactly the distribution $\mathcal{N}(\mu, \operatorname{diag}\sigma^2)$, and
# the expectation {eq}`eq-03-objective` can be taken over $\varepsilon$ instead, so the
# gradient moves inside it:
#
# $$
# \nabla_\phi\, \mathbb{E}_{q_\phi(z \mid x)}\bigl[f(z)\bigr]
# = \nabla_\phi\, \mathbb{E}_{\varepsilon \sim \mathcal{N}(0, I)}\bigl[f(\mu + \sigma \odot \varepsilon)\bigr]
# = \mathbb{E}_{\varepsilon}\bigl[\nabla_\phi f(\mu + \sigma \odot \varepsilon)\bigr].
# $$ (eq-03-gradient)
#
# The right-hand side of {eq}`eq-03-gradient` is estimated by drawing $\varepsilon$ and
# backpropagating as usual. This chapter shows the trick at work, and why it is preferred
# to the alternative.

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
import keras
import matplotlib.pyplot as plt
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp
from IPython.display import Markdown

from vae_lib import data, model, plots
from vae_lib.book import glue, show_source, table

# %% [markdown]
# ## A picture of the trick
#
# The same cloud of standard-normal noise $\varepsilon$ becomes a sample of any diagonal
# Gaussian by a stretch with $\sigma$ and a shift by $\mu$ ({numref}`fig-03-trick`). Each
# point on the right is the image of the point of the same colour on the left. Change
# $\mu$ and every point moves with it, smoothly: that is what a gradient needs.

# %% mystnb={"figure": {"caption": "Left: 300 draws of $\\varepsilon \\sim \\mathcal{N}(0, I)$. Right: the same draws mapped by {eq}`eq-03-trick` with $\\mu = (2, -1)$ (the cross) and $\\sigma = (0.5, 1.5)$; each point keeps its colour.", "name": "fig-03-trick"}}
rng = np.random.default_rng(0)
noise = rng.standard_normal((300, 2))
mu, sigma = np.array([2.0, -1.0]), np.array([0.5, 1.5])
colour = np.arctan2(noise[:, 1], noise[:, 0])  # colour by angle, to follow points across panels

fig, axes = plt.subplots(1, 2, figsize=(plots.PAGE_WIDTH, 4.6), sharex=True, sharey=True)
panels = [
    (noise, r"$\varepsilon \sim \mathcal{N}(0, I)$"),
    (mu + sigma * noise, r"$z = \mu + \sigma \odot \varepsilon$"),
]
for ax, (points, title) in zip(axes, panels, strict=True):
    ax.scatter(points[:, 0], points[:, 1], c=colour, cmap="hsv", s=12, alpha=0.8)
    ax.set_title(title)
    ax.set_aspect("equal")
    ax.grid(alpha=0.3)
    ax.set_xlabel("first coordinate")
axes[0].set_ylabel("second coordinate")
axes[1].plot(*mu, "k+", markersize=14, mew=2)
fig.tight_layout()
plt.show()

# %% [markdown]
# In `vae_lib` the trick is one line of `CVAE.reparameterize`. The optional `seed` makes
# the noise reproducible, which [chapter 5](05_training.ipynb) uses to make training
# deterministic.

# %% tags=["nbval-ignore-output", "remove-input"]
show_source(model.CVAE.reparameterize)

# %% [markdown]
# ## The gradients arrive, and they are right
#
# Take a function whose expectation we know in closed form: $f(z) = \lVert z \rVert^2$.
# For $z \sim \mathcal{N}(\mu, \operatorname{diag} \sigma^2)$,
#
# $$
# \mathbb{E}\bigl[\lVert z \rVert^2\bigr] = \sum_j \bigl(\mu_j^2 + \sigma_j^2\bigr),
# \qquad
# \frac{\partial}{\partial \mu_j} = 2\mu_j,
# \qquad
# \frac{\partial}{\partial \log\sigma_j^2} = \sigma_j^2 .
# $$ (eq-03-exact)
#
# We let TensorFlow differentiate a Monte Carlo average of $n$ = 100,000 samples through
# `reparameterize` and compare with the exact values {eq}`eq-03-exact`
# ({numref}`tab-03-check`).

# %%
keras.utils.set_random_seed(0)
cvae = model.CVAE(latent_dim=2)

mean = tf.Variable([[2.0, -1.0]])
logvar = tf.Variable([[np.log(0.25), np.log(2.25)]], dtype=tf.float32)  # σ = (0.5, 1.5)
n = 100_000
with tf.GradientTape() as tape:
    means, logvars = tf.broadcast_to(mean, [n, 2]), tf.broadcast_to(logvar, [n, 2])  # n copies
    z = cvae.reparameterize(means, logvars, seed=[0, 0])
    estimate = tf.reduce_mean(tf.reduce_sum(z**2, axis=-1))
grad_mean, grad_logvar = tape.gradient(estimate, [mean, logvar])

exact = tf.reduce_sum(mean**2 + tf.exp(logvar))
exact_mean, exact_logvar = 2 * mean.numpy()[0], np.exp(logvar.numpy()[0])


def pair(values: np.ndarray) -> str:
    return ", ".join(f"{v:.3f}" for v in values)


rows = [
    ["E‖z‖²", f"{float(estimate):.3f}", f"{float(exact):.3f}"],
    ["∂/∂μ", pair(grad_mean.numpy()[0]), pair(exact_mean)],
    ["∂/∂log σ²", pair(grad_logvar.numpy()[0]), pair(exact_logvar)],
]
caption = ":::{table} Monte Carlo through `reparameterize` against {eq}`eq-03-exact`.\n"
check = table(["", "Monte Carlo", "exact"], rows, align="lrr").data
Markdown(caption + ":name: tab-03-check\n\n" + check + "\n:::")

# %% [markdown]
# The estimates agree with the exact values to within Monte Carlo error, which shrinks like
# $1/\sqrt{n}$.
#
# ## What does *not* pass a gradient
#
# Which sampling code lets gradients through is worth checking rather than assuming.
# `tf.random.normal(shape, mean=μ, stddev=σ)` does: it is implemented as
# `μ + σ * standard_normal`, the reparameterization trick in disguise. So does
# `sample()` of a TensorFlow Probability `Normal`, whose `reparameterization_type` says
# `FULLY_REPARAMETERIZED`. What does *not* pass a gradient is a sample that reaches the
# graph as a plain number: drawn by NumPy, or cut off with `tf.stop_gradient`. Then the
# tape has no path back to $\mu$ and $\sigma$, and the gradient is `None`
# ({numref}`tab-03-samplers`).

# %%
mu_ = tf.Variable([2.0])
sigma_ = tf.Variable([0.5])
fixed_noise = tf.random.stateless_normal([1], seed=[1, 2])
samplers = {
    "μ + σ ⊙ ε (reparameterize)": lambda: mu_ + sigma_ * fixed_noise,
    "tf.random.normal(mean=μ, stddev=σ)": lambda: tf.random.normal([1], mean=mu_, stddev=sigma_),
    "tfp Normal(μ, σ).sample()": lambda: tfp.distributions.Normal(mu_, sigma_).sample(),
    "np.random.normal(μ, σ)": lambda: tf.constant(np.random.normal(mu_.numpy(), sigma_.numpy()), "float32"),
    "tf.stop_gradient(μ + σ ⊙ ε)": lambda: tf.stop_gradient(mu_ + sigma_ * fixed_noise),
}
rows = []
for name, draw in samplers.items():
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(draw() ** 2)
    to_mu, to_sigma = tape.gradient(loss, [mu_, sigma_])
    rows.append([name, str(to_mu is not None), str(to_sigma is not None)])
reparameterization_type = tfp.distributions.Normal(0.0, 1.0).reparameterization_type
glue("ch03_tfp_type", Markdown(f"`{reparameterization_type}`"))
caption = ":::{table} Does the gradient of $z^2$ reach $\\mu$ and $\\sigma$?\n"
header = ["sampler", "reaches μ", "reaches σ"]
Markdown(caption + ":name: tab-03-samplers\n\n" + table(header, rows).data + "\n:::")

# %% [markdown]
# TFP's `Normal` declares its sampler {glue:md}`ch03_tfp_type`.

# %% [markdown]
# ## Inside the VAE
#
# The same holds in the model. Below, the reconstruction term $\log p_\theta(x \mid z)$ of a
# batch of test digits is differentiated with respect to the encoder's weights, once with
# $z$ from `reparameterize` and once with the same $z$ behind `tf.stop_gradient`. Only the
# first lets the encoder learn from how well its codes can be decoded. (The KL term of
# [chapter 4](04_elbo.ipynb) depends on $\mu$ and $\log\sigma^2$ directly, so it would reach the encoder
# either way; it is the reconstruction term that needs the trick.) Of the encoder's
# {glue:text}`ch03_tensors` weight tensors, {glue:text}`ch03_reached` receive a gradient
# through the reparameterized $z$ and {glue:text}`ch03_cut` through the cut one.

# %%
x = data.binary_test_images(data.load_dataset())[:16]
reached = {}
for cut in (False, True):
    with tf.GradientTape() as tape:
        mean_x, logvar_x = cvae.encode(x)
        z = cvae.reparameterize(mean_x, logvar_x, seed=[0, 1])
        z = tf.stop_gradient(z) if cut else z
        log_px_z = cvae.likelihood.log_prob(x, cvae.decode(z))
        reconstruction = tf.reduce_mean(log_px_z)
    grads = tape.gradient(reconstruction, cvae.encoder.trainable_variables)
    reached[cut] = sum(g is not None for g in grads)
glue("ch03_tensors", len(cvae.encoder.trainable_variables))
glue("ch03_reached", reached[False])
cut = glue("ch03_cut", reached[True])

# %% [markdown]
# ## Why not the score function?
#
# There is another unbiased gradient estimator that needs no reparameterization at all,
# the *score function* or REINFORCE estimator {cite}`williams1992`. It uses
# $\nabla_\mu q = q\, \nabla_\mu \log q$:
#
# $$
# \nabla_\mu\, \mathbb{E}_{q}\bigl[f(z)\bigr] = \mathbb{E}_{q}\bigl[f(z)\, \nabla_\mu \log q(z)\bigr]
# = \mathbb{E}_{q}\Bigl[f(z)\, \frac{z - \mu}{\sigma^2}\Bigr].
# $$ (eq-03-score)
#
# It works for any distribution, even discrete ones, and $f$ need not be differentiable.
# But it only *weighs* samples by how good they were; the reparameterization gradient
# $\mathbb{E}_\varepsilon[f'(\mu + \sigma\varepsilon)]$ uses the slope of $f$ at each sample
# and so knows in which direction to move. The price of ignorance is variance. For
# $f(z) = z^2$ in one dimension, with $\mu = 2$ and $\sigma = 0.5$ (exact gradient
# $2\mu = 4$), {numref}`tab-03-spread` and {numref}`fig-03-estimators` show the spread of
# 100,000 single-sample estimates of each kind, {eq}`eq-03-gradient` against
# {eq}`eq-03-score`:

# %%
mu1, sigma1 = 2.0, 0.5
eps1 = np.random.default_rng(1).standard_normal(100_000)
z1 = mu1 + sigma1 * eps1
reparameterization = 2 * z1  # f'(z) at each sample
score_function = z1**2 * (z1 - mu1) / sigma1**2  # f(z) · ∂/∂μ log q(z)
estimators = {"reparameterization": reparameterization, "score function": score_function}
rows = [[name, f"{e.mean():.3f}", f"{e.std():.3f}"] for name, e in estimators.items()]
ratio = glue("ch03_ratio", float(score_function.std() / reparameterization.std()))
glue("ch03_ratio_squared", ratio**2)
header = ["estimator", "mean", "standard deviation of one estimate"]
caption = ":::{table} Single-sample estimates of $\\partial/\\partial\\mu\\, \\mathbb{E}[z^2] = 4$.\n"
Markdown(caption + ":name: tab-03-spread\n\n" + table(header, rows, "lrr").data + "\n:::")

# %% mystnb={"figure": {"caption": "Histograms of the single-sample estimates of {numref}`tab-03-spread`: both are centred on the exact gradient (dashed), the score function's far more widely spread.", "name": "fig-03-estimators"}}
fig, ax = plt.subplots(figsize=(plots.PAGE_WIDTH, 3.6))
bins = np.linspace(-40, 50, 181)
ax.hist(score_function, bins=bins, alpha=0.6, density=True, label="score function")
ax.hist(reparameterization, bins=bins, alpha=0.8, density=True, label="reparameterization")
ax.axvline(2 * mu1, color="k", ls="--", lw=1, label="exact gradient")
ax.set_xlabel("single-sample estimate of ∂/∂μ E[z²]")
ax.set_ylabel("density")
ax.legend()
fig.tight_layout()
plt.show()

# %% [markdown]
# Both are centred on the right answer, but one score-function estimate scatters
# {glue:text}`ch03_ratio:.1f` times as widely as one reparameterization estimate, so it
# needs about the square of that, {glue:text}`ch03_ratio_squared:.0f` times as many
# samples, for the same precision. Variance-reduction tricks (baselines, control variates)
# narrow the gap; the reparameterization trick avoids it. Its
# requirement, that $z$ be a differentiable function of parameters and parameter-free
# noise, holds for the Gaussian and many other continuous distributions.
#
# ## Summary
#
# * Sampling blocks gradients; writing the sample as $z = \mu + \sigma\odot\varepsilon$ with
#   parameter-free noise $\varepsilon$ unblocks them, and the gradient of the expectation
#   becomes the expectation of an ordinary gradient.
# * TensorFlow's `tf.random.normal(mean, stddev)` and TFP's `Normal.sample()` are already
#   reparameterized; a sample that enters as a constant is not.
# * In the VAE, the trick is what lets the reconstruction term teach the encoder.
# * The alternative score-function estimator is unbiased too, but far noisier.
#
# ## Exercises
#
# 1. Repeat the first experiment with $n = 100$ and $n = 10{,}000$ samples, several seeds
#    each. How does the error of the gradient estimate scale with $n$?
# 2. Derive the reparameterization gradient $\partial/\partial\sigma\, \mathbb{E}[z^2] = 2\sigma$
#    and the score-function version of it, and compare their variances numerically.
# 3. Replace $\mu$ and $\sigma$ by the parameters of an exponential distribution. Write a
#    reparameterized sampler for it using $z = -\log(u)/\lambda$ with $u \sim U(0,1)$, and
#    check its gradient with `tf.GradientTape`.
