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
# # A1. Training speed
#
# [Chapter 5](05_training.ipynb) trains the tutorial's recipe and looks at what it
# learns; this appendix looks at how long that takes, and at what `vae_lib` does to make it
# faster without changing a single number of the result. The tutorial's model is small: at
# batch 32 one training step is some milliseconds of arithmetic on a CPU, and less on a
# GPU. At that size, what happens *around* the step (Python, the input pipeline) is a
# sizeable part of the time, and the options that help are not the ones that help a large
# model. `vae_lib` has four: two are always on, two are settings of `TrainConfig`.

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
import os
import textwrap
import time

import matplotlib.pyplot as plt
import tensorflow as tf

from vae_lib import hardware, plots
from vae_lib.book import glue, show_source, table
from vae_lib.config import QUICK_ENV, tutorial_run
from vae_lib.data import load_dataset, make_pipelines
from vae_lib.train import build_model, compile_steps

# %% [markdown]
# ## Many steps per call
#
# The tutorial calls its compiled step, `tf.function(train_step)`, from a Python loop,
# once per batch, and each call pays a fixed toll: Python dispatches the function, hands
# over its arguments and, if it reads the loss, waits for the device.
# `vae_lib.train.compile_steps` compiles a loop of `n` steps into one TensorFlow graph, and
# `train(..., steps_per_call=50)` calls it with `n = 50`: Python reads the loss, checks it
# for NaN and moves the progress bar every 50 steps instead of every step. Each step inside
# is [chapter 5](05_training.ipynb)'s `train_step`, so the numbers do not change, only the overhead. It matters
# most where the step is short: small models, small batches, and GPUs, which would
# otherwise sit idle while Python catches up.

# %% tags=["remove-input"]
show_source(compile_steps)

# %% [markdown]
# ## A lean input pipeline
#
# The tutorial makes every image an element of a `tf.data` pipeline and shuffles them
# through a 60,000-image buffer. `vae_lib` shuffles *indices* (the permutation fixed by
# seed and epoch of [chapter 1](01_data.ipynb)), batches them, and gathers each batch from
# the images in memory with one operation; it prefetches two batches on one private
# thread, and turns the `tf.data` autotuner off, because on a machine with two CPU cores
# the autotuner's threads competed with the training step for them. On a GPU the pipeline
# runs on the CPU while the GPU computes, so it only has to keep up, which a gather per
# batch easily does.
#
# ## Mixed precision, and what `"auto"` picks
#
# With `TrainConfig(precision="mixed_bfloat16")` the layers compute in bfloat16, a 16-bit
# format with float32's 8-bit exponent and so its range, but only about three significant
# digits; the weights stay float32, so that Adam's small updates are not rounded away, and
# the loss is computed in float32 (the model's methods always return float32). Because the
# range is float32's, no loss scaling is needed, unlike float16. It is faster only where
# the hardware has bfloat16 arithmetic: CPUs with AVX512-BF16 or AMX instructions, and
# GPUs of compute capability 8.0 or more. Elsewhere every bfloat16 operation is emulated
# and training gets *slower*, by a wide margin. So `TrainConfig`'s default, and the
# command line's, is `precision="auto"`: `vae_lib.hardware` looks at the CPU's flags and
# the GPUs' compute capability when a run starts, picks `mixed_bfloat16` only where it is
# native, and the run records and prints its choice with the reason. A run that is resumed
# keeps the precision it started with. [Chapter 5](05_training.ipynb)'s recipe asks for float32 explicitly, so
# that its numbers are the same on every machine. Here is what `"auto"` picks on the
# machine that runs this page:

# %% tags=["nbval-ignore-output"]
print(textwrap.fill(hardware.describe_hardware(), width=88))
_, reason = hardware.resolve_precision("auto")
print(textwrap.fill(f"precision auto: {reason}", width=88))

# %% [markdown]
# ## XLA
#
# `TrainConfig(xla=True)` compiles each step with XLA, TensorFlow's optimizing compiler,
# which fuses operations into fewer, larger kernels. On the CPU this book was measured on
# it made this model's training *slower* at batch 32 and above, and faster only at batch 16
# (`bench/README.md`), so it is off by default. On a
# GPU we have not measured it: try it, and compare the seconds per epoch.
#
# Training runs on one device, the first GPU if there is one and else the CPU; an earlier
# version of `vae_lib` could split each batch over several GPUs, untested on real ones, and
# that setting is gone.
#
# ## A measurement on this machine
#
# A small measurement shows the first and third options on the machine running this
# notebook. We time 100 steps of the tutorial's model at batch 32, on the training data, in
# three variants: float32 with Python visiting every step, float32 with 50 steps per call
# (the default), and mixed bfloat16 with 50 steps per call (whether or not this machine
# would choose it: the printout above says what `"auto"` picks here). Each variant is
# compiled and warmed up first, the three are timed in turn five times, and the fastest of
# the five is kept, since on a shared machine the other rounds mostly measure the
# neighbours. (In the book's reduced test run, `VAE_QUICK=1`, it is 20 steps, twice.)

# %% tags=["nbval-ignore-output"]
config, _ = tutorial_run()
QUICK = os.environ.get(QUICK_ENV) == "1"
STEPS, ROUNDS = (20, 2) if QUICK else (100, 5)
variants = {  # name: (precision, steps per call)
    "float32, 1 step per call": ("float32", 1),
    "float32, 50 steps per call": ("float32", 50),
    "mixed_bfloat16, 50 steps per call": ("mixed_bfloat16", 50),
}
pipelines = make_pipelines(load_dataset(), batch_size=config.batch_size)
batches = iter(pipelines.train_dataset(1).repeat())
loops = {}
for name, (precision, n) in variants.items():
    variant = dataclasses.replace(config, precision=precision)
    model, optimizer = build_model(variant)
    loops[name] = compile_steps(model, optimizer, variant)
    float(loops[name](batches, tf.constant(min(n, STEPS))))  # trace and compile

ms_per_step = {name: [] for name in variants}
for _ in range(ROUNDS):
    for name, steps in loops.items():
        n = min(variants[name][1], STEPS)
        start = time.perf_counter()
        for _ in range(STEPS // n):
            float(steps(batches, tf.constant(n)))  # read the loss, as train() does
        ms_per_step[name].append(1000 * (time.perf_counter() - start) / STEPS)

best = {name: min(times) for name, times in ms_per_step.items()}
baseline = best["float32, 1 step per call"]
table(
    ["variant", "ms per step (fastest round)", "speed against 1 step per call"],
    [[name, f"{ms:.2f}", f"{baseline / ms:.2f}×"] for name, ms in best.items()],
    align="lrr",
    caption="One training step of the tutorial's model, batch 32, on this machine.",
    name="tab-a1-steps",
)

# %% mystnb={"figure": {"caption": "Milliseconds per training step of each variant in each round (dots) and the fastest round (bars): the spread between rounds is what the machine's other work adds.", "name": "fig-a1-steps"}} tags=["nbval-ignore-output"]
fig, ax = plt.subplots(figsize=(plots.PAGE_WIDTH, 2.8))
names = list(ms_per_step)
ax.barh(names, [best[name] for name in names], color="0.8", label="fastest round")
for row, name in enumerate(names):
    ax.plot(ms_per_step[name], [row] * len(ms_per_step[name]), "o", color="C0", ms=5)
ax.set_xlabel("ms per step", fontsize=plots.LABEL_SIZE)
ax.tick_params(labelsize=plots.LABEL_SIZE - 2)
ax.invert_yaxis()
fig.tight_layout()
plt.show()

# %% tags=["nbval-ignore-output"]
fifty = best["float32, 50 steps per call"]
loop_gain = baseline / fifty
bf16_speed = fifty / best["mixed_bfloat16, 50 steps per call"]
glue("a1_ms_one_step", best["float32, 1 step per call"])
glue("a1_ms_fifty_steps", fifty)
glue("a1_loop_gain", loop_gain)
glue("a1_bf16_speed", bf16_speed)
print(f"50 steps per call: {loop_gain:.2f}× as fast as 1; bfloat16: {bf16_speed:.2f}×")

# %% [markdown]
# On this machine ({numref}`tab-a1-steps`, {numref}`fig-a1-steps`), a float32 step took
# {glue:text}`a1_ms_one_step:.2f` ms with Python visiting every step and
# {glue:text}`a1_ms_fifty_steps:.2f` ms with 50 steps per call, a speed-up of
# {glue:text}`a1_loop_gain:.2f`×; mixed bfloat16 ran at {glue:text}`a1_bf16_speed:.2f`×
# the speed of float32 (the printout above says whether this machine has bfloat16
# arithmetic). What the options can gain depends on where the time goes. The compiled loop removes a fixed cost per step, so
# it gains most where the step itself is short; mixed precision speeds up only the
# arithmetic, and only on hardware with bfloat16 instructions; without them it loses.
#
# ## The benchmark, and what its instruction sets show
#
# The repository's benchmark, `bench/bench.py`, measures all this properly against a plain
# re-implementation of the tutorial's loop: where a step's time goes (input pipeline,
# compiled step, the loop around it), the throughput at larger batches, and the time each
# recipe needs to reach the tutorial's test ELBO. Its measured figures, and the hardware
# they were measured on, are in
# [`bench/README.md`](https://github.com/vae-book/cvae-mnist-tf/blob/main/bench/README.md).
#
# It measures each instruction set of the CPU it runs on, the CPU's own and the older ones
# a reader's CPU may be limited to, by capping oneDNN's kernels with the environment
# variable `ONEDNN_MAX_CPU_ISA`. Read its columns for what they are. A column such as AVX2,
# measured on an AVX-512 CPU, is an *emulation*: it shows how oneDNN's AVX2 kernels
# compare with its AVX-512 ones on that one machine. It does not show how fast a real AVX2
# CPU is, which has other caches, clocks and memory, and whose TensorFlow may pick other
# kernels. Checked on a real two-core AVX2 CPU, the emulated column's gain of `vae_lib`'s
# step over the plain loop did not appear: the two took the same time per epoch, within
# the noise of a shared machine (`bench/README.md` gives both measurements).
#
# ## Summary
#
# * A compiled loop of many steps per call and a lean input pipeline are always on; they
#   remove overhead around the step and change no number.
# * `precision="auto"` computes in bfloat16 only on hardware with bfloat16 arithmetic,
#   where it is faster; elsewhere bfloat16 is emulated and much slower.
# * `xla=True` is an option to measure before using: on the CPU measured it was slower at
#   every batch size but the smallest.
# * An instruction set emulated by capping oneDNN compares kernels on one machine; it does
#   not predict another machine's speed.
#
# ## Exercises
#
# 1. Train one epoch into a folder of its own with `precision="mixed_bfloat16"`, and one
#    with `xla=True`, and compare the `seconds` column of their histories with the float32
#    run's first epoch of [chapter 5](05_training.ipynb). Is the ranking the same as in
#    {numref}`tab-a1-steps`? On a GPU runtime in Colab, which option wins?
# 2. Time `train(..., steps_per_call=1)` against the default for one epoch of the
#    tutorial's recipe. How much of the gain of {numref}`tab-a1-steps` survives a whole
#    epoch, where the step also waits for its batch?
