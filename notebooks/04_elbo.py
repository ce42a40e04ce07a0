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
# # 4. The evidence lower bound
#
# A generative model is good if it gives the data high probability. For our VAE the
# probability of an image is the *marginal likelihood*, or *evidence*,
#
# $$
# p_\theta(x) = \int p_\theta(x \mid z)\, p(z)\, \mathrm{d}z ,
# $$ (eq-04-evidence)
#
# an average of the decoder's likelihood over every code $z$ the prior could produce. With a
# neural network inside the integral there is no closed form, and almost every $z$ drawn
# from the prior explains a given digit terribly, so naive Monte Carlo averaging is
# hopeless. This chapter derives the quantity VAEs optimize instead, the **evidence lower
# bound (ELBO)** {cite}`kingma2014,rezende2014`, checks every formula the library uses
# against TensorFlow Probability, and meets a tighter relative, the importance-weighted
# bound {cite}`burda2016`.

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

import keras
import matplotlib.pyplot as plt
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp
from IPython.display import Markdown

from vae_lib import data, likelihoods, losses, model, plots
from vae_lib.book import glue, show_source, table

tfd = tfp.distributions


def captioned(name: str, caption: str, header: list[str], rows: list[list[str]]) -> Markdown:
    """A numbered table with a caption (a MyST table directive around the Markdown table)."""
    # A "|" inside a cell (as in log q(z|x)) would end the cell: escape it.
    header = [cell.replace("|", "\\|") for cell in header]
    rows = [[cell.replace("|", "\\|") for cell in row] for row in rows]
    body = table(header, rows, "l" + "r" * (len(header) - 1)).data
    return Markdown(f":::{{table}} {caption}\n:name: {name}\n\n{body}\n:::")


# %% [markdown]
# ## Deriving the bound
#
# The encoder's distribution $q_\phi(z \mid x)$ puts its mass where the codes of $x$ are
# likely to be. Use it to rewrite the evidence as an expectation under $q$, by multiplying
# and dividing by $q$ inside the integral (this is *importance sampling*):
#
# $$
# p_\theta(x) = \int q_\phi(z \mid x)\, \frac{p_\theta(x \mid z)\, p(z)}{q_\phi(z \mid x)}\, \mathrm{d}z
# = \mathbb{E}_{q_\phi(z \mid x)}\!\left[\frac{p_\theta(x, z)}{q_\phi(z \mid x)}\right].
# $$ (eq-04-importance)
#
# Take the logarithm of {eq}`eq-04-importance`. The logarithm is concave, so by **Jensen's inequality** the log of an average is at
# least the average of the logs, $\log \mathbb{E}[w] \ge \mathbb{E}[\log w]$:
#
# $$
# \log p_\theta(x) \;\ge\;
# \mathbb{E}_{q_\phi(z \mid x)}\bigl[\log p_\theta(x, z) - \log q_\phi(z \mid x)\bigr]
# \;=:\; \mathcal{L}(\theta, \phi; x).
# $$ (eq-04-jensen)
#
# The right-hand side of {eq}`eq-04-jensen` is the ELBO. Splitting
# $\log p_\theta(x, z) = \log p_\theta(x \mid z) + \log p(z)$ gives it its usual two-term
# form:
#
# $$
# \mathcal{L}(\theta, \phi; x)
# = \underbrace{\mathbb{E}_{q_\phi(z \mid x)}\bigl[\log p_\theta(x \mid z)\bigr]}_{\text{reconstruction}}
# \;-\; \underbrace{\mathrm{KL}\bigl(q_\phi(z \mid x)\,\big\|\,p(z)\bigr)}_{\text{regularizer}} .
# $$ (eq-04-elbo)
#
# The first term rewards codes from which the decoder can rebuild $x$; the second keeps
# each image's distribution of codes close to the prior, so that codes drawn from the prior
# at generation time land where the decoder knows what to do.
#
# ### How loose is it? Exactly the KL to the true posterior
#
# Jensen tells us there is a gap; a two-line calculation tells us what it is. Using
# $p_\theta(x, z) = p_\theta(z \mid x)\, p_\theta(x)$ inside the bound,
#
# $$
# \begin{aligned}
# \mathcal{L}(\theta, \phi; x)
# &= \mathbb{E}_{q}\bigl[\log p_\theta(z \mid x) + \log p_\theta(x) - \log q_\phi(z \mid x)\bigr] \\
# &= \log p_\theta(x) - \mathrm{KL}\bigl(q_\phi(z \mid x)\,\big\|\,p_\theta(z \mid x)\bigr),
# \end{aligned}
# $$
#
# so
#
# $$
# \log p_\theta(x) = \mathcal{L}(\theta, \phi; x)
# + \mathrm{KL}\bigl(q_\phi(z \mid x)\,\big\|\,p_\theta(z \mid x)\bigr).
# $$ (eq-04-gap)
#
# By {eq}`eq-04-gap`, the gap is the KL divergence from the encoder's guess to the true
# posterior. Two things
# follow. The bound is tight exactly when $q$ *is* the posterior. And since $\log p_\theta(x)$
# does not depend on $\phi$, raising the ELBO with respect to the encoder is the same as
# pulling $q$ towards the true posterior: one objective trains both networks, the decoder
# to explain the data and the encoder to do inference.
#
# ## Seeing the gap in a model we can solve
#
# In a VAE neither $\log p_\theta(x)$ nor the true posterior is available, so let us check the
# identity on a one-dimensional model where both are:
#
# $$
# p(z) = \mathcal{N}(0, 1), \qquad p(x \mid z) = \mathcal{N}(x;\ z,\ s^2).
# $$ (eq-04-toy-model)
#
# For the model {eq}`eq-04-toy-model`, completing the square gives the evidence $p(x) = \mathcal{N}(x;\ 0,\ 1 + s^2)$ and the
# posterior $p(z \mid x) = \mathcal{N}\bigl(z;\ \tfrac{x}{1+s^2},\ \tfrac{s^2}{1+s^2}\bigr)$.
# For a Gaussian $q = \mathcal{N}(m, v)$ the ELBO {eq}`eq-04-elbo` has a closed form too:
#
# $$
# \mathcal{L}(m, v) =
# \underbrace{-\tfrac12 \log(2\pi s^2) - \frac{(x - m)^2 + v}{2 s^2}}_{\mathbb{E}_q[\log p(x \mid z)]}
# \;-\; \underbrace{\tfrac12\bigl(v + m^2 - 1 - \log v\bigr)}_{\mathrm{KL}(q \,\|\, p(z))} .
# $$ (eq-04-toy-elbo)

# %%
s2, x_obs = 0.25, 2.0  # likelihood variance s², and one observation
evidence = tfd.Normal(0.0, np.sqrt(1 + s2))
posterior = tfd.Normal(x_obs / (1 + s2), np.sqrt(s2 / (1 + s2)))
prior = tfd.Normal(0.0, 1.0)


def toy_elbo(m: np.ndarray, v: np.ndarray) -> np.ndarray:
    """The closed-form ELBO of the toy model for q = N(m, v)."""
    expected_log_likelihood = -0.5 * np.log(2 * np.pi * s2) - ((x_obs - m) ** 2 + v) / (2 * s2)
    kl_to_prior = 0.5 * (v + m**2 - 1 - np.log(v))
    return expected_log_likelihood - kl_to_prior


log_px = glue("ch04_log_px", float(evidence.log_prob(x_obs)))
glue("ch04_posterior_mean", float(posterior.mean()))
glue("ch04_posterior_variance", float(posterior.variance()))
rows = []
for m, v in [(1.6, 0.2), (1.0, 0.2), (1.6, 1.0), (0.0, 1.0)]:
    gap = log_px - toy_elbo(m, v)
    kl_to_posterior = float(tfd.kl_divergence(tfd.Normal(m, np.sqrt(v)), posterior))
    rows.append([f"N({m}, {v})", f"{toy_elbo(m, v):.4f}", f"{gap:.4f}", f"{kl_to_posterior:.4f}"])
captioned(
    "tab-04-toy",
    "The toy model's ELBO for four choices of $q$, in nats.",
    ["q = N(m, v)", "ELBO", "log p(x) − ELBO", "KL(q ‖ p(z|x))"],
    rows,
)

# %% [markdown]
# With $s^2 = 0.25$ and the observation $x = 2$, the evidence is
# $\log p(x) =$ {glue:text}`ch04_log_px:.4f`, and the posterior is normal with mean
# {glue:text}`ch04_posterior_mean:.2f` and variance {glue:text}`ch04_posterior_variance:.2f`.
# These are log-probabilities with the natural logarithm, and so are all the book's
# figures: their unit is the **nat**. One nat is $1/\ln 2 \approx 1.443$ bits, and a
# log-probability of $-100$ nats is a probability of $e^{-100}$.
#
# In {numref}`tab-04-toy` the ELBO is {eq}`eq-04-toy-elbo`, and the last two columns agree for every $q$, as {eq}`eq-04-gap`
# says, and the gap is zero for $q = \mathcal{N}(1.6, 0.2)$, the true posterior. The last
# row, $q = p(z)$, is what an encoder that ignores its input achieves. Seen as a landscape
# over the mean $m$ of $q$ ({numref}`fig-04-landscape`):

# %% mystnb={"figure": {"caption": "The toy model's ELBO as a function of the mean $m$ of $q$, for three variances of $q$: each curve stays below $\\log p(x)$ and touches it only at the posterior mean with the posterior variance 0.2. The shaded gap is $\\mathrm{KL}(q \\,\\|\\, p(z \\mid x))$ for variance 0.2.", "name": "fig-04-landscape"}}
ms = np.linspace(-0.5, 3.5, 200)
fig, ax = plt.subplots(figsize=(plots.PAGE_WIDTH, 4.4))
ax.axhline(log_px, color="k", lw=1.5, label=r"$\log p(x)$")
for v, style in ((0.2, "-"), (0.05, "--"), (1.0, ":")):
    ax.plot(ms, toy_elbo(ms, v), style, color="C0", label=f"ELBO, q variance {v}")
ax.axvline(float(posterior.mean()), color="C3", lw=1, label="posterior mean")
ax.fill_between(ms, toy_elbo(ms, 0.2), log_px, color="C0", alpha=0.12)
ax.set_ylim(log_px - 8, log_px + 0.8)
ax.set_xlabel("mean $m$ of $q$")
ax.set_ylabel("nats")
# Beside the axes, where it covers no curve.
ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0))
fig.tight_layout()
plt.show()

# %% [markdown]
# ## The estimator the tutorial trains with
#
# In the VAE the expectation over $q$ is not available in closed form, because $z$ passes
# through the decoder. The original TensorFlow tutorial estimates the *whole* bound with a
# single sample $z \sim q_\phi(z \mid x)$, drawn with the reparameterization trick of
# [chapter 3](03_reparameterization.ipynb):
#
# $$
# \hat{\mathcal{L}}_\text{MC}(x) = \log p_\theta(x \mid z) + \log p(z) - \log q_\phi(z \mid x),
# \qquad z = \mu + \sigma \odot \varepsilon .
# $$ (eq-04-mc)
#
# It is unbiased, $\mathbb{E}_\varepsilon[\hat{\mathcal{L}}_\text{MC}] = \mathcal{L}$, and needs
# three log-densities. The decoder's is the Bernoulli log-likelihood of
# [chapter 2](02_encoder_decoder.ipynb), {eq}`eq-02-bernoulli-logits`. The other two are
# diagonal Gaussians, for which `vae_lib` has one function:
#
# $$
# \log \mathcal{N}\bigl(z;\ \mu,\ \operatorname{diag}\sigma^2\bigr)
# = -\frac12 \sum_{j=1}^{d} \Bigl[\frac{(z_j - \mu_j)^2}{\sigma_j^2} + \log \sigma_j^2 + \log 2\pi\Bigr],
# $$ (eq-04-log-normal)
#
# with $\log p(z)$ the case $\mu = 0$, $\log\sigma^2 = 0$. The library computes {eq}`eq-04-log-normal` as
# `log_normal_pdf`:

# %% tags=["nbval-ignore-output", "remove-input"]
show_source(losses.log_normal_pdf)

# %% [markdown]
# ### The analytic KL
#
# The regularizer needs no sampling at all: the KL divergence between two Gaussians has a
# closed form. With $q = \mathcal{N}(\mu, \operatorname{diag}\sigma^2)$ and
# $p = \mathcal{N}(0, I)$, each of the $d$ independent coordinates contributes
#
# $$
# \begin{aligned}
# \mathbb{E}_q\bigl[\log q(z_j) - \log p(z_j)\bigr]
# &= \mathbb{E}_q\!\left[-\tfrac12 \log \sigma_j^2
#    - \frac{(z_j-\mu_j)^2}{2\sigma_j^2} + \frac{z_j^2}{2}\right] \\
# &= -\tfrac12\log\sigma_j^2 - \tfrac12 + \tfrac12\bigl(\sigma_j^2 + \mu_j^2\bigr),
# \end{aligned}
# $$
#
# using $\mathbb{E}_q[(z_j-\mu_j)^2] = \sigma_j^2$ and $\mathbb{E}_q[z_j^2] = \sigma_j^2 + \mu_j^2$.
# Summing over coordinates:
#
# $$
# \mathrm{KL}\bigl(\mathcal{N}(\mu, \operatorname{diag}\sigma^2)\,\big\|\,\mathcal{N}(0, I)\bigr)
# = \frac12 \sum_{j=1}^{d} \bigl(\sigma_j^2 + \mu_j^2 - 1 - \log\sigma_j^2\bigr).
# $$ (eq-04-kl)
#
# It is zero exactly when $\mu = 0$ and $\sigma = 1$. Replacing the sampled
# $\log q - \log p$ by this formula gives a second estimator of the same bound,
#
# $$
# \hat{\mathcal{L}}_\text{KL}(x) = \log p_\theta(x \mid z)
# - \mathrm{KL}\bigl(q_\phi(z \mid x)\,\big\|\,p(z)\bigr),
# $$ (eq-04-kl-estimator)
#
# which {cite:t}`kingma2014` recommend because it has less variance. `losses.elbo_terms`
# computes either, {eq}`eq-04-mc` with `kl="monte_carlo"` or {eq}`eq-04-kl-estimator`
# with `kl="analytic"`. The tutorial's recipe ([chapter 5](05_training.ipynb)) trains with
# the Monte Carlo version, the larger model of [chapter 7](07_results.ipynb) with the
# analytic one, and every evaluation uses the analytic one. The prior and the likelihood
# are parts of the model (`model.prior`, $\mathcal{N}(0, I)$, and `model.likelihood`, the
# Bernoulli), so the same code would serve another prior or likelihood.

# %% tags=["nbval-ignore-output", "remove-input"]
show_source(losses.gaussian_kl, losses.elbo_terms)

# %% [markdown]
# ## Checking every formula against TensorFlow Probability
#
# Hand-written log-densities are easy to get subtly wrong (a missing $\tfrac12$, a sum over
# the wrong axis). TensorFlow Probability implements the same distributions independently,
# so we compare on fixed random inputs: six rows of $\mu$, $\log\sigma^2$, $z$, logits and
# binary images ({numref}`tab-04-tfp`).

# %%
rng = np.random.default_rng(0)
B, D = 6, 2
mu = rng.normal(size=(B, D)).astype(np.float32)
logvar = rng.normal(scale=0.7, size=(B, D)).astype(np.float32)
z = rng.normal(size=(B, D)).astype(np.float32)
logits = rng.normal(scale=3.0, size=(B, 28, 28, 1)).astype(np.float32)
x = (rng.uniform(size=(B, 28, 28, 1)) < 0.2).astype(np.float32)

q = tfd.MultivariateNormalDiag(loc=mu, scale_diag=np.exp(0.5 * logvar))
standard_normal = tfd.MultivariateNormalDiag(loc=tf.zeros(D), scale_diag=tf.ones(D))
bernoulli = tfd.Independent(tfd.Bernoulli(logits=logits), reinterpreted_batch_ndims=3)
checks = {
    "log q(z|x), `log_normal_pdf`": (losses.log_normal_pdf(z, mu, logvar), q.log_prob(z)),
    "log p(z), `log_normal_pdf(z, 0, 0)`": (
        losses.log_normal_pdf(z, 0.0, 0.0),
        standard_normal.log_prob(z),
    ),
    "log p(x|z), `Bernoulli().log_prob`": (
        likelihoods.Bernoulli().log_prob(x, logits),
        bernoulli.log_prob(x),
    ),
    "KL(q ‖ p), `gaussian_kl`": (
        losses.gaussian_kl(mu, logvar),
        tfd.kl_divergence(q, standard_normal),
    ),
}
rows = []
for name, (ours, reference) in checks.items():
    ours, reference = np.asarray(ours), np.asarray(reference)
    relative = np.max(np.abs(ours - reference) / np.maximum(1.0, np.abs(reference)))
    rows.append([name, f"{ours[0]:.4f}", f"{reference[0]:.4f}", f"{relative:.1e}"])
captioned(
    "tab-04-tfp",
    "`vae_lib` against TFP: the first of six values, and the largest relative difference.",
    ["log-density", "vae_lib", "TFP", "largest difference"],
    rows,
)

# %% [markdown]
# Next, the single-sample estimate of the KL term, $\log q(z \mid x) - \log p(z)$ at
# $z \sim q$, should average to the analytic value. With $n$ samples the average is off by
# about one standard error, $\mathrm{sd}/\sqrt{n}$. With $n$ = 200,000 samples per row
# ({numref}`tab-04-kl`), all six averages lie within 4 standard errors of {eq}`eq-04-kl`:
# {glue:text}`ch04_kl_within`.

# %%
n = 200_000
eps = tf.random.stateless_normal([n, B, D], seed=[4, 2])
z_many = mu + np.exp(0.5 * logvar) * eps  # n samples of q for each of the B rows: [n, B, D]
log_q = losses.log_normal_pdf(z_many, mu, logvar)
kl_samples = log_q - losses.log_normal_pdf(z_many, 0.0, 0.0)  # [n, B]
average = tf.reduce_mean(kl_samples, axis=0).numpy()
standard_error = (tf.math.reduce_std(kl_samples, axis=0) / np.sqrt(n)).numpy()
analytic = losses.gaussian_kl(mu, logvar).numpy()
within = np.abs(average - analytic) < 4 * standard_error
glue("ch04_kl_within", bool(np.all(within)))
rows = [
    [str(i), f"{a:.3f}", f"{m:.3f}", f"{e:.4f}"]
    for i, (a, m, e) in enumerate(zip(analytic, average, standard_error, strict=True))
]
captioned(
    "tab-04-kl",
    "The KL of each row: closed form {eq}`eq-04-kl` and Monte Carlo average.",
    ["row", "analytic", "Monte Carlo", "standard error"],
    rows,
)

# %% [markdown]
# Finally the whole estimator inside the model. `losses.elbo_terms` draws $z$ with a
# stateless seed, so we can redraw the *same* $z$ and recompute
# $\log p(x \mid z) + \log p(z) - \log q(z \mid x)$ entirely with TFP distributions. We use
# an untrained CVAE with fixed initial weights; the formulas do not care whether the weights
# are any good. At the same $z$, the two agree: {glue:text}`ch04_elbo_agrees`; and
# ELBO = reconstruction − KL holds image by image: {glue:text}`ch04_split`.

# %%
keras.utils.set_random_seed(0)
cvae = model.CVAE(latent_dim=2)
images = data.binary_test_images(data.load_dataset())[:8]
seed = [7, 7]

terms = losses.elbo_terms(cvae, images, seed, kl="monte_carlo")

mean_x, logvar_x = cvae.encode(images)
z_x = cvae.reparameterize(mean_x, logvar_x, seed)  # the same z that elbo_terms drew
decoder_bernoulli = tfd.Bernoulli(logits=cvae.decode(z_x))
decoder_dist = tfd.Independent(decoder_bernoulli, reinterpreted_batch_ndims=3)
encoder_dist = tfd.MultivariateNormalDiag(mean_x, tf.exp(0.5 * logvar_x))
log_joint = decoder_dist.log_prob(images) + standard_normal.log_prob(z_x)
by_tfp = log_joint - encoder_dist.log_prob(z_x)

glue("ch04_elbo_agrees", np.allclose(terms.elbo, by_tfp, rtol=1e-5, atol=1e-3))
split = glue("ch04_split", np.allclose(terms.elbo, terms.reconstruction - terms.kl))
log_w_mean = glue("ch04_log_w", float(tf.reduce_mean(terms.elbo)))  # one-sample log w
w = glue("ch04_w", float(tf.exp(tf.constant(log_w_mean, tf.float32))))

# %% [markdown]
# ### Two estimators, one expectation, different noise
#
# Both estimators are unbiased for the same bound; they differ in how much a single draw
# scatters. Repeating each for 200 seeds on the same eight digits gives
# {numref}`tab-04-estimators` (its values depend on the untrained weights, so they are for
# illustration):

# %% tags=["nbval-ignore-output"]
draws = {
    kind: np.stack([losses.elbo_terms(cvae, images, [1, i], kl=kind).elbo for i in range(200)])
    for kind in ("monte_carlo", "analytic")
}
rows = []
for kind, values in draws.items():
    means = ", ".join(f"{v:.2f}" for v in values.mean(axis=0)[:4])
    rows.append([kind, means, f"{values.std(axis=0).mean():.3f}"])
assert draws["analytic"].std(axis=0).mean() < draws["monte_carlo"].std(axis=0).mean()
captioned(
    "tab-04-estimators",
    "The two estimators over 200 seeds: mean ELBO of the first four digits, in nats, and "
    "the standard deviation across seeds, averaged over the eight digits.",
    ["estimator", "mean over seeds", "standard deviation"],
    rows,
)

# %% [markdown]
# The means agree to within sampling noise, and the analytic KL removes part of the
# scatter, the part due to $\log q - \log p$. The rest comes from the reconstruction term,
# which has no closed form. (Untrained, this encoder's $q$ is close to the prior, so the KL
# term is small and so is the difference. After training, $q$ is much narrower than the
# prior and the sampled KL term scatters more.)
#
# ## A tighter bound: importance weighting
#
# The ELBO applies Jensen's inequality to a *single* importance weight
# $w = p_\theta(x, z) / q_\phi(z \mid x)$. {cite:t}`burda2016` average $k$ independent weights
# first:
#
# $$
# \mathcal{L}_k(x) = \mathbb{E}_{z_1, \ldots, z_k \sim q_\phi(z \mid x)}
# \left[\log \frac{1}{k} \sum_{i=1}^{k} \frac{p_\theta(x, z_i)}{q_\phi(z_i \mid x)}\right].
# $$ (eq-04-iw)
#
# The average inside the logarithm is still an unbiased estimate of $p_\theta(x)$, so
# $\mathcal{L}_k \le \log p_\theta(x)$ by the same Jensen argument; for $k = 1$ it is the
# ELBO. Because an average of more weights scatters less, Jensen's gap shrinks:
# {cite:t}`burda2016` prove that
#
# $$
# \mathcal{L}_1 \le \mathcal{L}_2 \le \cdots \le \mathcal{L}_k \le \log p_\theta(x),
# \qquad \mathcal{L}_k \to \log p_\theta(x) \text{ as } k \to \infty
# $$ (eq-04-monotone)
#
# (the limit when the weights are bounded). In practice the sum is computed from the
# log-weights with `logsumexp`, since the weights themselves underflow: for the untrained
# model above, $\log w$ averages {glue:text}`ch04_log_w:.1f` nats over the eight digits,
# and $e^{\log w}$ in float32 is {glue:text}`ch04_w:.1f`; a trained model's are in the
# negative hundreds too ([chapter 5](05_training.ipynb)).
#
# In the toy model we can watch $\mathcal{L}_k$ climb to the exact $\log p(x)$. We give it a
# poor $q = \mathcal{N}(1.0, 0.5)$, mean and variance both wrong, and estimate each
# $\mathcal{L}_k$ {eq}`eq-04-iw` by averaging over 4,000 independent replicates
# ({numref}`tab-04-iw` and {numref}`fig-04-iw`). The exact ELBO of this $q$ is
# {glue:text}`ch04_toy_elbo:.3f` nats, the exact $\log p(x)$
# {glue:text}`ch04_log_px:.3f`, and $\mathcal{L}_k$ rises with every doubling of $k$:
# {glue:text}`ch04_rises`.

# %%
q_toy = tfd.Normal(np.float64(1.0), np.sqrt(0.5))
ks = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024]
replicates = 4000
# One pool of 1024 samples per replicate; L_k uses the first k of them.
z_pool = 1.0 + np.sqrt(0.5) * np.random.default_rng(2).standard_normal((replicates, max(ks)))
log_w = (
    tfd.Normal(z_pool, np.sqrt(s2)).log_prob(x_obs)  # log p(x | z)
    + tfd.Normal(np.float64(0.0), 1.0).log_prob(z_pool)  # log p(z)
    - q_toy.log_prob(z_pool)  # log q(z)
)
bounds = [float(tf.reduce_mean(tf.reduce_logsumexp(log_w[:, :k], axis=1)) - np.log(k)) for k in ks]
exact_elbo = glue("ch04_toy_elbo", float(toy_elbo(1.0, 0.5)))
glue("ch04_rises", all(b2 > b1 for b1, b2 in itertools.pairwise(bounds)))
captioned(
    "tab-04-iw",
    "The toy model's $\\mathcal{L}_k$ for $q = \\mathcal{N}(1.0, 0.5)$, in nats.",
    ["k", "L_k", "log p(x) − L_k"],
    [[f"{k:,}", f"{b:.3f}", f"{log_px - b:.3f}"] for k, b in zip(ks, bounds, strict=True)],
)

# %% mystnb={"figure": {"caption": "The bounds of {numref}`tab-04-iw` against $k$: $\\mathcal{L}_1$ is the ELBO (dashed), and $\\mathcal{L}_k$ climbs to $\\log p(x)$ (solid) as $k$ grows.", "name": "fig-04-iw"}}
fig, ax = plt.subplots(figsize=(plots.PAGE_WIDTH, 4))
ax.semilogx(ks, bounds, "o-", base=2, label=r"$\mathcal{L}_k$ (Monte Carlo)")
ax.axhline(log_px, color="k", lw=1.5, label=r"$\log p(x)$")
ax.axhline(exact_elbo, color="C3", ls="--", lw=1, label="ELBO (exact)")
ax.set_xlabel("number of importance samples $k$")
ax.set_ylabel("nats")
ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0))  # beside the lines, not over them
fig.tight_layout()
plt.show()

# %% [markdown]
# The library computes $\mathcal{L}_k$ for the CVAE in the same way: one function gives
# the $k$ log-weights of each image, $\log w$ of shape `[k, B]`, and the bound is their
# log-mean-exp, {eq}`eq-04-iw` with one draw of the $k$ samples.

# %% tags=["nbval-ignore-output", "remove-input"]
show_source(losses.log_importance_weights, losses.importance_weighted_bound)

# %% [markdown]
# For $k$ in the thousands the `[k, B]` weights of a batch would not fit in memory at
# once, so `vae_lib.evaluate.iw_bounds`, which the later chapters call, decodes them a
# hundred samples at a time and carries the log-sum-exp from one chunk to the next; the
# result is the same bound. [Chapter 6](06_generation.ipynb) uses it to ask how far the
# trained model's ELBO is from its log-likelihood, and [chapter 7](07_results.ipynb) and
# [chapter 8](08_papers.ipynb) report it.

# %% [markdown]
# ## Summary
#
# * $\log p_\theta(x) \ge \mathbb{E}_q[\log p_\theta(x \mid z)] - \mathrm{KL}(q_\phi(z \mid x)\,\|\,p(z))$,
#   {eq}`eq-04-elbo`, by Jensen's inequality applied to an importance-sampling identity.
# * The unit of every log-probability in this book is the nat (natural logarithm;
#   1 nat = $1/\ln 2$ bits).
# * The gap {eq}`eq-04-gap` is exactly $\mathrm{KL}(q_\phi(z \mid x)\,\|\,p_\theta(z \mid x))$: maximizing the
#   bound trains the decoder and makes the encoder a better posterior approximation at once.
# * The tutorial's estimator uses one sample for all three log-densities; replacing the
#   sampled KL by its closed form $\tfrac12\sum_j(\sigma_j^2 + \mu_j^2 - 1 - \log\sigma_j^2)$
#   keeps the expectation and lowers the variance.
# * Every formula in `vae_lib.losses` matches TensorFlow Probability on fixed inputs.
# * Averaging $k$ importance weights inside the log gives bounds $\mathcal{L}_k$ that rise
#   with $k$ towards $\log p_\theta(x)$ {eq}`eq-04-monotone`.
#
# ## Exercises
#
# 1. In the toy model, find the $q = \mathcal{N}(m, v)$ that maximizes `toy_elbo` numerically
#    (a grid search will do) and confirm it is the posterior.
# 2. Show that $\mathcal{L}_k \le \mathcal{L}_{2k}$. (Hint: write the average of $2k$ weights
#    as the average of two averages of $k$, and use concavity of the logarithm once more.)
# 3. In the toy model, make $q$ *wider* than the posterior and then *narrower* by the same
#    factor. For which does $\mathcal{L}_k$ approach $\log p(x)$ faster as $k$ grows, and why?
#    (Think about what happens to the importance weights in the tails.)
# 4. `losses.gaussian_kl` assumes the prior is $\mathcal{N}(0, I)$. Derive the KL between
#    two arbitrary diagonal Gaussians and check your formula with `tfd.kl_divergence`.
