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
# # 13. Grey pixels: a likelihood for 8-bit images
#
# Every model so far has seen binary digits. [Chapter 1](01_data.ipynb) explained why: the
# decoder's Bernoulli distribution gives a probability to a pixel that is on or off, and to
# nothing in between. MNIST's pixels are not binary, though. Each is one of 256 grey levels,
# and most VAE code on the web puts the Bernoulli's cross-entropy on those grey levels
# anyway, keras.io's VAE example among them. That loss is not the log-likelihood of any
# distribution over grey images, so the numbers it gives cannot be compared with anything.
#
# This chapter does it properly. It gives the decoder a distribution over the 256 levels of
# each pixel, trains it on MNIST and Fashion-MNIST as published, with no binarization and no
# noise added, and reports the bound in the unit such models are compared in, *bits per
# dimension*. It then shows what the cross-entropy on grey pixels leaves out, measured in
# nats, and what a decoder whose pixels are independent given $z$ cannot do. The last section
# opens the same door for colour images: CIFAR-10.

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
import math
import os

import keras
import matplotlib.pyplot as plt
import numpy as np
import tensorflow as tf

from vae_lib import data, literature, plots, streams
from vae_lib.book import glue, show_source, table
from vae_lib.config import QUICK_ENV, family_run
from vae_lib.evaluate import bound_summary, evaluate
from vae_lib.likelihoods import (
    Bernoulli,
    DiscretizedLogistic,
    bits_per_dim,
    continuous_bernoulli_log_normalizer,
)
from vae_lib.model import CVAE
from vae_lib.train import Trained, compile_steps, train

LATENT_DIM = 16
glue("ch13_latent_dim", LATENT_DIM)

# %% [markdown]
# ## What the cross-entropy on grey pixels computes
#
# Write $\ell$ for the decoder's logit of one pixel and $\lambda = \sigma(\ell)$. The
# Bernoulli log-likelihood of [chapter 2](02_encoder_decoder.ipynb) is
#
# $$
# \log p(x \mid \lambda) = x \log \lambda + (1 - x) \log (1 - \lambda),
# \qquad x \in \{0, 1\}.
# $$ (eq-13-bernoulli)
#
# Nothing stops the code from evaluating {eq}`eq-13-bernoulli` at a grey level
# $x \in [0, 1]$, and that is what a binary cross-entropy on grey pixels does. But as a
# function of $x$ on $[0, 1]$ it does not integrate to one, so it is not a density there.
# {cite:t}`loaizaganem2019` complete it: the **continuous Bernoulli** distribution on
# $[0, 1]$ has the density
#
# $$
# p(x \mid \lambda) = C(\lambda)\, \lambda^{x} (1 - \lambda)^{1 - x},
# \qquad
# C(\lambda) = \frac{2 \operatorname{artanh}(1 - 2\lambda)}{1 - 2\lambda}
#            = \frac{\ell}{\tanh(\ell / 2)},
# $$ (eq-13-continuous-bernoulli)
#
# with $C(1/2) = 2$. The cross-entropy on grey pixels is this log-density with the term
# $\log C(\lambda)$ left out of every pixel. The term is not a constant: it grows with
# $|\ell|$, like $\log |\ell|$, so leaving it out changes what the decoder is pulled
# towards, not only the number printed. How many nats it is worth on real images is
# measured below, after the models are trained.
#
# A density on $[0, 1]$ is still not what 8-bit images need. Their pixels take 256 values,
# and a model of them should give each value a probability.
#
# ## A probability for each of 256 levels
#
# The **discretized logistic** {cite}`kingma2016,salimans2017` puts a logistic
# distribution with centre $\mu$ and scale $s$ on the real line and gives each level the
# probability mass of its bin. With the levels $x = k/255$, $k = 0, \dots, 255$, and bins of
# width $1/255$ around them,
#
# $$
# P(x \mid \mu, s) =
# \begin{cases}
#   \sigma\!\left(\dfrac{x + \frac{1}{510} - \mu}{s}\right) & x = 0, \\[2ex]
#   \sigma\!\left(\dfrac{x + \frac{1}{510} - \mu}{s}\right)
#   - \sigma\!\left(\dfrac{x - \frac{1}{510} - \mu}{s}\right) & 0 < x < 1, \\[2ex]
#   1 - \sigma\!\left(\dfrac{x - \frac{1}{510} - \mu}{s}\right) & x = 1,
# \end{cases}
# $$ (eq-13-logistic)
#
# where $\sigma$ is the logistic function, the logistic distribution's CDF. The two end bins
# take the tails, so the 256 probabilities add up to one: a background pixel that is
# exactly black (level 0, black in MNIST's own rendering and white in this book's figures,
# which draw ink dark) can get almost all of the mass, which matters on MNIST, where most
# pixels are. The decoder now outputs two numbers per pixel, $\mu$ and $\log s$, where the
# Bernoulli decoder output one; nothing else in the model changes. Here is the library's
# log-probability, computed in log space so that no bin's mass underflows:

# %%
show_source(DiscretizedLogistic.log_prob)

# %% [markdown]
# Summed over the $D = 28 \times 28 = 784$ pixels this is $\log p_\theta(x \mid z)$ of a
# whole image, a log-*probability* now, never above zero, and the ELBO and the bound $L_k$
# of [chapter 4](04_elbo.ipynb) are bounds on the log-probability $\log P(x)$ of the 8-bit
# image. Models of 8-bit images report it in **bits per dimension**: the negative
# log-probability in bits, divided by the number of values the image holds,
#
# $$
# \text{bits/dim} = \frac{-\log_2 P(x)}{D} = \frac{-\log P(x)}{D \ln 2},
# $$ (eq-13-bits-per-dim)
#
# with $\log P(x)$ in nats. Eight bits per dimension is what a model that knows nothing
# pays (each of 256 levels equally likely); a bound in nats gives an upper bound in
# bits/dim.
#
# ## Two models of 8-bit images
#
# The models are the family's recipe of [chapter 9](09_autoencoder_vs_vae.ipynb), 10 epochs
# in batches of 128 at a learning rate of $10^{-3}$, with a code of
# {glue:text}`ch13_latent_dim` dimensions, the closed-form KL, and
# `binarization="none", likelihood="logistic"`: the training images reach the model as
# their levels $k/255$, exactly as the files hold them. One is trained on MNIST, one on
# Fashion-MNIST. With `VAE_QUICK=1` each trains on 2,000 images for one epoch, and the
# numbers are those of barely trained models.


# %%
def trained_model(name: str, dataset: str, **changes: object) -> Trained:
    """The family's recipe on 8-bit images of ``dataset`` with a 16-D code and ``changes``."""
    config, folder = family_run(
        name, dataset=dataset, latent_dim=LATENT_DIM, kl="analytic", binarization="none", **changes
    )
    return train(config, folder, progress=False)


mnist, fashion = data.load_dataset(), data.load_dataset("fashion_mnist")
grey_test = {"MNIST": data.test_inputs(mnist, "none"), "Fashion-MNIST": data.test_inputs(fashion, "none")}
KEY = {"MNIST": "mnist", "Fashion-MNIST": "fashion"}  # each data set's part of a glued value's name
DIMS = math.prod(mnist.image_shape)
for name, images in grey_test.items():
    glue(f"ch13_black_{KEY[name]}", 100 * float((images == 0).mean()))
    print(f"{name}: {100 * (images == 0).mean():.1f} % of the test images' pixels are exactly black")

# %% tags=["nbval-ignore-output"]
models = {
    "MNIST": trained_model("ch13-mnist-logistic", "mnist", likelihood="logistic"),
    "Fashion-MNIST": trained_model("ch13-fashion-logistic", "fashion_mnist", likelihood="logistic"),
}
for name, trained in models.items():
    print(
        f"{name}: test ELBO {trained.history[-1]['test_elbo']:.2f} nats after {len(trained.history)} epochs"
    )

# %% [markdown]
# The ELBO is a bound from one posterior sample; the importance-weighted bound $L_k$ of
# [chapter 4](04_elbo.ipynb) is tighter. As in [chapter 8](08_papers.ipynb), $L_k$ is
# computed on a fixed random subset of {glue:text}`ch13_iw_images` test images and the
# mean over all 10,000 is estimated from it (the ELBO of all, plus the subset's mean gap
# between bound and ELBO); its standard error covers the choice of images, not the
# training seed.

# %% tags=["nbval-ignore-output"]
# A quick run bounds fewer images with fewer samples: the figures are then a smoke test's.
K, IW_IMAGES = (100, 100) if os.environ.get(QUICK_ENV) == "1" else (1000, 1000)
glue("ch13_k", K)
glue("ch13_iw_images", IW_IMAGES)
bounds = {
    name: bound_summary(trained.model, grey_test[name], K, IW_IMAGES, progress=False)
    for name, trained in models.items()
}
for name, bound in bounds.items():
    elbo = models[name].history[-1]["test_elbo"]
    glue(f"ch13_elbo_bits_{KEY[name]}", bits_per_dim(elbo, DIMS))
    glue(f"ch13_lk_bits_{KEY[name]}", bits_per_dim(bound.estimate, DIMS))

# %% tags=["nbval-ignore-output"]
rows = []
for name, bound in bounds.items():
    elbo = models[name].history[-1]["test_elbo"]
    se_bits = bound.estimate_stderr / (DIMS * math.log(2))
    rows.append(
        [
            name,
            f"{elbo:.1f}",
            f"{bits_per_dim(elbo, DIMS):.3f}",
            f"{bound.estimate:.1f} ± {bound.estimate_stderr:.1f}",
            f"{bits_per_dim(bound.estimate, DIMS):.3f} ± {se_bits:.3f}",
        ]
    )
table(
    ["test set (8-bit)", "ELBO (nats)", "ELBO (bits/dim)", f"L_{K} (nats)", f"L_{K} (bits/dim)"],
    rows,
    align="lrrrr",
    caption=f"The two models on their 10,000 test images, undithered 8-bit levels. L_{K} is estimated"
    f" for all 10,000 from a fixed random {IW_IMAGES:,} (seed 5000); ± is its standard error over the"
    " choice of images. One training seed per model.",
    name="tab-13-bounds",
)

# %% [markdown]
# On MNIST the bound is {glue:text}`ch13_lk_bits_mnist:.3f` bits per dimension, on
# Fashion-MNIST {glue:text}`ch13_lk_bits_fashion:.3f`. Part of the difference is in the
# images themselves: {glue:text}`ch13_black_mnist:.0f` % of MNIST's test pixels are exactly
# black, a level the model can give almost all of a pixel's mass, against
# {glue:text}`ch13_black_fashion:.0f` % of Fashion-MNIST's.
#
# ## How such numbers are compared
#
# Models of 8-bit images that report bits per dimension on MNIST are mostly *normalizing
# flows*, which compute the log-likelihood of a continuous density exactly. Their data are
# the same 8-bit images, made continuous by *dequantization*: uniform noise $u \in [0, 1)^D$
# is added to the levels before a density $p$ is fitted, and
# $\log P(x) \ge \mathbb{E}_u[\log p(x + u)]$ {cite}`theis2016`, so what they report is an
# upper bound on the same $-\log_2 P(x) / D$ as ours, over the same $D = 784$ values: like
# can be compared with like, provided that the test images are MNIST's own 10,000 and the
# levels are not rescaled without the change being accounted for.
#
# {numref}`tab-13-literature` sets our models beside the MNIST column of Table 2 of
# {cite:t}`grathwohl2019`: three flows with multi-scale convolutional architectures, Real
# NVP, Glow and FFJORD {cite}`dinh2017,kingma2018`, and two autoregressive models, MADE
# and MAF {cite}`germain2015,papamakarios2017`. FFJORD's own figures are on the 8-bit test
# images dequantized with uniform noise, as its code does; the table does not say how the
# other rows were obtained, and this book has not checked them in their own papers. No
# published bits/dim figure for Fashion-MNIST was found.

# %% tags=["nbval-ignore-output"]
rows = [
    [row.model, f"{row.paper}, {row.table}", row.dequantization.split(":")[0], f"{row.bits_per_dim:.2f}", "—"]
    for row in literature.rows_8bit()
]
for name in ("MNIST", "Fashion-MNIST"):
    own = f"{bits_per_dim(bounds[name].estimate, DIMS):.2f}"
    rows.append(
        [
            f"this chapter's VAE, L_{K}",
            "this chapter",
            "none (a discrete likelihood)",
            *((own, "—") if name == "MNIST" else ("—", own)),
        ]
    )
table(
    ["model", "source", "dequantization", "MNIST (bits/dim)", "Fashion-MNIST (bits/dim)"],
    rows,
    align="lllrr",
    caption="Test bits per dimension on 8-bit images, lower is better: the MNIST column of Grathwohl et al."
    " (2019), Table 2, and ours, the estimates of the table above.",
    name="tab-13-literature",
)

# %% [markdown]
# The convolutional flows, all four rows of them, are ahead of our VAE on MNIST, by the
# differences the table shows; a tenth of a bit per dimension is
# $0.1 \cdot 784 \ln 2 \approx 54$ nats per image. MADE and MAF, autoregressive models
# built from fully connected layers, are behind it. Our decoder gives each pixel its own distribution given $z$, independent of its
# neighbours; the next section shows what that costs.
#
# ## What a factorized decoder cannot do
#
# Given a code, the decoder's pixels are independent: its distribution is a product of 784
# discretized logistics. Its *mean* image, each pixel's expected level, is smooth. A
# *sample* from it draws every pixel on its own, and nothing makes neighbouring pixels
# agree: a stroke's edge is drawn pixel by pixel, each with the uncertainty the decoder has
# about where the edge lies.


# %% mystnb={"figure": {"caption": "Eight test digits (top), the decoder's mean image given each digit's posterior mean (middle), and one sample of p(x | z) at the same code (bottom): the pixels of a sample are drawn independently of each other.", "name": "fig-13-mean-sample"}} tags=["nbval-ignore-output"]
def mean_and_sample(model: CVAE, images: np.ndarray, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The decoder's mean image and one sample of p(x|z), both at each image's posterior mean."""
    codes, _ = model.encode(images)
    outputs = model.decode(codes)
    sample = model.likelihood.sample(outputs, streams.tf_seed(seed, streams.Stream.PRIOR))
    return model.likelihood.mean(outputs).numpy(), sample.numpy()


shown = grey_test["MNIST"][:8]
means, samples = mean_and_sample(models["MNIST"].model, shown)
plots.plot_image_rows({"test digit": shown, "decoder's mean": means, "a sample": samples})
plt.show()

# %% [markdown]
# A model whose pixels depend on each other given $z$, an autoregressive decoder such as
# PixelCNN's {cite}`salimans2017`, or a flow, can draw an edge as one thing. The price of
# independence is counted in bits: every pixel near a stroke pays for the decoder's doubt
# about it separately.
#
# ## The missing normalizer, in nats
#
# Now the cross-entropy on grey pixels. We train the keras.io way, the Bernoulli
# cross-entropy on the grey MNIST images, with the same networks and recipe. The library
# refuses `likelihood="bernoulli"` with `binarization="none"` by name, since it is not a
# likelihood of those pixels, so this model is put together from the pieces: the recipe's
# settings, and a model whose likelihood is the Bernoulli. We train a continuous Bernoulli
# model {eq}`eq-13-continuous-bernoulli` beside it, and measure, on the 10,000 test images,
# how many nats per image the normalizer $\sum_i \log C(\lambda_i)$ is worth at each model's
# decoder outputs (one posterior sample per image).


# %% tags=["nbval-ignore-output"]
def cross_entropy_model() -> CVAE:
    """The family's networks with a Bernoulli decoder, trained on grey MNIST as keras.io does."""
    config, _ = family_run(
        "ch13-grey-bce",
        latent_dim=LATENT_DIM,
        kl="analytic",
        binarization="none",
        likelihood="continuous_bernoulli",
    )
    keras.utils.set_random_seed(config.seed)
    model = CVAE(LATENT_DIM, config.filters, likelihood=Bernoulli())
    optimizer = keras.optimizers.Adam(config.learning_rate)
    pipelines = data.make_pipelines(mnist, config.batch_size, config.seed, config.train_size, "none")
    steps_per_epoch = math.ceil(len(pipelines.train_bytes) / config.batch_size)
    steps = compile_steps(model, optimizer, config, steps_per_epoch)
    for epoch in range(1, config.epochs + 1):
        steps(iter(pipelines.train_dataset(epoch)), tf.constant(steps_per_epoch))
    return model


def normalizer_nats(model: CVAE, images: np.ndarray) -> np.ndarray:
    """Σ over pixels of log C(λ) at the decoder's logits for one posterior sample per image, nats [N].

    Image i's sample is drawn from (0, EVALUATION, i), as in evaluation, whatever the batching.
    """
    totals = []
    for start in range(0, len(images), 500):
        x = images[start : start + 500]
        mean, logvar = model.encode(x)
        seeds = streams.image_seeds(0, streams.Stream.EVALUATION, tf.range(start, start + len(x)))
        logits = model.decode(model.reparameterize(mean, logvar, seeds))
        totals.append(tf.reduce_sum(continuous_bernoulli_log_normalizer(logits), axis=[1, 2, 3]).numpy())
    return np.concatenate(totals)


bce_model = cross_entropy_model()
cb_model = trained_model("ch13-mnist-cb", "mnist", likelihood="continuous_bernoulli").model
normalizers = {
    "Bernoulli cross-entropy (keras.io)": normalizer_nats(bce_model, grey_test["MNIST"]),
    "continuous Bernoulli": normalizer_nats(cb_model, grey_test["MNIST"]),
}
for name, values in normalizers.items():
    print(f"{name}: Σ log C = {values.mean():.1f} nats per test image")
glue("ch13_normalizer_bce", normalizers["Bernoulli cross-entropy (keras.io)"].mean())
glue("ch13_normalizer_cb", normalizers["continuous Bernoulli"].mean())
bce_value = glue("ch13_bce_value", evaluate(bce_model, grey_test["MNIST"])["test_elbo"])
print(f"the cross-entropy model's printed 'ELBO': {bce_value:.1f} nats per test image")

# %% [markdown]
# At the cross-entropy model's outputs the left-out term is worth
# {glue:text}`ch13_normalizer_bce:.0f` nats per test image, against a printed "ELBO" of
# {glue:text}`ch13_bce_value:.1f`: the number such code reports is off by more than its
# own size, and not by a constant, since the term depends on the model. At the continuous
# Bernoulli model's outputs it is worth {glue:text}`ch13_normalizer_cb:.0f` nats. Neither
# figure is a probability of 8-bit images: a density on $[0, 1]^{784}$ is compared with the
# discrete models only after dequantization, as described above.
#
# ## Colour images: CIFAR-10's way in
#
# The same likelihood serves colour images: one centre and one scale per pixel and
# channel. The library takes images of any height and width divisible by four and any
# number of channels, and `--dataset cifar10` loads CIFAR-10's 32 × 32 × 3 photographs, from
# Keras's download, or offline from a folder holding the `cifar-10-batches-py` files named by
# `$VAE_CIFAR10_DATA_DIR`:
#
# ```bash
# python -m vae_lib train --dataset cifar10 --binarization none --likelihood logistic \
#     --latent-dim 64 --filters 64,128 --batch-size 128 --learning-rate 1e-3 --kl analytic \
#     --epochs 100 --out runs/cifar10
# python -m vae_lib evaluate runs/cifar10 --iw-samples 1000
# ```
#
# Both commands print bits per dimension beside nats, over $D = 32 \cdot 32 \cdot 3 = 3072$.
# What was run for this book, and what was not: this machine has no network, so CIFAR-10
# itself was never loaded here. The loader is tested on small files in CIFAR-10's format that
# the tests write, including damaged and hostile ones, and a training run, its checkpoints,
# reloading and figures are tested on 32 × 32 × 3 images that a test makes. No CIFAR-10
# figure appears in this book, and the command above is a starting point, not a tuned
# recipe: a reader with a network and a GPU can run it.
#
# ## Summary
#
# * The Bernoulli cross-entropy on grey pixels is the continuous Bernoulli's log-density
#   {eq}`eq-13-continuous-bernoulli` without its normalizer; on grey MNIST the missing term
#   is worth {glue:text}`ch13_normalizer_bce:.0f` nats per image at a model trained that way.
# * A discretized logistic {eq}`eq-13-logistic` gives each of the 256 levels a probability,
#   so the ELBO and $L_k$ bound the log-probability of the 8-bit image, reported in bits per
#   dimension {eq}`eq-13-bits-per-dim`.
# * Our VAE reaches {glue:text}`ch13_lk_bits_mnist:.3f` bits/dim on 8-bit MNIST and
#   {glue:text}`ch13_lk_bits_fashion:.3f` on Fashion-MNIST ({numref}`tab-13-bounds`). Its
#   pixels are independent given the code, and its samples show it
#   ({numref}`fig-13-mean-sample`).
#
# ## Exercises
#
# 1. Train the 256-way categorical likelihood (`likelihood="categorical"`) with the same
#    recipe. Is it better or worse than the discretized logistic in bits/dim, and how much
#    slower is an epoch? Its decoder's last layer has 256 outputs per pixel.
# 2. Show that the 256 probabilities of {eq}`eq-13-logistic` add up to one for any $\mu$
#    and $s$.
# 3. Derive $C(\lambda)$ in {eq}`eq-13-continuous-bernoulli` by integrating
#    $\lambda^x (1 - \lambda)^{1 - x}$ over $[0, 1]$, and check that it tends to 2 as
#    $\lambda \to 1/2$.
# 4. Dequantize the test images yourself, $y = (x \cdot 255 + u) / 256$ with uniform $u$,
#    and compute the continuous Bernoulli model's $\mathbb{E}_u[\log p(y)] - D \log 256$.
#    How does it compare, in bits/dim, with {numref}`tab-13-bounds`?
