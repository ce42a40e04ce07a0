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
# Everything is in place: binarized digits ([chapter 1](01_data.ipynb)), an encoder and a
# decoder ([chapter 2](02_encoder_decoder.ipynb)), a differentiable way to sample codes
# ([chapter 3](03_reparameterization.ipynb)) and an objective, the ELBO
# ([chapter 4](04_elbo.ipynb)). Training maximizes the ELBO averaged over the $N$ training
# images,
#
# $$
# \max_{\theta, \phi}\; \frac{1}{N} \sum_{n=1}^{N} \mathcal{L}(\theta, \phi; x_n),
# $$ (eq-05-objective)
#
# by stochastic gradient ascent, or, as deep-learning libraries prefer, by descent on the
# *loss* $-\mathcal{L}$. Each step is doubly stochastic: it looks at a random minibatch
# $B$ of images instead of all $N$, and at one random code $z$ per image instead of the
# expectation over $q_\phi(z \mid x)$. Both sources of noise leave the gradient of
# {eq}`eq-05-objective` unbiased, which is all stochastic gradient methods need
# {cite}`kingma2014`.
#
# This chapter trains the recipe of the original TensorFlow tutorial {cite}`tfcvae` and
# watches it learn.

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
import dataclasses
import math
import textwrap

import matplotlib.pyplot as plt
import numpy as np
import tensorflow as tf
from IPython.display import Image

from vae_lib import hardware, literature, plots
from vae_lib.book import glue, show_source, table
from vae_lib.config import TrainConfig, tutorial_run
from vae_lib.run import RunFolder
from vae_lib.train import train, train_step

# %% [markdown]
# ## The recipe
#
# The recipe is the tutorial's: a two-dimensional latent space, so that
# [chapter 6](06_generation.ipynb) can draw it; 10 passes over the 60,000 training images;
# batches of 32; Adam {cite}`kingma2015` with a cautious learning rate of $10^{-4}$ for a
# noisy objective; the thresholded digits of [chapter 1](01_data.ipynb); and the
# single-sample Monte Carlo estimate of the ELBO from [chapter 4](04_elbo.ipynb), as in the
# tutorial. These are the defaults of `TrainConfig`, but for its precision:
# `vae_lib.config.tutorial_run()` asks for float32, because the default, `"auto"`, would
# compute in bfloat16 on some machines and change the numbers
# ([appendix A1](A1_training_speed.ipynb) explains when). It returns the settings together
# with the folder the run is written to, `runs/tutorial`; [chapter 6](06_generation.ipynb)
# calls it too, so both chapters always mean the same run. Setting the environment variable `VAE_QUICK=1` makes
# it return a reduced run instead (the first 2,000 training images, one epoch) in a folder
# of its own, `runs/tutorial-quick`: that is what the book's automated tests execute, and
# the two runs never mix. {numref}`tab-05-config` lists every setting of the run.

# %% tags=["nbval-ignore-output"]
config, RUN_DIR = tutorial_run()
helps = {f.name: f.metadata["help"] for f in dataclasses.fields(TrainConfig)}
rows = []
for name, value in dataclasses.asdict(config).items():
    rows.append([f"`{name}`", f"`{value}`", helps[name]])
rows.append(["output folder", f"`{RUN_DIR}`", "where the run is written"])
table(
    ["setting", "value", "what it is"],
    rows,
    align="lll",
    caption="The settings of this chapter's run, every field of `TrainConfig`.",
    name="tab-05-config",
)

# %% [markdown]
# ## One training step
#
# A step computes the loss of a batch, the mean of $-\mathcal{L}$ over its images, under a
# `tf.GradientTape`, differentiates it with respect to all weights $\theta, \phi$ of both
# networks, and lets Adam update them. With plain gradient descent and a learning rate
# $\eta$ the update would read
#
# $$
# (\theta, \phi) \;\leftarrow\; (\theta, \phi) - \eta\, \nabla_{\theta, \phi}
# \Bigl(-\frac{1}{|B|} \sum_{x \in B} \hat{\mathcal{L}}(\theta, \phi; x)\Bigr);
# $$ (eq-05-step)
#
# Adam replaces the raw gradient in {eq}`eq-05-step` by running averages of it and of its
# square, which adapt the step to each weight. This is `vae_lib.train.train_step`, the
# tutorial's loss, gradient and update, and nothing else. Its loss is $-\mathcal{L}$
# unless it is handed another (`loss_fn`): the chapters of Part III train the same
# networks with the KL term weighted ([chapter 11](11_beta_vae.ipynb)), without it
# ([chapter 9](09_autoencoder_vs_vae.ipynb)) or given the digit's label
# ([chapter 12](12_conditional_vae.ipynb)), through that one argument.

# %% tags=["remove-input"]
show_source(train_step)

# %% [markdown]
# One detail goes beyond the original tutorial. The noise $\varepsilon$ of the
# reparameterization is drawn from a *stateless* generator seeded by the step number
# (the `seed` argument), so each step is a pure function of the weights, the optimizer
# state and the batch. Together with the (seed, epoch) shuffle of
# [chapter 1](01_data.ipynb), this makes a run reproducible and lets it be stopped and
# resumed without changing its result.
#
# ## Same code on a CPU or a GPU
#
# TensorFlow places every operation on a GPU when it finds one, and otherwise on the CPU;
# the code does not change. We make the choice visible and explicit, with the hardware the
# times below were measured on:

# %% tags=["nbval-ignore-output"]
gpus = tf.config.list_physical_devices("GPU")
device = "/GPU:0" if gpus else "/CPU:0"
found = f"{len(gpus)} GPU found" if gpus else "no GPU found"
print(f"training on {device} ({found})")
print(textwrap.fill(hardware.describe_hardware(), width=88))

# %% [markdown]
# ## Training
#
# `vae_lib.train.train` runs the epochs, evaluates the test ELBO after each one and writes
# a checkpoint to `RUN_DIR`. If `RUN_DIR` already holds this run, it resumes from the last
# finished epoch, and a finished run is loaded instantly; that is how
# [chapter 6](06_generation.ipynb) gets the trained model without training again. While it works it holds the folder's lock, so a
# second process cannot write into the same run. After every epoch (and once before the
# first) it decodes the same 16 latent points into an image of the folder, to make a film
# of the learning below, and when it has trained it draws the run's figures and writes its
# final figures to `metrics.json`. It returns a `Trained` record: the settings as trained,
# the model, the history, and how many epochs this call ran.
#
# On two CPU cores the full run takes a few minutes; pass `progress=True` to watch a
# progress bar.

# %% tags=["nbval-ignore-output"]
with tf.device(device):
    trained = train(config, RUN_DIR, progress=False)
cvae, history = trained.model, trained.history
run = RunFolder(RUN_DIR)
print(f"{trained.epochs_run} epochs trained by this call, {len(history)} in all")
print(f"checkpoints in {run.checkpoints}")

# %% [markdown]
# The history holds one row per epoch ({numref}`tab-05-history`). The test ELBO is
# computed on all 10,000 test images with the analytic KL and a fixed seed, so it is
# comparable from epoch to epoch; the training loss is the average single-sample
# $-\hat{\mathcal{L}}$ over the epoch, while the weights were still changing.

# %% tags=["nbval-ignore-output"]
columns = ["train_loss", "test_elbo", "test_reconstruction", "test_kl", "seconds"]
table(
    ["epoch", "train loss", "test ELBO", "reconstruction", "KL", "seconds"],
    [[int(row["epoch"]), *(f"{row[c]:.2f}" for c in columns)] for row in history],
    align="rrrrrr",
    caption="The run's history, nats per image: −ELBO in training, the test figures.",
    name="tab-05-history",
)

# %% tags=["nbval-ignore-output"]
last = history[-1]
seconds_per_epoch = float(np.mean([row["seconds"] for row in history]))
steps_per_epoch = math.ceil((config.train_size or 60_000) / config.batch_size)
TUTORIAL_ELBO = next(r.value for r in literature.rows() if r.cite == "tfcvae")
glue("ch05_epochs", len(history))
glue("ch05_steps_per_epoch", steps_per_epoch)
glue("ch05_final_elbo", float(last["test_elbo"]))
glue("ch05_final_reconstruction", float(last["test_reconstruction"]))
glue("ch05_first_kl", float(history[0]["test_kl"]))
glue("ch05_final_kl", float(last["test_kl"]))
glue("ch05_seconds_per_epoch", seconds_per_epoch)
glue("ch05_tutorial_elbo", TUTORIAL_ELBO)
glue("ch05_elbo_vs_tutorial", float(last["test_elbo"]) - TUTORIAL_ELBO)
print(f"final test ELBO: {last['test_elbo']:.2f} nats per image, epoch {len(history)}")
print(f"{seconds_per_epoch:.1f} s per epoch on {device}, {steps_per_epoch:,} steps")

# %% [markdown]
# After {glue:text}`ch05_epochs` epochs of {glue:text}`ch05_steps_per_epoch:,` steps each,
# the test ELBO is {glue:text}`ch05_final_elbo:.2f` nats per image. The tutorial printed
# {glue:text}`ch05_tutorial_elbo:.2f` after its tenth epoch, in the copy of its page this
# book was written from, which carries no date and no commit (`vae_lib/literature.csv`
# records where the figure was read); ours is {glue:text}`ch05_elbo_vs_tutorial:+.2f`
# nats from it.
# An epoch took {glue:text}`ch05_seconds_per_epoch:.1f` seconds on average on the machine
# that ran this notebook, described above; another machine will differ.
#
# ## Reading the curves
#
# {numref}`fig-05-curves` shows the loss falling, quickly at first and then slowly, and
# splits the test loss into its two parts, each on an axis of its own. The reconstruction
# term (how many nats it costs to describe an image given its code) carries almost all of
# it: {glue:text}`ch05_final_reconstruction:.2f` nats at the end. The KL term (how many
# nats the code itself costs, relative to the prior) is small, because two dimensions
# cannot hold much information, and it *grows*, from {glue:text}`ch05_first_kl:.2f` nats
# after the first epoch to {glue:text}`ch05_final_kl:.2f` after the last, as the encoder
# learns to put more information into its codes: the trade-off at the heart of the ELBO.

# %% mystnb={"figure": {"caption": "Training curves of this chapter's run: the loss (\u2212ELBO) on the training batches and the test set, and the test loss's two parts, the reconstruction term and the KL term, each on its own axis.", "name": "fig-05-curves"}} tags=["nbval-ignore-output"]
plots.plot_history(history)
plt.show()

# %% [markdown]
# ## Watching it learn
#
# The images written after each epoch, as an animation ({numref}`fig-05-film`): the same
# 16 points of the latent space, decoded after each epoch. Epoch 0 is the untrained
# decoder's uniform grey; digit shapes appear within the first epoch and sharpen after.

# %% mystnb={"figure": {"caption": "The same 16 latent points decoded after every epoch, from the untrained decoder (epoch 0) to the last.", "name": "fig-05-film"}} tags=["nbval-ignore-output"]
Image(filename=str(run.figure("progress.gif")))

# %% [markdown]
# ## Making training fast
#
# The tutorial calls its compiled step from Python once per batch; `train` compiles a loop
# of 50 steps into one TensorFlow graph and calls that instead, feeds it from a lean input
# pipeline, and can compute in bfloat16 or compile with XLA. None of that changes the
# numbers of this chapter, only how long they take, and how much each helps depends on the
# hardware: [appendix A1](A1_training_speed.ipynb) shows the compiled loop, explains what
# `precision="auto"` picks and why, and measures the options on the machine that runs it.
#
# ## A word on the numbers
#
# A test ELBO is a number of nats per image (natural-log units: one nat is $\log_2 e$, about
# 1.443 bits), a lower bound on the average $\log p(x)$ of a test digit, so higher is
# better. Compare it only with numbers measured the same way: on the same binarization
# (thresholded here, stochastic in most papers, as [chapter 8](08_papers.ipynb) shows),
# with the same latent size (two dimensions is very restrictive,
# [chapter 7](07_results.ipynb) gives the model fifty), and with the same bound
# ([chapter 6](06_generation.ipynb) shows how much the importance-weighted bound adds).
#
# ## Summary
#
# * Training is stochastic gradient descent on the negative ELBO
#   ({eq}`eq-05-objective`, {eq}`eq-05-step`), with one minibatch and one sampled code per
#   image per step; both noises keep the gradient unbiased.
# * `train(config, RUN_DIR)` trains, evaluates, checkpoints, resumes and writes the run's
#   figures; the same call on a finished run returns the trained model at once.
# * Stateless, step-seeded noise and (seed, epoch) shuffling make the run reproducible.
# * The test loss is dominated by reconstruction; the KL term rises as the codes become
#   more informative.
# * How fast it trains, and how to make it faster, is [appendix A1](A1_training_speed.ipynb).
#
# ## Exercises
#
# 1. Train with the analytic KL, `dataclasses.replace(config, kl="analytic")`, into another
#    folder (say `runs/analytic-kl`). Is the final test ELBO different? Is training smoother?
# 2. Train with `binarization="dynamic"`. Why is the *training* loss now higher than with
#    static binarization, and does the test ELBO suffer?
# 3. Try `latent_dim=16`. How do the reconstruction and KL terms change?
#    ([Chapter 6](06_generation.ipynb)'s latent-space plots need $d = 2$; its other figures
#    work for any $d$.)
# 4. Interrupt a training run (the stop button, or `Ctrl+C` on the command line) and run the
#    same cell again. Check in `history.csv` that the resumed run ends with the same numbers
#    as an uninterrupted one.
