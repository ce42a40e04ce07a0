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
# 3. build the `tf.data` pipeline that feeds the training loop of chapter 5.

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
# from there, so what you read is what the training script runs.

# %%
import inspect

import matplotlib.pyplot as plt
import numpy as np
from IPython.display import Code

from vae_lib import data, plots

# %% [markdown]
# ## The raw digits
#
# `data.load_mnist()` reads the four original MNIST files, checking that each one's
# content is exactly that of the published files (the md5 checksum of its decompressed
# bytes). (Set the environment variable `VAE_DATA_DIR` to a folder holding them to work
# offline; otherwise Keras downloads them.) We get 60,000 training and
# 10,000 test images of handwritten digits, stored as bytes: grey levels from 0 (paper)
# to 255 (ink).

# %%
mnist = data.load_mnist()
for name in ("train_images", "train_labels", "test_images", "test_labels"):
    array = getattr(mnist, name)
    print(f"{name:13s} {array.dtype!s:6s} {array.shape}")

# %%
plots.plot_images(data.to_unit_interval(mnist.train_images[:40]), ncols=20)
plt.show()

# %% [markdown]
# Looked at closely, a digit is not black and white. The pen stroke has a dark core and
# soft, anti-aliased edges, so the grey levels pile up at the two ends of the scale with a
# thin spread in between:

# %%
grey = data.to_unit_interval(mnist.train_images)  # float32 in [0, 1], shape [N, 28, 28, 1]
ink = grey[grey > 0]
print(f"pixels that are exactly 0 (paper):       {np.mean(grey == 0):.1%}")
print(f"ink pixels (grey level > 0) per image:   {np.sum(grey > 0) / len(grey):.1f} of 784")
print(f"ink pixels darker than 0.5:               {np.mean(ink > 0.5):.1%}")

# %%
fig, ax = plt.subplots(figsize=(7, 2.8))
ax.hist(ink, bins=51, color="0.3")
ax.set_yscale("log")
ax.set_xlabel("grey level of an ink pixel (0 = paper, 1 = full ink)")
ax.set_ylabel("number of pixels")
ax.set_title("Grey levels of all non-zero training pixels")
ax.axvline(0.5, color="C3", ls="--", label="threshold 0.5")
ax.legend()
fig.tight_layout()
plt.show()

# %% [markdown]
# ## Why the model wants binary pixels
#
# The decoder of our VAE will not output an image. It outputs, for each pixel $i$, a
# probability $\lambda_i \in (0, 1)$ that the pixel is on, and treats the 784 pixels as
# independent coin flips given the latent code $z$:
#
# $$
# p_\theta(x \mid z) \;=\; \prod_{i=1}^{784} \lambda_i(z)^{x_i}\,\bigl(1-\lambda_i(z)\bigr)^{1-x_i},
# \qquad x_i \in \{0, 1\}.
# $$
#
# This is a *Bernoulli* likelihood. It is a genuine probability distribution over binary
# images, and its logarithm is a sum of 784 cross-entropy terms, cheap and numerically
# friendly. But it is a distribution over $\{0,1\}^{784}$ only: plugging a grey level such
# as $x_i = 0.7$ into the formula still produces a number, yet no longer the log-probability
# of anything, and the "likelihoods" of grey images cannot be compared with published
# results. So we make the data binary. There are two standard ways:
#
# * **Static binarization** thresholds every pixel once, $x_i = \mathbb{1}[\text{grey}_i > 0.5]$.
#   The data set is then fixed. This is what the TensorFlow tutorial this book grew from
#   does, and what we do by default.
# * **Dynamic binarization** {cite}`salakhutdinov2008` treats each grey level as the
#   probability of ink, $x_i \sim \mathrm{Bernoulli}(\text{grey}_i)$, and draws a fresh
#   binary image every time the digit is used. The model never sees the same binary image
#   twice, which acts as data augmentation; most papers report numbers on this version
#   (or on the fixed random binarization of {cite}`larochelle2011`).
#
# Here is the difference, first on one digit, pixel by pixel:

# %%
digit = grey[0]
fig, axes = plt.subplots(1, 3, figsize=(9, 3.4))
panels = {
    "grey levels (original)": digit,
    "static: grey > 0.5": data.binarize_static(mnist.train_images[:1])[0],
    "dynamic: one Bernoulli draw": data.binarize_dynamic(digit, seed=[0, 0]).numpy(),
}
for ax, (title, image) in zip(axes, panels.items(), strict=True):
    ax.imshow(image[..., 0], cmap="gray_r", vmin=0, vmax=1, interpolation="nearest")
    ax.set_title(title, fontsize=10)
    ax.set_xticks([])
    ax.set_yticks([])
fig.tight_layout()
plt.show()

# %% [markdown]
# Thresholding keeps the core of the stroke and discards its soft edge; the dynamic draw
# keeps the dark core almost surely and speckles the edge. Across many digits:


# %%
def show_rows(rows: dict[str, np.ndarray], ncols: int = 16) -> None:
    """One labelled row of images per entry of ``rows``."""
    fig, axes = plt.subplots(len(rows), 1, figsize=(0.62 * ncols + 1.6, 0.75 * len(rows)))
    for ax, (label, images) in zip(axes, rows.items(), strict=True):
        ax.imshow(plots.tile(images[:ncols], ncols), cmap="gray_r", vmin=0, vmax=1, interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_ylabel(label, rotation=0, ha="right", va="center", fontsize=9)
    fig.tight_layout()
    plt.show()


sixteen = grey[:16]
show_rows(
    {
        "grey": sixteen,
        "static": data.binarize_static(mnist.train_images[:16]),
        "dynamic, draw 1": data.binarize_dynamic(sixteen, seed=[0, 1]).numpy(),
        "dynamic, draw 2": data.binarize_dynamic(sixteen, seed=[0, 2]).numpy(),
    }
)

# %% [markdown]
# On average the two binarizations switch on about as many pixels, because the grey
# levels are mostly close to 0 or 1. The static version is the less noisy of the two,
# which makes it easier to model: expect a static-binarization test ELBO to be a little
# higher (better) than the numbers papers report for dynamically binarized MNIST.

# %%
static_train = data.binarize_static(mnist.train_images)
print(f"pixels on per image, static binarization:           {static_train.sum(axis=(1, 2, 3)).mean():6.2f}")
print(f"expected pixels on per image, dynamic binarization: {grey.sum(axis=(1, 2, 3)).mean():6.2f}")

# %% [markdown]
# ## The input pipeline
#
# `data.make_pipelines` binarizes the data and bundles it with the batch size and a seed.
# Its training images are `float32` arrays of shape `[N, 28, 28, 1]`: the trailing 1 is the
# single colour channel that Keras' convolution layers expect. The test set is always
# binarized statically, so that the test numbers of different epochs (and runs) measure
# the same images.

# %%
pipes = data.make_pipelines(mnist, batch_size=32, seed=0)
print("train:", pipes.train_images.shape, pipes.train_images.dtype, "values", np.unique(pipes.train_images))
print("test: ", pipes.test_images.shape, pipes.test_images.dtype, "values", np.unique(pipes.test_images))

# %% [markdown]
# `Pipelines.train_dataset(epoch)` is the `tf.data.Dataset` the training loop iterates over.
# Rather than the usual `dataset.shuffle(buffer)`, it shuffles with a permutation drawn
# from the pair (seed, epoch). A shuffle buffer draws from TensorFlow's global random
# state, so a run stopped after epoch 4 and restarted would see different batches than an
# uninterrupted run; with the permutation the batches of an epoch are a pure function of
# the seed and the epoch number, and an interrupted run resumes exactly where it stopped.

# %% tags=["nbval-ignore-output", "remove-input"]
Code(inspect.getsource(data.Pipelines.train_dataset), language="python")

# %%
train_ds = pipes.train_dataset(epoch=1)
print("element spec:     ", train_ds.element_spec)
print("batches per epoch:", int(train_ds.cardinality()), "=", "ceil(60000 / 32)")

batch = next(iter(train_ds))
same = next(iter(pipes.train_dataset(epoch=1)))
other = next(iter(pipes.train_dataset(epoch=2)))
print("epoch 1, read twice, gives the same first batch:", bool(np.array_equal(batch, same)))
print("epoch 2 starts with a different batch:          ", not np.array_equal(batch, other))

# %%
plots.plot_images(batch.numpy(), ncols=16, title="The first training batch of epoch 1 (32 images)")
plt.show()

# %% [markdown]
# With `binarization="dynamic"` the pipeline keeps the grey levels and draws the binary
# images inside the dataset, with a seed derived from (seed, epoch, step), so even the
# random pixels are reproducible. The same digit then looks different in every epoch:

# %%
dynamic = data.make_pipelines(mnist, batch_size=32, seed=0, binarization="dynamic")
print("the dynamic pipeline stores grey levels:", np.unique(dynamic.train_images).size, "distinct values")
draws = np.stack([data.binarize_dynamic(dynamic.train_images[0], seed=[0, s]).numpy() for s in range(12)])
plots.plot_images(draws, ncols=12, title="Twelve Bernoulli draws of the first training digit")
plt.show()

# %% [markdown]
# ## Summary
#
# * MNIST pixels are grey levels, piled up near 0 and 1 with a soft edge in between.
# * Our decoder will model each pixel as a Bernoulli variable, which is a proper
#   probability model only for binary images, so we binarize: statically (threshold once,
#   the default here and in the original tutorial) or dynamically (a fresh Bernoulli draw
#   each epoch, the common choice in papers).
# * Log-likelihoods measured on differently binarized data are not comparable.
# * `Pipelines.train_dataset(epoch)` yields batches `[32, 28, 28, 1]` in an order fixed by
#   (seed, epoch), so that training can be stopped and resumed without changing its result.
#
# ## Exercises
#
# 1. Change the threshold of `data.binarize_static` to 0.25 and 0.75. How many pixels per
#    image are on now? Which threshold gives digits closest to the originals by eye?
# 2. Show that the expected value of a dynamically binarized pixel is its grey level, by
#    averaging 1,000 draws of one image and comparing with the original.
# 3. Time one pass over `pipes.train_dataset(1)` with and without the final
#    `.prefetch(...)` (copy the method's code). On two CPU cores, does prefetching matter
#    when there is no model to overlap with?
