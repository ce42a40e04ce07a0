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
# $$
#
# where $f_\theta$ is the decoder with weights $\theta$, $\ell \in \mathbb{R}^{784}$ are its
# *logits* and $\sigma(\ell) = 1/(1+e^{-\ell})$ is the logistic sigmoid.
#
# The **inference model** runs the story backwards. Given an image $x$, which codes $z$
# could have produced it? The exact answer, the posterior $p_\theta(z \mid x)$, is
# intractable, so a second network, the *encoder* $g_\phi$, proposes a Gaussian
# approximation to it:
#
# $$
# q_\phi(z \mid x) = \mathcal{N}\bigl(z;\ \mu,\ \operatorname{diag}(\sigma^2)\bigr),
# \qquad (\mu,\ \log \sigma^2) = g_\phi(x).
# $$
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
import inspect
import itertools

import keras
import matplotlib.pyplot as plt
import numpy as np
import tensorflow as tf
from IPython.display import Code
from matplotlib.patches import FancyArrowPatch, Rectangle

from vae_lib import data, losses, model, plots

# %% [markdown]
# ## The architecture at a glance
#
# Both networks are small convolutional networks, mirror images of each other. The encoder
# halves the image twice with strided $3\times3$ convolutions and ends in a linear layer
# with $2d$ outputs: $d$ means and $d$ log-variances. The decoder starts from $z$ with a
# linear layer to a $7\times7\times32$ block and doubles the resolution twice with
# *transposed* convolutions, ending in one logit per pixel. We use $d = 2$ throughout, so
# that the latent space can be drawn on paper (chapter 6).

# %% tags=["remove-input"]
stages = [
    ("x", "28×28×1", 28, 1, "0.85"),
    ("Conv 3×3/2\nReLU", "13×13×32", 13, 32, "C0"),
    ("Conv 3×3/2\nReLU", "6×6×64", 6, 64, "C0"),
    ("Dense", "μ, log σ²\n2 + 2", 2, 4, "C2"),
    ("sample", "z\n2", 2, 2, "C3"),
    ("Dense\nReLU", "7×7×32", 7, 32, "C1"),
    ("ConvT 3×3/2\nReLU", "14×14×64", 14, 64, "C1"),
    ("ConvT 3×3/2\nReLU", "28×28×32", 28, 32, "C1"),
    ("ConvT 3×3/1", "logits\n28×28×1", 28, 1, "C1"),
]
fig, ax = plt.subplots(figsize=(9.5, 3.3))
x_pos = 0.0
centres = []
for label, shape, size, channels, colour in stages:
    height = 0.4 + 2.6 * size / 28
    width = 0.25 + 0.5 * np.log2(channels + 1) / 6
    ax.add_patch(Rectangle((x_pos, -height / 2), width, height, color=colour, alpha=0.75))
    ax.text(x_pos + width / 2, 1.75, label, ha="center", va="bottom", fontsize=9)
    ax.text(x_pos + width / 2, -1.75, shape, ha="center", va="top", fontsize=9)
    centres.append((x_pos, x_pos + width))
    x_pos += width + 0.55
for (_, right), (left, _) in itertools.pairwise(centres):
    arrow = FancyArrowPatch((right + 0.05, 0), (left - 0.05, 0), arrowstyle="-|>", mutation_scale=10)
    ax.add_patch(arrow)
captions = [
    ((centres[0][0] + centres[3][1]) / 2, r"encoder  $q_\phi(z\,|\,x)$", "C0"),
    (np.mean(centres[4]), r"$z=\mu+\sigma\odot\varepsilon$", "C3"),
    ((centres[5][0] + centres[8][1]) / 2, r"decoder  $p_\theta(x\,|\,z)$", "C1"),
]
for x_text, caption, colour in captions:
    ax.text(x_text, -2.75, caption, ha="center", color=colour, fontsize=10.5)
ax.set_xlim(-0.3, x_pos - 0.2)
ax.set_ylim(-3.1, 2.6)
ax.set_axis_off()
fig.tight_layout()
plt.show()

# %% [markdown]
# In `vae_lib.model` the two networks are plain `keras.Sequential` stacks. (The decoder's
# `blocks` argument, tried in chapter 8, deepens it with residual blocks; the tutorial's
# decoder has none.)

# %% tags=["nbval-ignore-output", "remove-input"]
Code("\n\n".join(inspect.getsource(f) for f in (model.build_encoder, model.build_decoder)), language="python")

# %% [markdown]
# `model.CVAE` holds one of each and adds the operations that connect them: `encode`
# (split the encoder output into $\mu$ and $\log\sigma^2$), `reparameterize` (draw $z$,
# the subject of chapter 3), `decode` and `sample`. We build one with a fixed seed, so
# that its random initial weights are the same every time this notebook runs.

# %%
keras.utils.set_random_seed(0)
cvae = model.CVAE(latent_dim=2)


def layer_table(network: keras.Sequential) -> None:
    """Print each layer's output shape and parameter count."""
    print(f"{network.name}: input {tuple(network.input_shape[1:])}")
    print(f"  {'layer':17s}{'output shape':>16s}{'parameters':>12s}")
    for layer in network.layers:
        shape = tuple(layer.output.shape[1:])
        print(f"  {type(layer).__name__:17s}{shape!s:>16s}{layer.count_params():>12,}")
    print(f"  {'total':17s}{'':>16s}{network.count_params():>12,}")


layer_table(cvae.encoder)
print()
layer_table(cvae.decoder)

# %% [markdown]
# ### Where the shapes come from
#
# A convolution with kernel $k$, stride $s$ and no padding (`"valid"`, Keras' default)
# maps a side of length $n$ to $\lfloor (n - k)/s \rfloor + 1$. So the encoder goes
# $28 \to \lfloor 25/2 \rfloor + 1 = 13 \to \lfloor 10/2 \rfloor + 1 = 6$; the corners that
# do not fit are simply dropped. The decoder's transposed convolutions use `"same"`
# padding, which makes a stride-$s$ layer multiply the side by exactly $s$:
# $7 \to 14 \to 28$.
#
# ### Where the parameter counts come from
#
# A convolution has one $k \times k \times C_\text{in}$ kernel plus one bias per output
# channel, $(k^2 C_\text{in} + 1)\,C_\text{out}$ parameters, whatever the size of the
# image; a transposed convolution has the same count. A dense layer has
# $(n_\text{in} + 1)\,n_\text{out}$. Checking Keras' numbers against these formulas:

# %%
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
for network in (cvae.encoder, cvae.decoder):
    keras_counts = [layer.count_params() for layer in network.layers]
    formula = by_formula[network.name]
    print(f"{network.name}: formula {formula} == Keras: {formula == keras_counts}")
print(f"whole model: {cvae.count_params():,} parameters")

# %% [markdown]
# About seventy thousand parameters: tiny by today's standards, and most of them sit in
# the layers next to the $2304$-dimensional feature vector and in the transposed
# convolutions. The decoder is bigger than the encoder because its upsampling layers work
# at the higher resolutions.
#
# ## One batch through the model
#
# Shapes are best checked by running data through. `encode` returns two tensors of shape
# `[batch, d]`; `decode` returns logits with the shape of the images.

# %%
pipes = data.make_pipelines(data.load_mnist(), batch_size=32)
x = pipes.test_images[:8]
mean, logvar = cvae.encode(x)
z = cvae.reparameterize(mean, logvar, seed=tf.constant([0, 0]))
logits = cvae.decode(z)
for name, tensor in {"x": x, "mean": mean, "logvar": logvar, "z": z, "logits": logits}.items():
    print(f"{name:7s}{tuple(tensor.shape)}")

# %% [markdown]
# Untrained, the network knows nothing yet: every pixel probability $\sigma(\ell_i)$ is
# close to one half, and an image decoded from the prior is uniform grey. Chapter 5 trains
# it; chapter 6 shows the same figure after training.

# %%
plots.plot_samples(cvae, n=16, seed=0, ncols=16)
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
# 2. **The formulas want it.** The Gaussian log-density, and the KL divergence of chapter 4,
#    contain $\log\sigma^2 = s$ and $1/\sigma^2 = e^{-s}$, never $\sigma^2$ alone:
#
#    $$
#    \log \mathcal{N}(z;\mu,\sigma^2) = -\tfrac12\Bigl[(z-\mu)^2\, e^{-s} + s + \log 2\pi\Bigr].
#    $$
#
#    From $s$, no logarithm and no division are needed.
# 3. **Gradients of the same size at every scale.** Posterior standard deviations of a
#    trained VAE range over orders of magnitude. Write a sample of $q$ as
#    $z = \mu + \sigma\varepsilon$ with $\varepsilon \sim \mathcal{N}(0, 1)$ and differentiate
#    its log-density both ways:
#
#    $$
#    \frac{\partial \log \mathcal{N}}{\partial s} = \tfrac12\bigl(\varepsilon^2 - 1\bigr),
#    \qquad
#    \frac{\partial \log \mathcal{N}}{\partial \sigma^2} = \frac{\varepsilon^2 - 1}{2\sigma^2}.
#    $$
#
#    With respect to $s$ the gradient does not depend on $\sigma$ at all; with respect to the
#    variance it grows like $1/\sigma^2$, so a learning rate that suits $\sigma = 1$ would
#    throw a narrow posterior wildly around. TensorFlow agrees:

# %%
eps = tf.constant(np.random.default_rng(0).standard_normal(10_000), tf.float32)
print(f"{'σ²':>8s}{'mean |∂/∂s|':>15s}{'mean |∂/∂σ²|':>16s}")
for variance in (1.0, 1e-2, 1e-4):
    z = tf.sqrt(variance) * eps  # samples of N(0, σ²)
    s = tf.Variable(tf.fill(eps.shape, float(np.log(variance))))
    var = tf.Variable(tf.fill(eps.shape, variance))
    with tf.GradientTape(persistent=True) as tape:
        from_s = losses.log_normal_pdf(z[:, None], 0.0, s[:, None])  # the library's formula, in s
        from_var = -0.5 * (z**2 / var + tf.math.log(var) + np.log(2 * np.pi))  # the same density, in σ²
    grad_s = tf.reduce_mean(tf.abs(tape.gradient(from_s, s)))
    grad_var = tf.reduce_mean(tf.abs(tape.gradient(from_var, var)))
    print(f"{variance:8.0e}{float(grad_s):15.3f}{float(grad_var):16.4g}")

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
# $$
#
# TensorFlow's `sigmoid_cross_entropy_with_logits` evaluates the right-hand side stably.
# Going through the probability first breaks down as soon as the network is confident:
# for $\ell = 40$, $\sigma(\ell)$ rounds to exactly $1$ in 32-bit floats.

# %%
ell = tf.constant([[5.0], [20.0], [40.0]])[:, :, None, None]  # three one-pixel "images": [3, 1, 1, 1]
off = tf.zeros_like(ell)  # the pixel is off, x = 0: its log-probability is log(1 − σ(ℓ)) = −softplus(ℓ)
print("logit ℓ:                       ", tf.reshape(ell, [-1]).numpy())
print("log p from logits (vae_lib):   ", losses.bernoulli_log_likelihood(off, ell).numpy())
print("log p via the probability σ(ℓ):", tf.reshape(tf.math.log(1.0 - tf.sigmoid(ell)), [-1]).numpy())

# %% [markdown]
# ## A note on what is *not* in the networks
#
# There is no batch normalization and no dropout. Both add noise that depends on the other
# images in a batch, on top of the noise the VAE already injects by sampling $z$, and
# batch normalization makes an image's encoding depend on its batch companions, which
# muddies the per-image probabilities we want to compute. Small VAEs like this one train
# well without either.
#
# ## Summary
#
# * The decoder maps a code $z \in \mathbb{R}^2$ to 784 Bernoulli logits, the encoder maps
#   an image to the mean and log-variance of a diagonal Gaussian over $z$.
# * Shapes: $28 \to 13 \to 6$ down (valid convolutions), $7 \to 14 \to 28$ up (same
#   padding); the parameter counts follow $(k^2 C_\text{in}+1)C_\text{out}$ and
#   $(n_\text{in}+1)n_\text{out}$, as printed above.
# * Log-variances and logits are unconstrained outputs. The log-variance gives gradients
#   of the same size for wide and narrow posteriors; the logits keep the log-likelihood
#   finite where a probability would round to 0 or 1.
#
# ## Exercises
#
# 1. Build `model.CVAE(latent_dim=16)` and `model.CVAE(filters=(64, 128))`. Predict each
#    layer's parameter count with the formulas before printing the table.
# 2. The encoder drops the last row and column of its $13 \times 13$ feature map. Which
#    input pixels never influence the encoding? (Hint: follow the receptive field of the
#    bottom-right output back through both strided convolutions.)
# 3. Replace $e^{s}$ by $\operatorname{softplus}(s)$ as the map from network output to
#    variance. Write out $\log \mathcal{N}(z; \mu, \sigma^2)$ in terms of $s$ for both choices:
#    which one still needs a logarithm of a quantity that can underflow?
