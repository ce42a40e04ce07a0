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
# # 5. Training
#
# Everything is in place: binarized digits (chapter 1), an encoder and a decoder
# (chapter 2), a differentiable way to sample codes (chapter 3) and an objective, the ELBO
# (chapter 4). Training maximizes the ELBO averaged over the training set,
#
# $$
# \max_{\theta, \phi}\; \frac{1}{N} \sum_{n=1}^{N} \mathcal{L}(\theta, \phi; x_n),
# $$
#
# by stochastic gradient ascent, or, as deep-learning libraries prefer, by descent on the
# *loss* $-\mathcal{L}$. Each step is doubly stochastic: it looks at a random minibatch of
# images instead of all $N$, and at one random code $z$ per image instead of the expectation
# over $q_\phi(z \mid x)$. Both sources of noise leave the gradient unbiased, which is all
# stochastic gradient methods need {cite}`kingma2014`.
#
# This chapter trains the recipe of the original TensorFlow tutorial and watches it learn.

# %% tags=["hide-cell"]
import sys

if "google.colab" in sys.modules:  # Colab: fetch the companion library; keep Colab's TensorFlow
    import subprocess

    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "git+https://github.com/vae-book/cvae-mnist-tf@main"],
        check=True,
    )

# %%
import dataclasses
import inspect
import os
from pathlib import Path

from vae_lib import plots
from vae_lib import train as training
from vae_lib.train import TrainConfig, train

# isort: split
import matplotlib.pyplot as plt
import numpy as np
import tensorflow as tf
from IPython.display import Code, Image, display

# %% [markdown]
# ## The recipe
#
# | setting | value | why |
# |---|---|---|
# | latent dimension $d$ | 2 | so that chapter 6 can draw the latent space |
# | epochs | 10 | passes over the 60,000 training images |
# | batch size | 32 | images per gradient step |
# | optimizer | Adam {cite}`kingma2015`, learning rate $10^{-4}$ | a cautious step for a noisy objective |
# | binarization | static (chapter 1) | |
# | ELBO estimator | single-sample Monte Carlo (chapter 4) | as in the original tutorial |
#
# These are the defaults of `TrainConfig`; we spell them out anyway. Setting the
# environment variable `VAE_QUICK=1` selects a reduced run (2,000 images, one epoch) that
# the book's automated tests use; it writes to its own folder, so the two never mix.

# %% tags=["nbval-ignore-output"]
QUICK = os.environ.get("VAE_QUICK") == "1"
config = TrainConfig(latent_dim=2, epochs=10, batch_size=32, learning_rate=1e-4)
if QUICK:
    config = dataclasses.replace(config, train_size=2000, epochs=1)
RUN_DIR = Path("runs/tutorial-quick" if QUICK else "runs/tutorial")
for name, value in dataclasses.asdict(config).items():
    print(f"{name:14s} {value}")
print(f"{'output folder':14s} {RUN_DIR}")

# %% [markdown]
# ## One training step
#
# A step computes the loss of a batch under a `tf.GradientTape`, differentiates it with
# respect to all weights of both networks and lets Adam update them. `tf.function` compiles
# the step into a TensorFlow graph once, which makes the thousands of steps that follow
# much faster than running Python for each; `vae_lib` goes one step further and compiles a
# loop of many steps, so that Python is visited only every few dozen batches.
#
# One detail goes beyond the original tutorial. The noise $\varepsilon$ of the
# reparameterization is drawn from a *stateless* generator seeded by the step number, so
# each step is a pure function of the weights, the optimizer state and the batch. Together
# with the (seed, epoch) shuffle of chapter 1, this makes a run reproducible and lets it be
# stopped and resumed without changing its result. (The `strategy` argument is TensorFlow's
# way of spreading a batch over several devices; with one device it does nothing.)

# %% tags=["nbval-ignore-output", "remove-input"]
Code(inspect.getsource(training.make_train_loop), language="python")

# %% [markdown]
# ## Same code on a CPU or a GPU
#
# TensorFlow places every operation on a GPU when it finds one, and otherwise on the CPU;
# the code does not change. We make the choice visible and explicit:

# %% tags=["nbval-ignore-output"]
gpus = tf.config.list_physical_devices("GPU")
device = "/GPU:0" if gpus else "/CPU:0"
found = f"{len(gpus)} GPU found" if gpus else "no GPU found"
print(f"TensorFlow {tf.__version__}: training on {device} ({found})")

# %% [markdown]
# ## Training
#
# `vae_lib.train.train` runs the epochs, evaluates the test ELBO after each one and writes
# a checkpoint to `RUN_DIR`. If `RUN_DIR` already holds this run, it resumes from the last
# finished epoch, and a finished run is loaded instantly; that is how chapter 6 gets the
# trained model without training again. The hook `plots.EpochImages` decodes the same 16
# latent points after every epoch (and once before the first), to make a film of the
# learning below.
#
# On two CPU cores the full run takes a few minutes; pass `progress=True` to watch a
# progress bar.

# %% tags=["nbval-ignore-output"]
frames = plots.EpochImages(RUN_DIR, config.latent_dim, seed=config.seed)
with tf.device(device):
    cvae, history = train(config, RUN_DIR, hooks=[frames], progress=False)
print(f"{len(history)} epochs trained, checkpoints in {RUN_DIR}/checkpoints")

# %% [markdown]
# The history holds one row per epoch. The test ELBO is computed on all 10,000 test images
# with the analytic KL and a fixed seed, so it is comparable from epoch to epoch; the
# training loss is the average single-sample $-\hat{\mathcal{L}}_\text{MC}$ over the epoch,
# while the weights were still changing.

# %% tags=["nbval-ignore-output"]
print(f"{'epoch':>5s}{'train loss':>12s}{'test ELBO':>11s}{'reconstruction':>16s}{'KL':>7s}{'seconds':>9s}")
for row in history:
    print(
        f"{row['epoch']:5.0f}{row['train_loss']:12.2f}{row['test_elbo']:11.2f}"
        f"{row['test_reconstruction']:16.2f}{row['test_kl']:7.2f}{row['seconds']:9.1f}"
    )
seconds_per_epoch = float(np.mean([row["seconds"] for row in history]))
print(f"\nfinal test ELBO: {history[-1]['test_elbo']:.2f} nats per image after {len(history)} epochs")
print(f"training speed:  {seconds_per_epoch:.1f} s per epoch on {device}")

# %% [markdown]
# ## Reading the curves
#
# The left panel shows the loss falling, quickly at first and then slowly; the right panel
# splits the test loss into its two parts. The reconstruction term (how many nats it costs
# to describe an image given its code) carries almost all of it. The KL term (how many
# nats the code itself costs, relative to the prior) is small, because two dimensions
# cannot hold much information, and it *grows* as the encoder learns to put more
# information into its codes: the trade-off at the heart of the ELBO.

# %% tags=["nbval-ignore-output"]
plots.plot_history(history)
plt.show()

# %% [markdown]
# ## Watching it learn
#
# The frames written by the hook, as an animation: the same 16 points of the latent space,
# decoded after each epoch. Epoch 0 is the untrained decoder's uniform grey; digit shapes
# appear within the first epoch and sharpen after.

# %% tags=["nbval-ignore-output"]
gif = plots.save_gif(frames.frames(), RUN_DIR / "progress.gif")
display(Image(filename=str(gif)))

# %% [markdown]
# ## A word on the numbers
#
# A test ELBO is a number of nats per image, a lower bound on the average $\log p(x)$ of a
# test digit, so higher is better. Compare it only with numbers measured the same way: on
# the same binarization (static here, dynamic in most papers), with the same latent size
# (two dimensions is very restrictive), and with the same bound (chapter 6 shows how much
# the importance-weighted bound adds). The per-epoch time above is this machine's own; the
# same notebook on a GPU runs the identical computation, only faster.
#
# ## Summary
#
# * Training is stochastic gradient descent on the negative ELBO, with one minibatch and one
#   sampled code per image per step; both noises keep the gradient unbiased.
# * `train(TrainConfig(...), RUN_DIR, hooks=[...])` trains, evaluates, checkpoints, and
#   resumes; the same call on a finished run returns the trained model at once.
# * Stateless, step-seeded noise and (seed, epoch) shuffling make the run reproducible.
# * The test loss is dominated by reconstruction; the KL term rises as the codes become
#   more informative.
#
# ## Exercises
#
# 1. Train with the analytic KL, `dataclasses.replace(config, kl="analytic")`, into another
#    folder (say `runs/analytic-kl`). Is the final test ELBO different? Is training smoother?
# 2. Train with `binarization="dynamic"`. Why is the *training* loss now higher than with
#    static binarization, and does the test ELBO suffer?
# 3. Try `latent_dim=16`. How do the reconstruction and KL terms change? (Chapter 6's
#    latent-space plots need $d = 2$; its other figures work for any $d$.)
# 4. Interrupt a training run (the stop button, or `Ctrl+C` on the command line) and run the
#    same cell again. Check in `history.csv` that the resumed run ends with the same numbers
#    as an uninterrupted one.
