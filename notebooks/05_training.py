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
import inspect
import time

import matplotlib.pyplot as plt
import numpy as np
import tensorflow as tf
from IPython.display import Code, Image, display

from vae_lib import hardware, plots
from vae_lib import train as training
from vae_lib.config import tutorial_run
from vae_lib.data import load_mnist, make_pipelines
from vae_lib.train import build_model, make_train_loop, train

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
# These are the defaults of `TrainConfig`, computed in float32 (its default precision,
# `"auto"`, would pick bfloat16 on some machines and change the numbers; see "Making
# training fast" below). `vae_lib.config.tutorial_run()` returns them
# together with the folder the run is written to, `runs/tutorial`; chapter 6 calls it too,
# so both chapters always mean the same run. Setting the environment variable
# `VAE_QUICK=1` makes it return a reduced run instead (the first 2,000 training images,
# one epoch) in a folder of its own, `runs/tutorial-quick`: that is what the book's
# automated tests execute, and the two runs never mix.

# %% tags=["nbval-ignore-output"]
config, RUN_DIR = tutorial_run()
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
# ## Making training fast
#
# The tutorial's model is small: at batch 32 one training step is a few milliseconds of
# arithmetic on a CPU, and less on a GPU. At that size, what happens *around* the step
# (Python, the input pipeline) is a sizeable part of the time, and the options that help
# are not the ones that help a large model. `vae_lib` has five; two are always
# on, three are settings.
#
# 1. **Many steps per call.** The tutorial calls its compiled step from a Python loop, once
#    per batch, and each call pays a fixed toll: Python dispatches the function, hands over
#    its arguments and, if it reads the loss, waits for the device. `make_train_loop`
#    (shown above) compiles a loop of `n` steps into one graph, and `train(...,
#    steps_per_call=50)` calls it with `n = 50`: Python reads the loss, checks it for NaN
#    and moves the progress bar every 50 steps instead of every step. The numbers do not
#    change, only the overhead. It matters most where the step is short: small models,
#    small batches, and GPUs, which would otherwise sit idle while Python catches up.
# 2. **A lean input pipeline.** The tutorial makes every image an element of a `tf.data`
#    pipeline and shuffles them through a 60,000-image buffer. `vae_lib` shuffles
#    *indices* (chapter 1's permutation fixed by seed and epoch), batches them, and gathers
#    each batch from the images in memory with one operation; it prefetches two batches
#    on one private thread, and turns the `tf.data` autotuner off, because on a machine
#    with two CPU cores the autotuner's threads competed with the training step for them.
#    On a GPU the pipeline runs on the CPU while the GPU computes, so it only has to keep
#    up, which a gather per batch easily does.
# 3. **Mixed precision**, `TrainConfig(precision="mixed_bfloat16")`. The layers compute in
#    bfloat16, a 16-bit format with float32's 8-bit exponent and so its range, but only
#    about three significant digits; the weights stay float32, so that Adam's small
#    updates are not rounded away, and the loss is computed in float32 (the model's
#    methods always return float32). Because the range is float32's, no loss scaling is
#    needed, unlike float16. It is faster only where the hardware has bfloat16 arithmetic:
#    CPUs with AVX512-BF16 or AMX instructions, and GPUs of compute capability 8.0 or more.
#    Elsewhere every bfloat16 operation is emulated and training gets several times
#    *slower* (`bench/README.md` measures both on one machine). So `TrainConfig`'s
#    default, and the command line's, is `precision="auto"`: `vae_lib.hardware` looks at
#    the CPU's flags and the GPUs' compute capability when a run starts, picks
#    `mixed_bfloat16` only where it is native, and the run records and prints its choice
#    with the reason. A run that is resumed keeps the precision it started with. This
#    chapter's recipe asks for float32 explicitly, so that its numbers are the same on
#    every machine.
# 4. **XLA**, `TrainConfig(xla=True)`, compiles each step with XLA, TensorFlow's
#    optimizing compiler, which fuses operations into fewer, larger kernels. On this
#    book's CPU it made this model's training *slower*, so it is off by default. On a GPU
#    we have not measured it: try it, and compare the seconds per epoch.
# 5. **Several GPUs**: `TrainConfig(devices=2)`, or `python -m vae_lib train --devices 2`
#    on the command line. The device count is a setting like any other, since it changes
#    the random draws: a run cannot be resumed on another count. Each batch is split
#    among the devices, every device computes the gradient of its part, and the parts are
#    summed, so an update is still that of the whole batch of `batch_size` images. This is
#    tested on one CPU split into two logical devices (`tests/test_distributed.py`), which
#    checks that the code is correct, not that it is fast; on real GPUs it is unmeasured.
#    With a step this short, splitting it adds communication to very little work: expect
#    a gain only with much larger batches or models.
#
# A small measurement shows the first and third on the machine running this notebook.
# We time 100 steps of the tutorial's model at batch 32, on the training data, in three
# variants: float32 with Python visiting every step, float32 with 50 steps per call (the
# default), and mixed bfloat16 with 50 steps per call (whether or not this machine would
# choose it: the printout says what `"auto"` picks here). Each variant is compiled and warmed
# up first, the three are timed in turn five times, and the fastest of the five is kept,
# since on a shared machine the other rounds mostly measure the neighbours.

# %% tags=["nbval-ignore-output"]
print(hardware.describe_hardware())
print(hardware.resolve_precision("auto", hardware.cpu_info().flags, hardware.gpu_info())[1])

speed_data = make_pipelines(load_mnist(), batch_size=config.batch_size)
variants = {  # name: (precision, steps per call)
    "float32, 1 step per call": ("float32", 1),
    "float32, 50 steps per call": ("float32", 50),
    "mixed_bfloat16, 50 steps per call": ("mixed_bfloat16", 50),
}
loops = {}
for name, (precision, _) in variants.items():
    variant_config = dataclasses.replace(config, precision=precision)
    model, optimizer = build_model(variant_config)
    loops[name] = make_train_loop(model, optimizer, variant_config, tf.distribute.get_strategy())

STEPS = 100
batches = iter(speed_data.train_dataset(1).repeat())
with tf.device(device):
    for name, loop in loops.items():  # warm up: trace and compile
        float(loop(batches, tf.constant(variants[name][1])))
    ms_per_step = {name: [] for name in variants}
    for _ in range(5):
        for name, loop in loops.items():
            n = variants[name][1]
            start = time.perf_counter()
            for _ in range(STEPS // n):
                float(loop(batches, tf.constant(n)))  # read the loss, as train() does
            ms_per_step[name].append(1000 * (time.perf_counter() - start) / STEPS)

best = {name: min(times) for name, times in ms_per_step.items()}
baseline = best["float32, 1 step per call"]
for name, ms in best.items():
    print(f"{name:35s} {ms:6.2f} ms per step   {baseline / ms:4.2f}x")
ratio = best["float32, 50 steps per call"] / best["mixed_bfloat16, 50 steps per call"]
print(f"mixed_bfloat16 vs float32: {ratio:.2f}x the speed")

# %% [markdown]
# The last column is each variant's speed relative to Python visiting every step, on the
# machine that ran this notebook. What the options can gain depends on where the time
# goes. The compiled loop removes a fixed cost per step, so it gains most where the step
# itself is short; mixed precision speeds up only the arithmetic, and only on hardware
# with bfloat16 instructions (the first lines of the printout say whether this machine has
# them, and what `"auto"` picks); without them it loses, by a wide margin.
#
# The repository's benchmark, `bench/bench.py`, measures all this properly: where a
# step's time goes (input pipeline, compiled step, the loop around it), the throughput
# at larger batches, and the time each recipe needs to reach the tutorial's test ELBO.
# Its measured figures are in
# [`bench/README.md`](https://github.com/vae-book/cvae-mnist-tf/blob/main/bench/README.md).

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
# * Speed: a compiled loop of many steps per call and a lean input pipeline are always
#   on; `precision="auto"` computes in bfloat16 only on hardware with bfloat16
#   arithmetic, `xla=True` is an option to measure before using, and `devices=` spreads a
#   batch over several GPUs.
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
# 5. Train one epoch into a folder of its own with `precision="mixed_bfloat16"`, and one
#    with `xla=True`, and compare the `seconds` column of their histories with the
#    float32 run's first epoch. Is the ranking the same as in the measurement above? On a
#    GPU runtime in Colab, which option wins?
