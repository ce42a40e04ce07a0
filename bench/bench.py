"""Benchmark: vae_lib's training against a plain re-implementation of the tutorial's loop, per CPU ISA.

Prints, from one run on one machine, side by side for each instruction set this CPU has
(its own, and the older ones a reader's CPU may be limited to):

1. the instruction sets measured: the oneDNN kernels TensorFlow ran in each, checked,
   and the precision vae_lib's "auto" picks there;
2. time to reach the tutorial's 10-epoch test ELBO (−157 nats, latent 2) with the tutorial's
   recipe and with the one vae_lib recommends for that hardware, and each run's peak memory;
3. ms per step at batch 16 (our recipe's), 32 (the tutorial's) and larger, with each
   variant's ratio to the plain loop measured in the same process;
4. on this CPU as it is: where a step's time goes, a profile of one step, and the cost of evaluation;
5. what each change of chapter 15's ablation costs a step of the 50-dimensional results model,
   also written to ``results/step_costs.json`` for the chapter (``--costs`` measures only this).

TensorFlow's CPU kernels come from oneDNN, and ``ONEDNN_MAX_CPU_ISA`` keeps them to an
older instruction set, e.g. ``AVX2``; it must be set before TensorFlow loads, so every
instruction set is measured in child processes of its own.

    python bench/bench.py                     # about 40 minutes on 2 CPU cores
    python bench/bench.py --isa AVX2          # one instruction set (this CPU's own is ``native``)
    python bench/bench.py --quick             # a smoke run of every part, about 2 minutes
    python bench/bench.py --costs             # part 5 alone, about 5 minutes
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

# TensorFlow's informational start-up lines, in this process and its children, off (set before it loads).
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# isort: split
import keras
import numpy as np
import tensorflow as tf

from vae_lib import hardware
from vae_lib.data import LabelledImages, load_dataset, make_pipelines
from vae_lib.evaluate import evaluate, iw_bounds
from vae_lib.losses import monte_carlo_elbo
from vae_lib.model import CVAE
from vae_lib.train import TrainConfig, build_model, compile_steps

TARGET_ELBO = -157.0  # the tutorial's test ELBO after 10 epochs
TUTORIAL = TrainConfig(precision="float32")  # latent 2, batch 32, Adam 1e-4, one-sample Monte Carlo KL
# The recipe vae_lib recommends; "auto" is resolved in each instruction set's own process. Batch 16
# needs about 1 epoch to reach the target (3,750-4,218 steps over two seeds and both precisions),
# batch 32 about 1.4 (2,578-2,695 steps), at some 1.2-1.3x the cost per image of batch 32 on a CPU.
OURS = TrainConfig(batch_size=16, learning_rate=2e-3, lr_half_life=1.0, kl="analytic", precision="auto")
CHECKS_PER_EPOCH = 8  # both recipes' test ELBO is checked every 1/8 epoch (7,500 images)

# oneDNN's ONEDNN_MAX_CPU_ISA values this benchmark measures, highest first, with the
# /proc/cpuinfo flags a CPU needs to run each. The highest one this CPU has is measured
# without a cap ("native"); lower ones show what a reader's older CPU gets.
ISA_LEVELS = {
    "AVX512_CORE_AMX": {"amx_bf16", "amx_tile", "avx512_bf16", "avx512f", "avx512bw", "avx512vl", "avx512dq"},
    "AVX512_CORE_BF16": {"avx512_bf16", "avx512f", "avx512bw", "avx512vl", "avx512dq"},
    "AVX512_CORE": {"avx512f", "avx512bw", "avx512vl", "avx512dq"},
    "AVX2": {"avx2", "fma"},
}
NATIVE = "native"


# --- instruction sets and the child processes that measure in them -------------------------------


def machine_isas(flags: frozenset[str]) -> list[str]:
    """The ISA_LEVELS this CPU can run, highest first; the first is this CPU's own."""
    return [isa for isa, needs in ISA_LEVELS.items() if needs <= flags]


def isa_label(isa: str, isas: list[str]) -> str:
    return f"{isas[0]} (native)" if isa == NATIVE and isas else isa


def bf16_in_eigen(probe: dict) -> bool:
    """Whether bfloat16 must be measured in TensorFlow's Eigen kernels under this cap: its probe failed.

    TensorFlow hands bfloat16 operations to oneDNN when the CPU has AVX-512F (it asks the CPU,
    not the cap), and below AVX512_CORE oneDNN then has no bfloat16 kernel and fails. A CPU
    without AVX-512 runs them in Eigen instead, so that is how they are measured there:
    in a process of their own, with ``TF_ENABLE_ONEDNN_OPTS=0``.
    """
    return not probe["ran"]["bfloat16"]


def child_env(isa: str, onednn: bool = True, verbose: bool = False) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("ONEDNN_MAX_CPU_ISA", "ONEDNN_VERBOSE")}
    if isa != NATIVE:
        env["ONEDNN_MAX_CPU_ISA"] = isa
    if not onednn:
        env["TF_ENABLE_ONEDNN_OPTS"] = "0"
    if verbose:
        env["ONEDNN_VERBOSE"] = "1"
    return env


def run_child(task: str, args: dict, env: dict[str, str]) -> tuple[dict, str]:
    """Run ``task`` in a fresh process with ``env``; its JSON result and its whole standard output."""
    child = subprocess.run(
        [sys.executable, __file__, "--child", task, json.dumps(args)],
        capture_output=True,
        text=True,
        env=env,
    )
    if child.returncode != 0:
        sys.exit(f"child {task} {args} failed:\n{child.stderr[-3000:]}")
    return json.loads(child.stdout.strip().splitlines()[-1]), child.stdout


def resolved_precision() -> tuple[str, str]:
    """What "auto" resolves to in this process: from the flags its ISA cap leaves, not the CPU's own."""
    return hardware.resolve_precision("auto", hardware.cpu_info().flags, hardware.gpu_info())


# --- 1: which kernels run --------------------------------------------------------------------------


def probe(_: dict) -> dict:
    """Child, run with ONEDNN_VERBOSE=1: one small convolution in float32, then in bfloat16."""
    x = tf.random.stateless_normal([8, 14, 14, 32], [0, 0])
    w = tf.random.stateless_normal([3, 3, 32, 64], [0, 1])
    conv = tf.function(lambda x, w: tf.nn.conv2d(x, w, 1, "SAME"))
    ran = {}
    for dtype in (tf.float32, tf.bfloat16):
        try:
            conv(tf.cast(x, dtype), tf.cast(w, dtype)).numpy()
            ran[dtype.name] = True
        except tf.errors.OpError:
            ran[dtype.name] = False
    precision, reason = resolved_precision()
    return {"ran": ran, "auto": precision, "reason": reason, "hardware": hardware.describe_hardware()}


def kernels_seen(verbose_output: str) -> tuple[str, dict[str, str]]:
    """From oneDNN's verbose lines: the ISA it names, and the convolution kernel run per data type."""
    isa, kernels = "?", {}
    for line in verbose_output.splitlines():
        fields = line.split(",")
        if ",info,cpu,isa:" in line:
            isa = line.split("isa:", 1)[1]
        elif line.startswith("onednn_verbose") and fields[3:6] == ["exec", "cpu", "convolution"]:
            dtype = "bfloat16" if " src:bf16" in line or ",src:bf16" in line else "float32"
            kernels.setdefault(dtype, fields[6])  # e.g. brg_conv_fwd:avx2
    return isa, kernels


def check_isas(isas: list[str], labels: dict[str, str]) -> dict[str, dict]:
    print("\n## Instruction sets measured\n")
    print(
        "Each is measured in processes of its own with `ONEDNN_MAX_CPU_ISA` set (none for native). "
        "Checked: a small convolution run with `ONEDNN_VERBOSE=1`, and the kernel oneDNN names.\n"
    )
    print("| instruction set | oneDNN reports | float32 convolution | bfloat16 convolution | auto picks |")
    print("| --- | --- | --- | --- | --- |")
    probes = {}
    for isa in isas:
        result, stdout = run_child("probe", {}, child_env(isa, verbose=True))
        onednn_isa, kernels = kernels_seen(stdout)
        bf16 = kernels.get("bfloat16") or (
            "oneDNN fails; runs in Eigen on a CPU without AVX-512"
            if not result["ran"]["bfloat16"]
            else "Eigen"
        )
        print(
            f"| {labels[isa]} | {onednn_isa} | {kernels.get('float32', 'Eigen')} | {bf16} | "
            f"{result['auto']} |"
        )
        probes[isa] = result
    print()
    for isa in isas:
        print(f"* {labels[isa]}: {probes[isa]['reason']}")
    return probes


# --- the plain loop, as the tutorial writes it ----------------------------------------------------


def plain_dataset(images: np.ndarray, batch_size: int) -> tf.data.Dataset:
    """The tutorial's pipeline: every image a dataset element, a 60,000-element shuffle buffer."""
    return tf.data.Dataset.from_tensor_slices(images).shuffle(len(images)).batch(batch_size)


def plain_step(model: CVAE, optimizer: keras.optimizers.Optimizer) -> Callable[[tf.Tensor], tf.Tensor]:
    """The tutorial's step: one compiled call per batch, ε from the global generator."""

    @tf.function
    def train_step(x: tf.Tensor) -> tf.Tensor:
        with tf.GradientTape() as tape:
            loss = -tf.reduce_mean(monte_carlo_elbo(model, x))
        gradients = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables, strict=True))
        return loss

    return train_step


# --- 2: time to the tutorial's ELBO ---------------------------------------------------------------


def time_to_target(args: dict) -> dict:
    """Child: train a recipe until its test ELBO, checked every 1/CHECKS_PER_EPOCH epoch, reaches TARGET_ELBO.

    Only training counts: the clock stops for every check (its time is returned apart).
    """
    recipe, max_epochs, checks = args["recipe"], args["max_epochs"], args["checks_per_epoch"]
    mnist = load_dataset()
    config = TUTORIAL
    if recipe == "ours":
        config = dataclasses.replace(OURS, precision=resolved_precision()[0])
    pipes = make_pipelines(mnist, config.batch_size, config.seed)
    steps_per_epoch = math.ceil(len(mnist.train_images) / config.batch_size)
    model, optimizer = build_model(config, steps_per_epoch)
    if recipe == "tutorial":
        step = plain_step(model, optimizer)
        dataset = plain_dataset(pipes.train_images, config.batch_size)

        def train_part(batches: object, n: int) -> None:
            for _ in range(n):
                loss = step(next(batches))
            float(loss)

        def epoch_batches(epoch: int) -> object:
            return iter(dataset)
    else:
        loop = compile_steps(model, optimizer, config)

        def train_part(batches: object, n: int) -> None:
            float(loop(batches, tf.constant(n)))

        def epoch_batches(epoch: int) -> object:
            return iter(pipes.train_dataset(epoch))

    seconds = eval_seconds = 0.0
    curve: list[tuple[float, float]] = []
    steps, max_checks = 0, round(max_epochs * checks)
    while len(curve) < max_checks and not (curve and curve[-1][1] >= TARGET_ELBO):
        epoch = steps // steps_per_epoch + 1
        batches = epoch_batches(epoch)
        for k in range(checks):
            n = steps_per_epoch * (k + 1) // checks - steps_per_epoch * k // checks
            seconds += timed(lambda batches=batches, n=n: train_part(batches, n))
            steps += n
            start = time.perf_counter()
            elbo = evaluate(model, pipes.test_images)["test_elbo"]
            eval_seconds += time.perf_counter() - start
            curve.append((round(steps / steps_per_epoch, 3), round(elbo, 2)))
            if elbo >= TARGET_ELBO or len(curve) >= max_checks:
                break
    return {
        "recipe": recipe,
        "config": config.to_json(),
        "steps": steps,
        "epochs": steps / steps_per_epoch,
        "seconds": seconds,
        "eval_seconds": eval_seconds,
        "checks": len(curve),
        "reached": curve[-1][1] >= TARGET_ELBO,
        "curve": curve,
        "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def compare_time_to_target(isas: list[str], labels: dict[str, str], max_epochs: float, checks: int) -> None:
    print(f"\n## Time to the tutorial's 10-epoch test ELBO ({TARGET_ELBO} nats, latent 2)\n")
    changed = [k for k, v in OURS.to_json().items() if v != getattr(TUTORIAL, k)]
    shown = ["batch_size", *(k for k in changed if k != "batch_size")]
    print(
        f"Tutorial: {json.dumps({k: getattr(TUTORIAL, k) for k in shown})}. "
        f"Ours: {json.dumps({k: getattr(OURS, k) for k in shown})}, the rest alike; "
        '"auto" is resolved in each instruction set\'s process from the flags its cap leaves '
        "(`vae_lib.hardware.cpu_info` honours `ONEDNN_MAX_CPU_ISA`), not from this CPU's own. "
        f"Both recipes' test ELBO (all 10,000 test images) is checked every 1/{checks} epoch and "
        "training stops at the first check that passes the target. Seconds are training only: "
        "the clock stops for every check, whose time is shown apart. Each run is a process of its "
        "own, for its peak memory; the two runs of one instruction set run one after the other.\n"
    )
    print(
        "| instruction set | recipe | precision | steps | epochs | training s | checks (s, excluded) | "
        "reached | peak memory (MiB) | tutorial / ours |"
    )
    print("| --- | --- | --- | ---: | ---: | ---: | ---: | --- | ---: | ---: |")
    curves = []
    for isa in isas:
        runs = {}
        for recipe in ("tutorial", "ours"):
            args = {"recipe": recipe, "max_epochs": max_epochs, "checks_per_epoch": checks}
            runs[recipe], _ = run_child("target", args, child_env(isa))
        for recipe, r in runs.items():
            ratio = f"{runs['tutorial']['seconds'] / r['seconds']:.1f}×" if recipe == "ours" else ""
            print(
                f"| {labels[isa]} | {recipe} | {r['config']['precision']} | {r['steps']:,} | "
                f"{r['epochs']:.3g} | {r['seconds']:.1f} | {r['checks']} ({r['eval_seconds']:.0f}) | "
                f"{r['reached']} | {r['peak_mib']:,.0f} | {ratio} |"
            )
            points = r["curve"]
            if len(points) > 2 * checks:  # a long run: its whole epochs and its last check
                points = [p for p in points[:-1] if float(p[0]).is_integer()] + points[-1:]
            text = ", ".join(f"{e:g}: {v}" for e, v in points)
            curves.append(f"* {labels[isa]}, {recipe} (epochs: test ELBO): {text}")
    print("\n" + "\n".join(curves))


# --- 3: throughput ---------------------------------------------------------------------------------


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


class Variant:
    """One way of training, ready to time ``steps`` steps of its full loop or its parts."""

    def __init__(self, name: str, config: TrainConfig, mnist: LabelledImages, plain: bool) -> None:
        self.name, self.config, self.plain = name, config, plain
        self.model, self.optimizer = build_model(config)
        pipes = make_pipelines(mnist, config.batch_size, config.seed, binarization=config.binarization)
        if plain:
            self.dataset = plain_dataset(pipes.train_images, config.batch_size).repeat()
            self.step = plain_step(self.model, self.optimizer)
        else:
            self.dataset = pipes.train_dataset(1).repeat()
            self.loop = compile_steps(self.model, self.optimizer, config)
        self.iterator = iter(self.dataset)
        self.batch = next(self.iterator)

    def run_loop(self, steps: int) -> float:
        if self.plain:

            def go() -> None:
                for _ in range(steps):
                    loss = self.step(next(self.iterator))
                float(loss)
        else:

            def go() -> None:
                self.run_ours(self.iterator, steps)

        return timed(go)

    def run_ours(self, iterator: object, steps: int) -> None:
        while steps > 0:
            n = min(50, steps)
            float(self.loop(iterator, tf.constant(n)))
            steps -= n

    def run_compute(self, steps: int) -> float:
        """The same number of steps on one fixed batch: no input pipeline."""
        if self.plain:

            def go() -> None:
                for _ in range(steps):
                    loss = self.step(self.batch)
                float(loss)
        else:
            fixed = iter(tf.data.Dataset.from_tensors(self.batch).repeat())

            def go() -> None:
                self.run_ours(fixed, steps)

        return timed(go)

    def run_pipeline(self, steps: int) -> float:
        def go() -> None:
            for _ in range(steps):
                next(self.iterator)

        return timed(go)


VARIANTS = {  # name → (config fields, plain loop?)
    "plain tutorial loop": ({"precision": "float32"}, True),
    "vae_lib, float32": ({"precision": "float32"}, False),
    "vae_lib, mixed_bfloat16": ({"precision": "mixed_bfloat16"}, False),
    "vae_lib, float32, XLA": ({"precision": "float32", "xla": True}, False),
}


def throughput(args: dict) -> dict:
    """Child: seconds per step of ``args["variants"]``, timed in alternation, the median of ``repeats``.

    With ``anatomy``, also the tutorial's batch size's plain loop and vae_lib float32 loop taken
    apart: the step on a fixed batch, and the input pipeline alone.
    """
    mnist = load_dataset()
    seconds: dict[str, dict[str, float]] = {}
    anatomy = {}
    for batch in args["batches"]:
        steps = max(1, args["images_per_run"] // batch)
        variants = [
            Variant(name, TrainConfig(batch_size=batch, **VARIANTS[name][0]), mnist, VARIANTS[name][1])
            for name in args["variants"]
        ]
        for v in variants:  # warm up: trace, compile, fill the shuffle buffer
            v.run_loop(args["warmup"])
            v.run_compute(min(50, args["warmup"]))
        times: dict[str, list[float]] = {v.name: [] for v in variants}
        for _ in range(args["repeats"]):
            for v in variants:
                times[v.name].append(v.run_loop(steps) / steps)
        seconds[str(batch)] = {name: statistics.median(t) for name, t in times.items()}
        if args["anatomy"] and batch == TUTORIAL.batch_size:
            for v in variants[:2]:
                anatomy[v.name] = (
                    seconds[str(batch)][v.name],
                    statistics.median(v.run_compute(steps) / steps for _ in range(args["repeats"])),
                    statistics.median(v.run_pipeline(steps) / steps for _ in range(args["repeats"])),
                )
    return {"seconds": seconds, "anatomy": anatomy}


def compare_throughput(
    isas: list[str],
    labels: dict[str, str],
    probes: dict[str, dict],
    batches: list[int],
    images_per_run: int,
    repeats: int,
) -> None:
    results: dict[str, dict] = {}
    for isa in isas:
        names = [n for n in VARIANTS if (isa == NATIVE or "XLA" not in n)]
        if bf16_in_eigen(probes[isa]):
            names.remove("vae_lib, mixed_bfloat16")
        args = {
            "batches": batches,
            "images_per_run": images_per_run,
            "repeats": repeats,
            "warmup": 100,
            "variants": names,
            "anatomy": isa == NATIVE,
        }
        results[isa], _ = run_child("throughput", args, child_env(isa))
        if bf16_in_eigen(probes[isa]):  # many times slower: fewer images, one run
            slow = {**args, "variants": ["vae_lib, mixed_bfloat16"], "anatomy": False}
            slow |= {"images_per_run": images_per_run // 8, "repeats": 1, "warmup": 5}
            eigen, _ = run_child("throughput", slow, child_env(isa, onednn=False))
            for batch, row in eigen["seconds"].items():
                results[isa]["seconds"][batch] |= row
    print(f"\n## Training throughput (median of {repeats} alternating runs of {images_per_run:,} images)\n")
    print(
        "ms per step, and in brackets the plain loop's time over the variant's, both measured in "
        "the same process (so with the same instruction set).\n"
    )
    print("| batch | variant | " + " | ".join(labels[isa] for isa in isas) + " |")
    print("| ---: | --- |" + " ---: |" * len(isas))
    footnote = False
    for batch in batches:
        for name in VARIANTS:
            cells = []
            for isa in isas:
                row = results[isa]["seconds"][str(batch)]
                if name not in row:
                    cells.append("—")
                    continue
                mark = ""
                if name == "vae_lib, mixed_bfloat16" and bf16_in_eigen(probes[isa]):
                    mark, footnote = "¹", True
                base = row["plain tutorial loop"]
                cells.append(f"{1e3 * row[name]:.2f} ({base / row[name]:.2f}×){mark}")
            print(f"| {batch} | {name} | " + " | ".join(cells) + " |")
    if footnote:
        print(
            "\n¹ bfloat16 without AVX-512: in a process of its own with `TF_ENABLE_ONEDNN_OPTS=0`, "
            "because TensorFlow runs bfloat16 in Eigen on a CPU without AVX-512 (under the cap "
            "oneDNN has no bfloat16 kernel); one run of 1/8 as many images. Its ratio is against "
            "the plain loop of the other process."
        )
    print(
        "\nXLA is measured natively only: its CPU compiler generates code for the whole CPU "
        "whatever oneDNN's cap."
    )
    if NATIVE in results and results[NATIVE]["anatomy"]:
        print(
            f"\n## Where a step's time goes ({labels[NATIVE]}, batch {TUTORIAL.batch_size}, float32, "
            "ms per step)\n"
        )
        print("| variant | whole loop | step on a fixed batch | input pipeline alone | loop − fixed step |")
        print("| --- | ---: | ---: | ---: | ---: |")
        for name, (loop, compute, pipeline) in results[NATIVE]["anatomy"].items():
            print(
                f"| {name} | {1e3 * loop:.2f} | {1e3 * compute:.2f} | {1e3 * pipeline:.2f} | "
                f"{1e3 * (loop - compute):.2f} |"
            )


# --- 4: a step's profile and evaluation, on this CPU as it is -------------------------------------


def step_profile(images: np.ndarray, batch: int, calls: int, repeats: int) -> None:
    """Time the parts of one training step of the tutorial's model, each compiled on its own."""
    model, optimizer = build_model(TrainConfig(batch_size=batch, precision="float32"))
    x = tf.constant(images[:batch])
    z = tf.random.stateless_normal([batch, model.latent_dim], [0, 0])
    seed = tf.constant([0, 0], tf.int64)

    def gradients() -> list[tf.Tensor]:
        with tf.GradientTape() as tape:
            loss = -tf.reduce_mean(monte_carlo_elbo(model, x, seed))
        return tape.gradient(loss, model.trainable_variables)

    def full_step() -> None:
        optimizer.apply_gradients(zip(gradients(), model.trainable_variables, strict=True))

    parts = {
        "encoder forward": tf.function(lambda: model.encoder(x)),
        "decoder forward": tf.function(lambda: model.decoder(z)),
        "loss forward (encoder, sample, decoder, ELBO)": tf.function(
            lambda: tf.reduce_mean(monte_carlo_elbo(model, x, seed))
        ),
        "loss and gradients": tf.function(gradients),
        "whole step: loss, gradients, Adam update": tf.function(full_step),
    }
    for fn in parts.values():
        fn()
    seconds = {
        name: statistics.median(
            timed(lambda fn=fn: [fn() for _ in range(calls)][-1]) / calls for _ in range(repeats)
        )
        for name, fn in parts.items()
    }
    whole = seconds["whole step: loss, gradients, Adam update"]
    print(
        f"\n## Profile of one step (native, tutorial model, batch {batch}, float32, parts compiled alone)\n"
    )
    print("| part | ms | share of the whole step |")
    print("| --- | ---: | ---: |")
    for name, t in seconds.items():
        print(f"| {name} | {1e3 * t:.2f} | {t / whole:.0%} |")


def evaluation_throughput(images: np.ndarray, iw_samples: int) -> None:
    model, _ = build_model(TUTORIAL)
    test = images[:1000]
    evaluate(model, test)  # trace
    elbo = statistics.median(timed(lambda: evaluate(model, test)) for _ in range(3))
    iw = timed(lambda: iw_bounds(model, test, iw_samples, progress=False))
    print("\n## Evaluation throughput (native, tutorial model, 1,000 test images)\n")
    print("| measure | seconds per 1,000 images |")
    print("| --- | ---: |")
    print(f"| test ELBO (1 sample) | {elbo:.2f} |")
    print(f"| importance-weighted bound L_{iw_samples} | {iw:.1f} |")


# --- 5: what each row of chapter 15 costs a step --------------------------------------------------

# The results model's recipe (results/latent50-dynamic-160), and chapter 15's changes to it
# (results/validation/ablation.sh) with the importance-weighted objective of chapter 14.
RESULTS_RECIPE = TrainConfig(
    latent_dim=50, filters=(64, 128), batch_size=128, binarization="dynamic", kl="analytic", precision="auto"
)
COSTS = Path(__file__).parents[1] / "results" / "step_costs.json"  # part 5's figures, for chapter 15
CHANGES = {
    "base: closed-form KL, N(0, I) prior": {},
    "KL estimated from the sample": {"kl": "monte_carlo"},
    "mixture prior, K = 500": {"kl": "monte_carlo", "prior": "mixture"},
    "VampPrior, K = 500": {"kl": "monte_carlo", "prior": "vamp"},
    "IWAE, k = 5": {"objective": "iwae", "iwae_samples": 5},
}


def change_costs(args: dict) -> dict:
    """Child: seconds per step of each of :data:`CHANGES`, timed in alternation, the median of ``repeats``."""
    mnist = load_dataset()
    recipe = dataclasses.replace(RESULTS_RECIPE, precision=hardware.resolve_precision("auto")[0])
    variants = [
        Variant(name, dataclasses.replace(recipe, **fields), mnist, plain=False)
        for name, fields in CHANGES.items()
    ]
    for v in variants:
        v.run_loop(args["warmup"])
    times: dict[str, list[float]] = {v.name: [] for v in variants}
    for _ in range(args["repeats"]):
        for v in variants:
            times[v.name].append(v.run_loop(args["steps"]) / args["steps"])
    seconds = {name: statistics.median(t) for name, t in times.items()}
    return {"precision": recipe.precision, "seconds": seconds}


def compare_change_costs(steps: int, repeats: int, record: Path | None = None) -> None:
    """Print part 5's table; with ``record``, also write its figures there as JSON, for chapter 15."""
    result, _ = run_child("costs", {"steps": steps, "repeats": repeats, "warmup": 20}, child_env(NATIVE))
    seconds = result["seconds"]
    if record is not None:
        measured = {"hardware": hardware.describe_hardware(), "steps": steps, "repeats": repeats}
        record.write_text(json.dumps(measured | result, indent=2) + "\n")
    base = seconds[next(iter(CHANGES))]
    epoch_steps = math.ceil(60_000 / RESULTS_RECIPE.batch_size)
    print(
        f"\n## What each change costs (native, the results model: latent 50, filters 64,128, batch "
        f"{RESULTS_RECIPE.batch_size}, {result['precision']}; median of {repeats} alternating runs of "
        f"{steps} steps)\n"
    )
    print("| change | ms per step | × the base step | s per epoch of 60,000 images |")
    print("| --- | ---: | ---: | ---: |")
    for name, t in seconds.items():
        print(f"| {name} | {1e3 * t:.1f} | {t / base:.2f} | {t * epoch_steps:.0f} |")


CHILDREN = {"probe": probe, "target": time_to_target, "throughput": throughput, "costs": change_costs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run of every part: fewer steps")
    parser.add_argument(
        "--isa", help=f"comma-separated instruction sets to measure, of {NATIVE},{','.join(ISA_LEVELS)}"
    )
    parser.add_argument(
        "--costs", action="store_true", help="only part 5: what each change of chapter 15 costs a step"
    )
    parser.add_argument("--child", nargs=2, metavar=("TASK", "ARGS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(CHILDREN[args.child[0]](json.loads(args.child[1]))))
        return

    print("# vae_lib benchmark\n")
    print(hardware.describe_hardware())
    if args.costs:
        quick = {"steps": 5, "repeats": 1} if args.quick else {"steps": 50, "repeats": 3, "record": COSTS}
        compare_change_costs(**quick)
        return
    levels = machine_isas(hardware.cpu_info().flags)
    isas = [NATIVE, *levels[1:]]
    if args.quick:
        isas = [NATIVE, *levels[-1:]] if len(levels) > 1 else [NATIVE]
    if args.isa:
        isas = args.isa.split(",")
        if unknown := [isa for isa in isas if isa != NATIVE and isa not in levels]:
            parser.error(f"this CPU cannot run {', '.join(unknown)}; it runs {NATIVE}, {', '.join(levels)}")
    labels = {isa: isa_label(isa, levels) for isa in isas}
    probes = check_isas(isas, labels)
    mnist = load_dataset()
    test_images = make_pipelines(mnist).test_images
    if args.quick:
        compare_time_to_target(isas, labels, max_epochs=1 / CHECKS_PER_EPOCH, checks=CHECKS_PER_EPOCH)
        compare_throughput(isas, labels, probes, [32], images_per_run=3200, repeats=1)
        if NATIVE in isas:
            step_profile(test_images, batch=32, calls=50, repeats=1)
            evaluation_throughput(test_images, iw_samples=10)
            compare_change_costs(steps=5, repeats=1)
        return
    # First, while this process is idle: its own TensorFlow threads must not compete with the children.
    compare_time_to_target(isas, labels, max_epochs=15, checks=CHECKS_PER_EPOCH)
    compare_throughput(isas, labels, probes, [16, 32, 128, 512], images_per_run=12800, repeats=3)
    if NATIVE in isas:
        step_profile(test_images, batch=32, calls=200, repeats=3)
        evaluation_throughput(test_images, iw_samples=100)
        compare_change_costs(steps=50, repeats=3, record=COSTS)


if __name__ == "__main__":
    main()
