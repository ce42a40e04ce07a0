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
# # 2. The encoder and the decoder
#
# A VAE is two models that are trained together {cite}`kingma2014,rezende2014`.
#
# The **generative model** tells a story of how an image comes about. First a latent code
# $z \in \mathbb{R}^d$ is drawn from a fixed prior, then a neural network, the *decoder*,
# turns $z$ into one probability per pixel, and the pixels are drawn from those:
#
# $$
# \begin{aligned}
# z &\sim p(z) = \mathcal{N}(0, I_d), \\
# x \mid z &\sim p_\theta(x \mid z) = \prod_{i=1}^{784} \mathrm{Bernoulli}\bigl(x_i;\ \sigma(\ell_i)\bigr),
# \qquad \ell = f_\theta(z),
# \end{aligned}
# $$ (eq-02-generative)
#
# where $f_\theta$ is the decoder with weights $\theta$, $\ell \in \mathbb{R}^{784}$ are its
# *logits* and $\sigma(\ell) = 1/(1+e^{-\ell})$ is the logistic sigmoid: the Bernoulli
# likelihood {eq}`eq-01-bernoulli` of [chapter 1](01_data.ipynb) with
# $\lambda_i = \sigma(\ell_i)$.
#
# The **inference model** runs the story backwards. Given an image $x$, which codes $z$
# could have produced it? The exact answer, the posterior $p_\theta(z \mid x)$, is
# intractable, so a second network, the *encoder* $g_\phi$, proposes a Gaussian
# approximation to it:
#
# $$
# q_\phi(z \mid x) = \mathcal{N}\bigl(z;\ \mu,\ \operatorname{diag}(\sigma^2)\bigr),
# \qquad (\mu,\ \log \sigma^2) = g_\phi(x).
# $$ (eq-02-encoder)
#
# One encoder serves every image: instead of fitting a separate $q$ per image, we learn a
# function from images to distributions. This is called *amortized* inference.
#
# This chapter builds both networks, checks their shapes and parameter counts, and
# explains two output choices that look like details but matter: the encoder predicts a
# *log*-variance, and the decoder predicts *logits*.

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
from IPython.display import Markdown
from matplotlib.patches import FancyArrowPatch, Rectangle

from vae_lib import data, losses, model, plots
from vae_lib.book import glue, show_source, table

# %% [markdown]
# ## The architecture at a glance
#
# Both networks are small convolutional networks ({numref}`fig-02-architecture`). The
# encoder halves the image twice with strided $3\times3$ convolutions and ends in a linear
# layer with $2d$ outputs: $d$ means and $d$ log-variances. The decoder runs the other way:
# a linear layer from $z$ to a $7\times7\times32$ block, two *transposed* convolutions
# that each double the resolution, and a third, with stride 1, that keeps the resolution
# and ends in one logit per pixel. We use $d = 2$ throughout, so that the latent space
# can be drawn on paper ([chapter 6](06_generation.ipynb)).

# %% mystnb={"figure": {"caption": "The networks, drawn to scale in resolution (height) and channels (width): the encoder (blue) maps an image to the mean and log-variance of $q_\\phi(z \\mid x)$, a code $z$ is drawn from it (red), and the decoder (orange) maps the code to one logit per pixel.", "name": "fig-02-architecture"}} tags=["remove-input"]
stages = [
    ("x", "28²×1", 28, 1, "0.85"),
    ("Conv\n/2", "13²×32", 13, 32, "C0"),
    ("Conv\n/2", "6²×64", 6, 64, "C0"),
    ("Dense", "μ, log σ²", 2, 4, "C2"),
    ("sample", "z", 2, 2, "C3"),
    ("Dense", "7²×32", 7, 32, "C1"),
    ("ConvT\n×2", "14²×64", 14, 64, "C1"),
    ("ConvT\n×2", "28²×32", 28, 32, "C1"),
    ("ConvT\n×1", "28²×1", 28, 1, "C1"),
]
fig, ax = plt.subplots(figsize=(plots.PAGE_WIDTH, 3.6))
x_pos = 0.0
centres = []
for label, shape, size, channels, colour in stages:
    height = 0.4 + 2.6 * size / 28
    width = 0.25 + 0.5 * np.log2(channels + 1) / 6
    ax.add_patch(Rectangle((x_pos, -height / 2), width, height, color=colour, alpha=0.75))
    ax.text(x_pos + width / 2, 1.75, label, ha="center", va="bottom")
    ax.text(x_pos + width / 2, -1.75, shape, ha="center", va="top")
    centres.append((x_pos, x_pos + width))
    x_pos += width + 0.62
for (_, right), (left, _) in itertools.pairwise(centres):
    arrow = FancyArrowPatch((right + 0.05, 0), (left - 0.05, 0), arrowstyle="-|>", mutation_scale=10)
    ax.add_patch(arrow)
captions = [
    ((centres[0][0] + centres[3][1]) / 2, r"encoder $q_\phi(z\,|\,x)$", "C0"),
    (np.mean(centres[4]), r"$z=\mu+\sigma\odot\varepsilon$", "C3"),
    ((centres[5][0] + centres[8][1]) / 2, r"decoder $p_\theta(x\,|\,z)$", "C1"),
]
for x_text, caption, colour in captions:
    ax.text(x_text, -3.0, caption, ha="center", color=colour)
ax.set_xlim(-0.3, x_pos - 0.3)
ax.set_ylim(-3.4, 2.9)
ax.set_axis_off()
fig.tight_layout()
plt.show()

# %% [markdown]
# Every convolution in {numref}`fig-02-architecture` is $3 \times 3$; "/2" halves the
# resolution (stride 2), "×2" doubles it, and $28^2 \times 1$ stands for
# $28 \times 28 \times 1$. In `vae_lib.model` the two networks are plain
# `keras.Sequential` stacks:

# %% tags=["nbval-ignore-output", "remove-input"]
show_source(model.build_encoder, model.build_decoder)

# %% [markdown]
# Every hidden layer applies the tutorial's ReLU, $\max(0, a)$; the layers that give the
# mean and log-variance, and the logits, are linear, since those may be any real number.
# (`activation="elu"` swaps in the ELU, which [chapter 15](15_ablation.ipynb) measures.)
# `model.CVAE` holds one of each network and adds the operations that connect them: `encode`
# (split the encoder output into $\mu$ and $\log\sigma^2$), `reparameterize` (draw $z$,
# the subject of [chapter 3](03_reparameterization.ipynb)), `decode` and `sample`.
#
# A note on the name. The TensorFlow tutorial {cite}`tfcvae` calls its model `CVAE` for
# *convolutional* VAE, and `vae_lib` keeps the name. In the research literature, though,
# "CVAE" almost always means a *conditional* VAE, one whose encoder and decoder are also
# given a label {cite}`sohn2015`. In this book `CVAE` is the class name
# of a convolutional VAE; when we mean the other kind we say "conditional VAE".
#
# We build one with a fixed seed, so that its random initial weights are the same every
# time this notebook runs, and list its layers ({numref}`tab-02-layers`).

# %%
keras.utils.set_random_seed(0)
cvae = model.CVAE(latent_dim=2)

# The parameter count of each layer by formula, in the networks' order.
by_formula = {
    "encoder": [
        (3 * 3 * 1 + 1) * 32,  # Conv2D 1 → 32
        (3 * 3 * 32 + 1) * 64,  # Conv2D 32 → 64
        0,  # Flatten
        (6 * 6 * 64 + 1) * 4,  # Dense 2304 → 2·2
    ],
    "decoder": [
        (2 + 1) * 7 * 7 * 32,  # Dense 2 → 1568
        0,  # Reshape
        (3 * 3 * 32 + 1) * 64,  # Conv2DTranspose 32 → 64
        (3 * 3 * 64 + 1) * 32,  # Conv2DTranspose 64 → 32
        (3 * 3 * 32 + 1) * 1,  # Conv2DTranspose 32 → 1
    ],
}
rows, agree = [], True
for network in (cvae.encoder, cvae.decoder):
    for layer, formula in zip(network.layers, by_formula[network.name], strict=True):
        shape = str(tuple(layer.output.shape[1:]))
        count = layer.count_params()
        agree &= count == formula
        name = type(layer).__name__
        rows.append([network.name, name, shape, f"{count:,}", f"{formula:,}"])
    rows.append([network.name, "**total**", "", f"**{network.count_params():,}**", ""])
glue("ch02_formula_agrees", agree)
header = ["network", "layer", "output shape", "parameters (Keras)", "by formula"]
layers_md = table(header, rows, align="lllrr").data
caption = ":::{table} The layers of the untrained CVAE, $d = 2$.\n:name: tab-02-layers\n\n"
table_02 = caption + layers_md + "\n:::"
Markdown(table_02)

# %% [markdown]
# Every layer's count in {numref}`tab-02-layers` matches its formula (below):
# {glue:text}`ch02_formula_agrees`.
#
# ### Where the shapes come from
#
# A convolution with kernel $k$, stride $s$ and no padding (`"valid"`, Keras' default)
# maps a side of length $n$ to $\lfloor (n - k)/s \rfloor + 1$. So the encoder goes
# $28 \to \lfloor 25/2 \rfloor + 1 = 13 \to \lfloor 10/2 \rfloor + 1 = 6$. The $3 \times 3$
# windows of a stride-2 layer start at rows $0, 2, 4, \ldots$; which rows of its input
# does none of them read?


# %%
def rows_read(n: int, kernel: int = 3, stride: int = 2) -> set[int]:
    """The rows (or columns) of an n-row input that a valid convolution's windows cover."""
    n_out = (n - kernel) // stride + 1
    return {stride * i + j for i in range(n_out) for j in range(kernel)}


unread_input = sorted(set(range(28)) - rows_read(28))
unread_map = sorted(set(range(13)) - rows_read(13))
table(
    ["layer", "input rows", "rows no window reads"],
    [
        ["first convolution", "28", ", ".join(map(str, unread_input)) or "none"],
        ["second convolution", "13", ", ".join(map(str, unread_map)) or "none"],
    ],
)

# %% [markdown]
# The second convolution reads all of the $13 \times 13$ map: its six windows cover rows
# 0 to 12 exactly. The first one's thirteen windows end at row 26, so the input's last
# row and last column (index 27) never reach the encoder. How much ink is there?

# %%
mnist = data.load_dataset()
images = mnist.train_images.astype(np.float64)  # [60000, 28, 28] grey levels
unseen = np.concatenate([images[:, 27, :], images[:, :, 27]], axis=1)  # row and column 27
inked = glue("ch02_edge_images", int((unseen > 0).any(axis=1).sum()))
share = glue("ch02_edge_ink", float(unseen.sum() / images.sum()))
glue("ch02_train_n", len(images))
print(f"ink in row or column 27: {inked:,} of {len(images):,} training images, {share:.4%} of all ink")

# %% [markdown]
# Little: MNIST's digits are centred in their $28 \times 28$ frame by their centre of mass,
# and ink reaches the last row or column in only {glue:text}`ch02_edge_images:,` of the
# {glue:text}`ch02_train_n:,` training images, {glue:text}`ch02_edge_ink:.4%` of all the
# ink. The encoder cannot see it, and the decoder must still draw it.
# The decoder's transposed convolutions use `"same"` padding, which makes a stride-$s$
# layer multiply the side by exactly $s$: $7 \to 14 \to 28$.
#
# ### Where the parameter counts come from
#
# A convolution has one $k \times k \times C_\text{in}$ kernel plus one bias per output
# channel, $(k^2 C_\text{in} + 1)\,C_\text{out}$ parameters, whatever the size of the
# image; a transposed convolution has the same count. A dense layer has
# $(n_\text{in} + 1)\,n_\text{out}$. Those are the formulas of the last column of
# {numref}`tab-02-layers`.

# %%
encoder_layers = {type(layer).__name__: layer for layer in cvae.encoder.layers}
decoder_layers = cvae.decoder.layers
glue("ch02_total", cvae.count_params())
glue("ch02_encoder", cvae.encoder.count_params())
glue("ch02_decoder", cvae.decoder.count_params())
glue("ch02_extra", decoder_layers[3].count_params())  # ConvT 64 → 32: no twin in the encoder
glue("ch02_encoder_dense", encoder_layers["Dense"].count_params())
dense = glue("ch02_decoder_dense", decoder_layers[0].count_params())

# %% [markdown]
# That is {glue:text}`ch02_total:,` parameters in all: tiny by today's standards. The
# decoder has {glue:text}`ch02_decoder:,` of them, the encoder
# {glue:text}`ch02_encoder:,`. The image size plays no part in this, as the formulas
# show. The decoder is the larger because it has one more layer: its second transposed
# convolution, 64 to 32 channels, {glue:text}`ch02_extra:,` parameters, has no twin in
# the encoder, and it more than makes up for the decoder's dense layer being the smaller
# of the two ({glue:text}`ch02_decoder_dense:,` parameters against the encoder's
# {glue:text}`ch02_encoder_dense:,`).
#
# ## One batch through the model
#
# Shapes are best checked by running data through. `encode` returns two tensors of shape
# `[batch, d]`; `decode` returns logits with the shape of the images.

# %%
pipes = data.make_pipelines(mnist, batch_size=32)
x = pipes.test_images[:8]
mean, logvar = cvae.encode(x)
z = cvae.reparameterize(mean, logvar, seed=[0, 0])
logits = cvae.decode(z)
tensors = {"x": x, "mean": mean, "logvar": logvar, "z": z, "logits": logits}
table(["tensor", "shape"], [[f"`{name}`", str(tuple(t.shape))] for name, t in tensors.items()])

# %% [markdown]
# Untrained, the network knows nothing yet: every pixel probability $\sigma(\ell_i)$ of
# the 16 images decoded from the prior in {numref}`fig-02-untrained` lies between
# {glue:text}`ch02_p_min:.4f` and {glue:text}`ch02_p_max:.4f`, and the images are a
# uniform grey. [Chapter 5](05_training.ipynb) trains the model;
# [chapter 6](06_generation.ipynb) shows the same figure after training.

# %%
probabilities = cvae.sample(16, seed=0).numpy()
glue("ch02_p_min", float(probabilities.min()))
p_max = glue("ch02_p_max", float(probabilities.max()))

# %% mystnb={"figure": {"caption": "Sixteen images decoded from $z \\sim p(z)$ by the untrained decoder: uniform grey.", "name": "fig-02-untrained"}}
plots.plot_images(probabilities, ncols=8)
plt.show()

# %% [markdown]
# ## Why the encoder outputs a log-variance
#
# A variance must be positive, but a linear layer outputs any real number. Of the ways to
# reconcile the two, predicting $s = \log \sigma^2$ and using $\sigma^2 = e^{s}$ has three
# advantages.
#
# 1. **No constraint.** Every real $s$ is a valid variance; the optimizer can never step
#    outside the allowed region, and no variance is ever exactly zero.
# 2. **The formulas want it.** The Gaussian log-density, and the KL divergence of
#    [chapter 4](04_elbo.ipynb), contain $\log\sigma^2 = s$ and $1/\sigma^2 = e^{-s}$,
#    never $\sigma^2$ alone:
#
#    $$
#    \log \mathcal{N}(z;\mu,\sigma^2) = -\tfrac12\Bigl[(z-\mu)^2\, e^{-s} + s + \log 2\pi\Bigr].
#    $$ (eq-02-log-normal)
#
#    From $s$, no logarithm and no division are needed.
# 3. **Gradients of the same size at every scale.** Posterior standard deviations of a
#    trained VAE range over orders of magnitude. Write a sample of $q$ as
#    $z = \mu + \sigma\varepsilon$ with $\varepsilon \sim \mathcal{N}(0, 1)$ and differentiate
#    {eq}`eq-02-log-normal` both ways:
#
#    $$
#    \frac{\partial \log \mathcal{N}}{\partial s} = \tfrac12\bigl(\varepsilon^2 - 1\bigr),
#    \qquad
#    \frac{\partial \log \mathcal{N}}{\partial \sigma^2} = \frac{\varepsilon^2 - 1}{2\sigma^2}.
#    $$ (eq-02-gradients)
#
#    By {eq}`eq-02-gradients`, with respect to $s$ the gradient does not depend on $\sigma$ at all; with respect to the
#    variance it grows like $1/\sigma^2$, so a learning rate that suits $\sigma = 1$ would
#    throw a narrow posterior wildly around. TensorFlow agrees
#    ({numref}`tab-02-gradients`, the mean over 10,000 draws of $\varepsilon$):

# %%
eps = tf.constant(np.random.default_rng(0).standard_normal(10_000), tf.float32)
rows = []
for variance in (1.0, 1e-2, 1e-4):
    z = tf.sqrt(variance) * eps  # samples of N(0, σ²)
    s = tf.Variable(tf.fill(eps.shape, float(np.log(variance))))
    var = tf.Variable(tf.fill(eps.shape, variance))
    with tf.GradientTape(persistent=True) as tape:
        # The library's formula, in s; then the same density written in σ².
        from_s = losses.log_normal_pdf(z[:, None], 0.0, s[:, None])
        from_var = -0.5 * (z**2 / var + tf.math.log(var) + np.log(2 * np.pi))
    grad_s = tf.reduce_mean(tf.abs(tape.gradient(from_s, s)))
    grad_var = tf.reduce_mean(tf.abs(tape.gradient(from_var, var)))
    rows.append([f"{variance:.0e}", f"{float(grad_s):.3f}", f"{float(grad_var):.4g}"])
header = ["σ²", "mean \\|∂/∂s\\|", "mean \\|∂/∂σ²\\|"]
caption = ":::{table} Gradients of the log-density in $s$ and in $σ^2$.\n"
Markdown(caption + ":name: tab-02-gradients\n\n" + table(header, rows, "rrr").data + "\n:::")

# %% [markdown]
# ## Why the decoder outputs logits
#
# The same reasoning applies at the other end. The decoder's last layer is linear and its
# outputs are logits $\ell_i$; the probabilities $\sigma(\ell_i)$ are only formed for
# display (`decode(z, apply_sigmoid=True)`). The log-likelihood is computed from the
# logits directly, using $\log\sigma(\ell) = -\operatorname{softplus}(-\ell)$ and
# $\log(1 - \sigma(\ell)) = -\operatorname{softplus}(\ell)$:
#
# $$
# \begin{aligned}
# \log p_\theta(x \mid z)
# &= \sum_{i=1}^{784} \Bigl[x_i \log \sigma(\ell_i) + (1-x_i)\log\bigl(1-\sigma(\ell_i)\bigr)\Bigr] \\
# &= \sum_{i=1}^{784} \Bigl[x_i\,\ell_i - \operatorname{softplus}(\ell_i)\Bigr].
# \end{aligned}
# $$ (eq-02-bernoulli-logits)
#
# TensorFlow's `sigmoid_cross_entropy_with_logits` evaluates the right-hand side of
# {eq}`eq-02-bernoulli-logits` stably. Going through the probability first breaks down as
# soon as the network is confident: in 32-bit floats, $\sigma(\ell)$ rounds to exactly 1
# from $\ell =$ {glue:text}`ch02_first_one:.2f` on (the first such $\ell$ on a grid of
# step 0.01), and then $\log(1 - \sigma(\ell)) = \log 0 = -\infty$. That is where
# $e^{-\ell}$ falls below $2^{-24}$, half the gap between 1 and the next float32 number
# above it, so that $1 + e^{-\ell}$ rounds to 1: at $\ell = 24 \ln 2 \approx$
# {glue:text}`ch02_first_one_theory:.2f`.
# The log-probability of an off pixel, both ways ({numref}`tab-02-logits`):

# %%
grid = tf.range(0.0, 40.0, 0.01)  # float32
first_one = grid[tf.argmax(tf.cast(tf.sigmoid(grid) == 1.0, tf.int32))]
glue("ch02_first_one", float(first_one))
glue("ch02_first_one_theory", 24 * float(np.log(2.0)))

likelihood = cvae.likelihood  # the Bernoulli of eq-02-bernoulli-logits
ell = tf.constant([5.0, 10.0, 15.0, float(first_one), 20.0, 40.0])
pixels = ell[:, None, None, None]  # one-pixel "images" [6, 1, 1, 1]
off = tf.zeros_like(pixels)  # the pixel is off, x = 0: log p = log(1 − σ(ℓ))
from_logits = likelihood.log_prob(off, pixels).numpy()
via_probability = tf.math.log(1.0 - tf.sigmoid(ell)).numpy()
rows = [
    [f"{logit:.2f}", f"{exact:.5f}", f"{rounded:.5f}"]
    for logit, exact, rounded in zip(ell.numpy(), from_logits, via_probability, strict=True)
]
header = ["logit ℓ", "from the logit (vae_lib)", "via σ(ℓ): log(1 − σ(ℓ))"]
caption = ":::{table} log p of an off pixel, from its logit and through its probability.\n"
glue("ch02_exact_15", float(from_logits[2]))
glue("ch02_rounded_15", float(via_probability[2]))
Markdown(caption + ":name: tab-02-logits\n\n" + table(header, rows, "rrr").data + "\n:::")

# %% [markdown]
# Well before the probability rounds to 1 it has lost digits: at $\ell = 15$ the value
# through $\sigma(\ell)$ is {glue:text}`ch02_rounded_15:.5f` where the logit gives
# {glue:text}`ch02_exact_15:.5f`, the exact $-\operatorname{softplus}(15)$; from the
# logit it is right at every $\ell$.
#
# ## A note on what is *not* in the networks
#
# There is no batch normalization and no dropout. Both are common in classifiers, and
# both would get in the way here. Dropout multiplies activations by random zeros, noise
# drawn for each image on its own, which would come on top of the noise the VAE already
# injects by sampling $z$ and make the training objective that of a randomly thinned
# network. Batch normalization, during training, normalizes each channel with the mean and
# variance of the current batch: an image's code then depends on which other images share
# its batch, which muddies the per-image probabilities we want to compute, and at test time
# it switches to running averages, so the network that is evaluated is not quite the one
# that was trained. Small VAEs like this one train well without either
# ([chapter 5](05_training.ipynb)).
#
# ## Summary
#
# * The decoder maps a code $z \in \mathbb{R}^2$ to 784 Bernoulli logits
#   {eq}`eq-02-generative`, the encoder maps an image to the mean and log-variance of a
#   diagonal Gaussian over $z$ {eq}`eq-02-encoder`.
# * Shapes: $28 \to 13 \to 6$ down (valid convolutions, which never read the input's last
#   row and column), $7 \to 14 \to 28$ up (same padding); the parameter counts follow
#   $(k^2 C_\text{in}+1)C_\text{out}$ and $(n_\text{in}+1)n_\text{out}$, whatever the image
#   size, and the decoder is larger by one layer.
# * Log-variances and logits are unconstrained outputs. The log-variance gives gradients
#   of the same size for wide and narrow posteriors; the logits keep the log-likelihood
#   finite where a probability would round to 0 or 1.
# * `CVAE` here means convolutional VAE; in papers it usually means conditional VAE.
#
# ## Exercises
#
# 1. Build `model.CVAE(latent_dim=16)` and `model.CVAE(filters=(64, 128))`. Predict each
#    layer's parameter count with the formulas before printing the table.
# 2. Confirm with `tf.GradientTape` that the encoder never reads the input's last row and
#    column: differentiate the sum of its outputs with respect to an image and find the
#    pixels whose gradient is zero. Then give the first convolution `padding="same"`:
#    what become the shapes, and the dense layer's parameter count?
# 3. Replace $e^{s}$ by $\operatorname{softplus}(s)$ as the map from network output to
#    variance. Write out $\log \mathcal{N}(z; \mu, \sigma^2)$ in terms of $s$ for both choices:
#    which one still needs a logarithm of a quantity that can underflow?
