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
# # 1. The data: binarized MNIST
#
# A variational autoencoder is a *probabilistic* model of its data: it does not just
# compress and rebuild an image, it assigns every possible image a probability. Before
# building one we must therefore decide precisely what an "image" is to the model. This
# chapter makes that decision for MNIST {cite}`lecun1998`: each picture becomes a grid of
# $28 \times 28 = 784$ pixels that are either off ($0$) or on ($1$), and the model's job
# will be to say how likely each such grid is.
#
# We will
#
# 1. load the raw digits and look at what their pixels contain,
# 2. see what *binarization* does to them, and why a Bernoulli model needs it,
# 3. build the `tf.data` pipeline that feeds the training loop of
#    [chapter 5](05_training.ipynb).

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


# %% [markdown]
# `vae_lib` is the small library that accompanies this book; every chapter imports its code
# from there, so what you read is what the training script runs. `vae_lib.book` holds the
# three helpers that put results on the page: `show_source` prints a library function,
# `table` renders rows as a table, and `glue` hands a computed number to the prose, so
# that every measured number in the text is the one this run printed.

# %%
import matplotlib.pyplot as plt
import numpy as np
from IPython.display import Markdown

from vae_lib import data, plots
from vae_lib.book import glue, show_source, table
from vae_lib.run import Metrics, committed_run

# %% [markdown]
# ## The raw digits
#
# `data.load_dataset()` reads the four original MNIST files, checking that each one's
# content is exactly that of the published files (the md5 checksum of its decompressed
# bytes). (Set the environment variable `VAE_DATA_DIR` to a folder holding them to work
# offline; otherwise Keras downloads them.) We get training and test images of
# handwritten digits, stored as bytes: grey levels from 0 (paper) to 255 (ink), and one
# label per image.

# %%
mnist = data.load_dataset()
arrays = ("train_images", "train_labels", "test_images", "test_labels")
table(
    ["array", "dtype", "shape"],
    [[name, str(getattr(mnist, name).dtype), str(getattr(mnist, name).shape)] for name in arrays],
)

# %% mystnb={"figure": {"caption": "The first 30 training digits, grey levels from 0 (white) to 1 (black): dark strokes with grey, anti-aliased edges.", "name": "fig-01-digits"}}
plots.plot_images(data.to_unit_interval(mnist.train_images[:30]), ncols=10)
plt.show()

# %% [markdown]
# Looked at closely ({numref}`fig-01-digits`), a digit is not black and white. The pen
# stroke has a dark core and soft, anti-aliased edges, so the grey levels pile up at the
# two ends of the scale with a thin spread in between. Of all training pixels,
# {glue:text}`ch01_zero:.1%` are exactly 0 (paper); an image has on average
# {glue:text}`ch01_ink:.1f` pixels of ink (grey level above 0) out of 784, and of those
# ink pixels {glue:text}`ch01_dark:.1%` are darker than one half
# ({numref}`fig-01-grey-levels`).

# %%
grey = data.to_unit_interval(mnist.train_images)  # float32 in [0, 1], [N, 28, 28, 1]
ink = grey[grey > 0]
glue("ch01_zero", float(np.mean(grey == 0)))
glue("ch01_ink", float(np.sum(grey > 0) / len(grey)))
glue("ch01_dark", float(np.mean(ink > 0.5)))
counts, edges = np.histogram(ink, bins=51)
glue("ch01_last_bin", float(edges[-2]))
glue("ch01_full", float(counts[-1] / counts.sum()))
mid = glue("ch01_mid", float(np.mean((grey > 0.1) & (grey < 0.9))))

# %% mystnb={"figure": {"caption": "Grey levels of all training pixels that hold ink (log scale): most are near 1, the rest spread thinly.", "name": "fig-01-grey-levels"}}
fig, ax = plt.subplots(figsize=(6.8, 3))
ax.hist(ink, bins=edges, color="0.3")
ax.set_yscale("log")
ax.set_xlabel("grey level of an ink pixel (0 = paper, 1 = full ink)")
ax.set_ylabel("pixels")
ax.axvline(0.5, color="C3", ls="--", label="threshold 0.5")
ax.legend(loc="upper center")
fig.tight_layout()
plt.show()

# %% [markdown]
# The vertical axis of {numref}`fig-01-grey-levels` is logarithmic: the darkest bar, grey
# levels from {glue:text}`ch01_last_bin:.2f` up, holds {glue:text}`ch01_full:.0%` of the ink
# pixels, and the rest are spread thinly over the other fifty bars. Over all pixels, paper
# included, only {glue:text}`ch01_mid:.1%` have a grey level between 0.1 and 0.9.
#
# ## Why the model wants binary pixels
#
# The decoder of our VAE will not output an image. It outputs, for each pixel $i$, a
# probability $\lambda_i \in (0, 1)$ that the pixel is on, and treats the 784 pixels as
# independent coin flips given the latent code $z$:
#
# $$
# p_\theta(x \mid z) \;=\; \prod_{i=1}^{784} \lambda_i(z)^{x_i}\,\bigl(1-\lambda_i(z)\bigr)^{1-x_i},
# \qquad x_i \in \{0, 1\}.
# $$ (eq-01-bernoulli)
#
# This is a *Bernoulli* likelihood. It is a genuine probability distribution over binary
# images, and its logarithm is a sum of 784 cross-entropy terms, cheap and numerically
# friendly. But {eq}`eq-01-bernoulli` is a distribution over $\{0,1\}^{784}$ only: plugging
# a grey level such as $x_i = 0.7$ into the formula still produces a number, yet no longer
# the log-probability of anything, and the "likelihoods" of grey images cannot be compared
# with published results. So we make the data binary. There are two ways:
#
# * **Thresholding** sets every pixel once, $x_i = \mathbb{1}[\text{grey}_i > 0.5]$. The data
#   set is then fixed. This is what the TensorFlow tutorial this book grew from does, and
#   what we do by default; `vae_lib` calls it *static* binarization.
# * **Stochastic binarization** treats each grey level as the probability of ink and draws
#   $x_i \sim \mathrm{Bernoulli}(\text{grey}_i)$. Drawn afresh every time a digit is used,
#   it is called *dynamic* binarization: the model never sees the same binary image twice,
#   which acts as data augmentation. {cite:t}`burda2016` train this way.
#
# A word of warning for reading papers' tables: there, "statically binarized MNIST" does
# not mean thresholded. It means one *fixed stochastic* binarization, every pixel drawn
# once from its grey level and the result kept: the copy that {cite:t}`larochelle2011`
# published, in the manner of {cite:t}`salakhutdinov2008`, who binarized MNIST once,
# stochastically. Thresholded MNIST, the tutorial's, is in neither kind of table.
#
# Here are the two on one digit, pixel by pixel:

# %% mystnb={"figure": {"caption": "One digit, its grey levels thresholded at 0.5 and drawn once from Bernoulli(grey): the two differ at the edge.", "name": "fig-01-one-digit"}}
digit = grey[0]
fig, axes = plt.subplots(1, 3, figsize=(6.8, 2.8))
panels = {
    "grey levels": digit,
    "grey > 0.5": data.binarize_static(mnist.train_images[:1])[0],
    "one draw": data.binarize_dynamic(digit, seed=[0, 0]).numpy(),
}
for ax, (title, image) in zip(axes, panels.items(), strict=True):
    ax.imshow(image[..., 0], cmap="gray_r", vmin=0, vmax=1, interpolation="nearest")
    ax.set_title(title)
    ax.set_xticks([])
    ax.set_yticks([])
fig.tight_layout()
plt.show()

# %% [markdown]
# In {numref}`fig-01-one-digit`, thresholding keeps the core of the stroke and discards
# its soft edge; the draw keeps the dark core almost surely and speckles the edge. Across
# more digits, {numref}`fig-01-binarizations`, two draws of the same digit differ along
# every edge:

# %% mystnb={"figure": {"caption": "Ten training digits, grey, thresholded and drawn twice: the draws differ from each other along the edges.", "name": "fig-01-binarizations"}}
ten = grey[:10]
plots.plot_image_rows(
    {
        "grey": ten,
        "thresholded": data.binarize_static(mnist.train_images[:10]),
        "draw 1": data.binarize_dynamic(ten, seed=[0, 1]).numpy(),
        "draw 2": data.binarize_dynamic(ten, seed=[0, 2]).numpy(),
    }
)
plt.show()

# %% [markdown]
# On average the two switch on about as many pixels, because the grey levels are mostly
# close to 0 or 1: a thresholded training image has {glue:text}`ch01_on_static:.2f`
# pixels on, a drawn one {glue:text}`ch01_on_dynamic:.2f` in expectation (the sum of its
# grey levels).

# %%
static_train = data.binarize_static(mnist.train_images)
glue("ch01_on_static", float(static_train.sum(axis=(1, 2, 3)).mean()))
on_dynamic = glue("ch01_on_dynamic", float(grey.sum(axis=(1, 2, 3)).mean()))

# %% [markdown]
# Thresholded digits are far less random than drawn ones: given its grey levels, a
# thresholded digit is certain, while a drawn one carries a coin flip at every edge pixel
# that no model can predict. The same kind of model therefore scores far better on
# thresholded digits. Its score is a log-probability per image in **nats**, the unit of the
# natural logarithm (one nat is $\log_2 e \approx 1.443$ bits; [chapter 4](04_elbo.ipynb)
# says more), and higher is better. Two of the book's 50-dimensional models, committed in `results/`,
# show by how much ({numref}`tab-01-protocols`): one trained and tested on thresholded
# digits ([chapter 7](07_results.ipynb)), the other trained on dynamically binarized
# digits and tested on a stochastic binarization of the test set
# ([chapter 8](08_papers.ipynb)).

# %%
static = committed_run("latent50", weights=False).read_metrics()
dynamic = committed_run("latent50-dynamic-160", weights=False).read_metrics()


def protocol_row(name: str, m: Metrics) -> list[str]:
    """One committed run's binarization, training and test figures, as table cells."""
    rate = f"{m.config['learning_rate']:g}"
    if m.config.get("lr_half_life"):
        rate += f", halved every {m.config['lr_half_life']:g} epochs"
    bound = f"{m.bound.estimate:.2f} (k = {m.bound.k:,})"
    return [name, str(m.epochs), rate, m.config["precision"], f"{m.test_elbo:.2f}", bound]


rows = [protocol_row("thresholded", static), protocol_row("stochastic", dynamic)]
caption = (
    ":::{table} The two committed 50-dimensional models: binarization (training and "
    "test), training, and test figures in nats per image (higher is better). "
    r"$\mathcal{L}_k$ is "
    "the mean over all test images, estimated from a subset where not all were bounded.\n"
    ":name: tab-01-protocols\n\n"
)
header = ["binarization", "epochs", "learning rate", "precision", "ELBO", r"$\mathcal{L}_k$"]
for name, m in (("static", static), ("dynamic", dynamic)):
    glue(f"ch01_{name}_elbo", float(m.test_elbo))
    glue(f"ch01_{name}_iw", float(m.bound.estimate))
    glue(f"ch01_{name}_k", int(m.bound.k))
    glue(f"ch01_{name}_iw_images", int(m.bound.images))
glue("ch01_test_n", int(dynamic.bound.total))
glue("ch01_elbo_gap", float(static.test_elbo - dynamic.test_elbo))
glue("ch01_iw_gap", float(static.bound.estimate - dynamic.bound.estimate))
Markdown(caption + table(header, rows, align="lrllrr").data + "\n:::")

# %% [markdown]
# The thresholded model's test ELBO is {glue:text}`ch01_static_elbo:.2f` nats, and its
# importance-weighted bound $\mathcal{L}_{k}$ ([chapter 4](04_elbo.ipynb)) with
# $k =$ {glue:text}`ch01_static_k:,` is {glue:text}`ch01_static_iw:.2f`; the stochastic
# model's are {glue:text}`ch01_dynamic_elbo:.2f` and, with $k =$
# {glue:text}`ch01_dynamic_k:,`, {glue:text}`ch01_dynamic_iw:.2f`. Both bounds are
# estimates for all {glue:text}`ch01_test_n:,` test images, made from
# {glue:text}`ch01_static_iw_images:,` and {glue:text}`ch01_dynamic_iw_images:,` of them
# ([chapter 8](08_papers.ipynb) gives the estimator). On thresholded digits the
# ELBO is {glue:text}`ch01_elbo_gap:.1f` nats higher and the bound
# {glue:text}`ch01_iw_gap:.1f` nats higher. The two models differ in training as well as
# in data, as the table shows, so not all of that difference is the binarization's;
# [chapter 8](08_papers.ipynb) measures the share that no model can avoid. The rule
# stands: a number belongs to the binarization it was measured on, and only numbers of
# the same binarization can be compared.
#
# ## The input pipeline
#
# `data.make_pipelines` binarizes the data and bundles it with the batch size and a seed.
# Its training images are `float32` arrays of shape `[N, 28, 28, 1]`: the trailing 1 is the
# single colour channel that Keras' convolution layers expect. The test set is binarized
# once, the way the training images are: thresholded for a static run; for a dynamic run,
# drawn *once* from its grey levels with a fixed seed (`data.STOCHASTIC_TEST_SEED`), as
# `data.binary_test_images` does. Either way every epoch, and every run of the same
# binarization, is tested on the same binary digits.

# %%
pipes = data.make_pipelines(mnist, batch_size=32, seed=0)
dynamic_pipes = data.make_pipelines(mnist, batch_size=32, seed=0, binarization="dynamic")
drawn_again = data.binarize_stochastic(mnist.test_images, data.STOCHASTIC_TEST_SEED)


def describe(name: str, images: np.ndarray) -> list[str]:
    """Shape, dtype and distinct values of an image array, as table cells."""
    values = np.unique(images)
    shown = ", ".join(f"{v:g}" for v in values) if len(values) < 4 else f"{len(values)} levels"
    return [name, str(images.shape), str(images.dtype), shown]


table(
    ["static pipeline", "shape", "dtype", "values"],
    [
        describe("training images", pipes.train_images),
        describe("test images", pipes.test_images),
        describe("dynamic: training images", dynamic_pipes.train_images),
        describe("dynamic: test images", dynamic_pipes.test_images),
    ],
)

# %% [markdown]
# The dynamic pipeline keeps its training images as grey levels (it draws the binary
# ones batch by batch, below); its test images are binary, and they are the seeded draw:
# equal to `binarize_stochastic` of the test set, pixel for pixel, is
# {glue:text}`ch01_test_same`. They differ from the thresholded test digits in
# {glue:text}`ch01_test_differ:.1f` pixels per image on average.

# %%
glue("ch01_test_same", bool(np.array_equal(dynamic_pipes.test_images, drawn_again)))
differ = np.abs(dynamic_pipes.test_images - pipes.test_images).sum(axis=(1, 2, 3))
mean_differ = glue("ch01_test_differ", float(differ.mean()))

# %% [markdown]
# `Pipelines.train_dataset(epoch)` is the `tf.data.Dataset` the training loop iterates over.
# Rather than the usual `dataset.shuffle(buffer)`, it shuffles with a permutation drawn
# from the seed and the epoch. A shuffle buffer draws from TensorFlow's global random
# state, so a run stopped after epoch 4 and restarted would see different batches than an
# uninterrupted run; with the permutation the batches of an epoch are a pure function of
# the seed and the epoch number, and an interrupted run resumes exactly where it stopped.

# %% tags=["nbval-ignore-output", "remove-input"]
show_source(data.Pipelines.train_dataset)

# %%
train_ds = pipes.train_dataset(epoch=1)
batch = next(iter(train_ds))
same = next(iter(pipes.train_dataset(epoch=1)))
other = next(iter(pipes.train_dataset(epoch=2)))
glue("ch01_spec", Markdown(f"`{train_ds.element_spec.shape}`"))
glue("ch01_batches", int(train_ds.cardinality()))
glue("ch01_train_n", len(mnist.train_images))
glue("ch01_same_batch", bool(np.array_equal(batch, same)))
new_start = glue("ch01_other_batch", not np.array_equal(batch, other))

# %% [markdown]
# Each element is a batch of shape {glue:md}`ch01_spec` (the first dimension, the batch
# size, is `None` because the last batch of an epoch may be smaller); an epoch has
# {glue:text}`ch01_batches:,` batches of 32 images from
# {glue:text}`ch01_train_n:,` training images. Reading epoch 1 twice gives the same first
# batch: {glue:text}`ch01_same_batch`; epoch 2 starts with a different one:
# {glue:text}`ch01_other_batch`. {numref}`fig-01-batch` shows that first batch.

# %% mystnb={"figure": {"caption": "The first training batch of epoch 1, 32 thresholded digits, the same every time epoch 1 is read.", "name": "fig-01-batch"}}
plots.plot_images(batch.numpy(), ncols=8)
plt.show()

# %% [markdown]
# With `binarization="dynamic"` the pipeline keeps the grey levels and draws the binary
# images inside the dataset, with a seed derived from the seed, the epoch and the step,
# so even the random pixels are reproducible. The same digit then looks different every
# time it is drawn ({numref}`fig-01-draws`).

# %% mystnb={"figure": {"caption": "Ten Bernoulli draws of the first training digit: the core stays, the edge changes every time.", "name": "fig-01-draws"}}
first = dynamic_pipes.train_images[0]
draws = np.stack([data.binarize_dynamic(first, seed=[0, s]).numpy() for s in range(10)])
plots.plot_images(draws, ncols=10)
plt.show()

# %% [markdown]
# ## Summary
#
# * MNIST pixels are grey levels, piled up near 0 and 1 with a soft edge in between.
# * Our decoder will model each pixel as a Bernoulli variable {eq}`eq-01-bernoulli`, which
#   is a probability model only for binary images, so we binarize: by thresholding once
#   (`static`, the default here and in the original tutorial) or by a fresh Bernoulli draw
#   each time (`dynamic`). A static run is tested on the thresholded test set, a dynamic
#   one on a single seeded Bernoulli draw of it.
# * In papers, "static MNIST" is a fixed *stochastic* binarization, not thresholding.
# * Log-likelihoods measured on differently binarized data are not comparable: our two
#   committed models lie {glue:text}`ch01_elbo_gap:.1f` nats apart in ELBO.
# * `Pipelines.train_dataset(epoch)` yields batches `[32, 28, 28, 1]` in an order fixed by
#   the seed and the epoch, so that training can be stopped and resumed without changing
#   its result.
#
# ## Exercises
#
# 1. Change the threshold of `data.binarize_static` to 0.25 and 0.75. How many pixels per
#    image are on now? Which threshold gives digits closest to the originals by eye?
# 2. Show that the expected value of a dynamically binarized pixel is its grey level, by
#    averaging 1,000 draws of one image and comparing with the original.
# 3. Time one pass over `pipes.train_dataset(1)` with and without its final
#    `.prefetch(...)` (copy the method's code and that of the helper it returns through).
#    On two CPU cores, does prefetching matter when there is no model to overlap with?
