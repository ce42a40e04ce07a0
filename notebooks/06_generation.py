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
# # 6. What the model learned
#
# A trained VAE is two things at once: a *generator* that turns codes from the prior into
# new digits, and an *encoder* that maps any digit to a region of a two-dimensional code
# space. This chapter looks at both. Because our codes have only two coordinates, we can
# do something rare in deep learning: draw the entire latent space and see what lives
# where.

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

import matplotlib.pyplot as plt
import numpy as np

from vae_lib import data, plots
from vae_lib.config import QUICK_ENV, tutorial_run
from vae_lib.evaluate import evaluate_iw_bound, posterior_means
from vae_lib.train import train

# %% [markdown]
# ## The trained model
#
# We ask `train` for the run of chapter 5: `tutorial_run()` gives the same configuration
# and folder as there (the reduced run, if `VAE_QUICK=1`). The run is finished, so it is
# loaded from its checkpoint in a moment; if chapter 5 has not been run here (in a fresh
# Colab session, say) this cell trains it first.

# %% tags=["nbval-ignore-output"]
config, RUN_DIR = tutorial_run()
QUICK = os.environ.get(QUICK_ENV) == "1"
cvae, history = train(config, RUN_DIR, progress=False)
print(f"{RUN_DIR}: {len(history)} epochs, final test ELBO {history[-1]['test_elbo']:.2f} nats")

# %%
mnist = data.load_mnist()
test_images = data.binary_test_images(mnist)
test_labels = mnist.test_labels
print("test set:", test_images.shape, test_labels.shape)

# %% [markdown]
# ## New digits from the prior
#
# Generating is the story of chapter 2 run forwards: draw $z \sim \mathcal{N}(0, I)$ and
# decode it. The figures show the decoder's pixel probabilities $\sigma(\ell_i)$, the *mean*
# of $p_\theta(x \mid z)$, rather than a binary sample of it; the mean is what one would
# want to look at, and a sample only adds salt-and-pepper noise.

# %% tags=["nbval-ignore-output"]
plots.plot_samples(cvae, n=48, seed=1, ncols=16)
plt.show()

# %% [markdown]
# Many samples are recognizable digits; others are blurry or ambiguous. The blur is the
# model hedging: with only two numbers to describe an image, many different digits share
# nearly the same code, and the best the decoder can do is predict their average.
#
# ## Reconstructions
#
# To reconstruct a test digit we encode it, take the mean $\mu$ of $q_\phi(z \mid x)$ and
# decode that. The code is two numbers, so this is a compression of 784 binary pixels into
# two real values; what survives is the identity and the rough style of the digit, not the
# details of its stroke.

# %% tags=["nbval-ignore-output"]
plots.plot_reconstructions(cvae, test_images[:16])
plt.show()

# %% [markdown]
# ## The latent manifold
#
# Decoding a regular grid of codes draws the whole generator at once. The grid is spaced by
# quantiles of $\mathcal{N}(0, 1)$ in each coordinate, from the 5% to the 95% point, so
# every cell covers the same prior probability and the picture shows the codes in
# proportion to how often the prior produces them. Digits morph continuously into one
# another: the decoder is a smooth function of $z$, and the KL term has made neighbouring
# codes mean similar things.

# %% tags=["nbval-ignore-output"]
plots.plot_latent_manifold(cvae, n=20)
plt.show()

# %% [markdown]
# ## The test set in latent space
#
# Now the other direction: encode each of the 10,000 test images and place it at its
# posterior mean, coloured by its true label (which the model never saw).

# %% tags=["nbval-ignore-output"]
plots.plot_latent_scatter(cvae, test_images, test_labels)
plt.show()

# %% [markdown]
# Digits of a kind gather in regions of their own, without any label having been used:
# the classes are simply the most economical thing to encode when two numbers must
# describe a digit. Compare with the manifold above: each region decodes to its digit.
#
# Two other things are visible. The cloud as a whole is roughly centred and of about unit
# scale, as the KL term asks; but it is not the smooth Gaussian of the prior. The
# *aggregate posterior*, the mixture of all images' $q_\phi(z \mid x)$, has denser and
# sparser places, and codes drawn from the prior in the sparse ones (between classes)
# decode to the ambiguous shapes seen among the samples. How far apart classes sit also
# says nothing certain about how similar they look: the 2-D map has to cut the space of
# digits somewhere.

# %% tags=["nbval-ignore-output"]
means = posterior_means(cvae, test_images)
print("posterior means of the test set: average", np.round(means.mean(axis=0), 2))
print("covariance (the prior's is the identity):\n", np.round(np.cov(means.T), 2) + 0.0)

# %% [markdown]
# ## Walking between digits
#
# A straight line between the codes of two test digits, decoded at ten evenly spaced
# points, shows how the model turns one into the other. Here, the first test images of
# a few pairs of classes:

# %% tags=["nbval-ignore-output"]
pairs_of_classes = [(1, 7), (3, 8), (4, 9), (0, 6), (2, 5)]
first_of = {digit: int(np.argmax(test_labels == digit)) for digit in range(10)}
pairs = [(test_images[first_of[a]], test_images[first_of[b]]) for a, b in pairs_of_classes]
plots.plot_interpolation(cvae, pairs, steps=10)
plt.show()

# %% [markdown]
# The intermediate images are digits themselves, or plausible hybrids, rather than the
# double exposures one would get by blending the pixels of the two ends. Where the straight
# line crosses another class's region, that class appears on the way. Note also that the
# ends are reconstructions, not the originals: two numbers cannot keep every digit apart,
# so a digit near the border of its class's region may come back as its neighbour.
#
# ## How good is the model? Tighter bounds
#
# The test ELBO of chapter 5 is a *lower bound* on the test log-likelihood. The
# importance-weighted bound $\mathcal{L}_k$ of chapter 4 {cite}`burda2016` is a tighter one
# for $k > 1$; it costs $k$ decoder passes per image, so we compute it on a subset of the
# test set (the first 200 images; 50 in quick mode).

# %% tags=["nbval-ignore-output"]
subset = test_images[: 50 if QUICK else 200]
bounds = {k: evaluate_iw_bound(cvae, subset, k, progress=False).mean for k in (1, 10, 100)}
for k, bound in bounds.items():
    print(f"L_{k:<4d} = {bound:8.2f} nats per image  ({len(subset)} test images)")
assert bounds[1] < bounds[10] < bounds[100], "L_k should rise with k"

# %% [markdown]
# The bound rises with $k$: part of the gap between the ELBO and $\log p_\theta(x)$ was
# the encoder's imperfect inference, $\mathrm{KL}(q_\phi(z \mid x) \,\|\, p_\theta(z \mid x))$,
# not a weakness of the generative model itself. {cite:t}`cremer2018` study how much of
# this gap comes from the Gaussian form of $q$ and how much from sharing one encoder among
# all images (the *amortization gap*).
#
# ## Summary
#
# * Decoding codes from the prior generates new digits; decoding an image's posterior mean
#   reconstructs it, keeping identity and style but not fine detail.
# * In two dimensions the whole generator fits in one picture, the latent manifold, and the
#   encoder's map of the test set shows the classes separating without labels.
# * The aggregate posterior only roughly matches the prior; prior samples that fall between
#   its dense regions decode to ambiguous shapes.
# * Importance weighting tightens the bound on the test log-likelihood beyond the ELBO.
#
# ## Exercises
#
# 1. Decode codes far outside the prior's bulk, e.g. $z = (4, 4)$ or $(-6, 0)$. What does
#    the decoder produce where it was never trained?
# 2. Draw binary samples $x \sim p_\theta(x \mid z)$ instead of showing the probabilities
#    (hint: compare `cvae.sample(...)` with a uniform random array). Why do papers usually
#    show the means?
# 3. Interpolate along a straight line in $z$ and along a line between the two images'
#    pixels, and compare. Then, since the prior is Gaussian, try spherical interpolation
#    between two prior samples; does it look different from the straight line?
# 4. Train a model with `latent_dim=16` (chapter 5, exercise 3) and compare its samples and
#    reconstructions with these. Which improves more, and why?
