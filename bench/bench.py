"""Benchmark: vae_lib's training against a plain re-implementation of the tutorial's loop.

Prints, from one run on one machine, side by side:

1. where a training step's time goes (input pipeline, the compiled step, the loop around it);
2. ms per step and images per second at batch 32 (the tutorial's recipe) and larger,
   with each variant's ratio to the plain loop;
3. epochs and wall time to reach the tutorial's 10-epoch test ELBO (−157 nats, latent 2)
   with the tutorial's recipe and with ours, each in its own process (for its peak memory);
4. evaluation throughput: test ELBO and the importance-weighted bound per 1,000 images.

Variants are measured in alternation, several times, and the median is kept, so that
a neighbour's load on a shared machine hits every variant alike.

    python bench/bench.py            # about 10 minutes on 2 CPU cores
    python bench/bench.py --quick    # a smoke run: fewer steps, no time-to-target
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

import vae_lib  # noqa: F401  first: it quiets TensorFlow's start-up lines

# isort: split
import keras
import numpy as np
import tensorflow as tf

from vae_lib.data import Pipelines, load_mnist, make_pipelines
from vae_lib.evaluate import evaluate, evaluate_iw_bound
from vae_lib.losses import monte_carlo_elbo
from vae_lib.model import CVAE
from vae_lib.train import TrainConfig, build_model, make_train_loop

TARGET_ELBO = -157.0  # the tutorial's test ELBO after 10 epochs
TUTORIAL = TrainConfig()  # latent 2, batch 32, Adam 1e-4, one-sample Monte Carlo KL
OURS = TrainConfig(learning_rate=2e-3, kl="analytic", precision="mixed_bfloat16")


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


# --- 1 and 2: step anatomy and throughput ---------------------------------------------------------


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


class Variant:
    """One way of training, ready to time ``steps`` steps of its full loop or its parts."""

    def __init__(self, name: str, config: TrainConfig, images: np.ndarray, plain: bool) -> None:
        self.name, self.config, self.plain = name, config, plain
        self.model, self.optimizer = build_model(config)
        if plain:
            self.dataset = plain_dataset(images, config.batch_size).repeat()
            self.step = plain_step(self.model, self.optimizer)
        else:
            labels = np.zeros(len(images), np.uint8)
            pipes = Pipelines(images, labels, images, labels, config.batch_size, config.seed, "static")
            self.dataset = pipes.train_dataset(1).repeat()
            self.loop = make_train_loop(self.model, self.optimizer, config, tf.distribute.get_strategy())
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


def throughput(images: np.ndarray, batch_sizes: list[int], images_per_run: int, repeats: int) -> None:
    print(f"\n## Training throughput (median of {repeats} alternating runs of {images_per_run:,} images)\n")
    print("| batch | variant | ms/step | images/s | vs plain loop |")
    print("| ---: | --- | ---: | ---: | ---: |")
    anatomy = {}
    for batch in batch_sizes:
        steps = images_per_run // batch
        variants = [
            Variant("plain tutorial loop", TrainConfig(batch_size=batch), images, plain=True),
            Variant("vae_lib, float32", TrainConfig(batch_size=batch), images, plain=False),
            Variant(
                "vae_lib, mixed_bfloat16",
                TrainConfig(batch_size=batch, precision="mixed_bfloat16"),
                images,
                plain=False,
            ),
            Variant("vae_lib, float32, XLA", TrainConfig(batch_size=batch, xla=True), images, plain=False),
        ]
        for v in variants:  # warm up: trace, compile, fill the shuffle buffer
            v.run_loop(100)
            v.run_compute(50)
        times = {v.name: [] for v in variants}
        for _ in range(repeats):
            for v in variants:
                times[v.name].append(v.run_loop(steps) / steps)
        base = statistics.median(times[variants[0].name])
        for v in variants:
            t = statistics.median(times[v.name])
            print(f"| {batch} | {v.name} | {1e3 * t:.2f} | {batch / t:,.0f} | {base / t:.2f}× |")
        if batch == batch_sizes[0]:
            for v in variants[:2]:
                anatomy[v.name] = (
                    statistics.median(times[v.name]),
                    statistics.median(v.run_compute(steps) / steps for _ in range(repeats)),
                    statistics.median(v.run_pipeline(steps) / steps for _ in range(repeats)),
                )
    print(f"\n## Where a step's time goes (batch {batch_sizes[0]}, float32, ms per step)\n")
    print("| variant | whole loop | step on a fixed batch | input pipeline alone | loop − fixed-batch step |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, (loop, compute, pipeline) in anatomy.items():
        print(
            f"| {name} | {1e3 * loop:.2f} | {1e3 * compute:.2f} | {1e3 * pipeline:.2f} | "
            f"{1e3 * (loop - compute):.2f} |"
        )


def step_profile(images: np.ndarray, batch: int, calls: int, repeats: int) -> None:
    """Time the parts of one training step of the tutorial's model, each compiled on its own."""
    model, optimizer = build_model(TrainConfig(batch_size=batch))
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
    print(f"\n## Profile of one step (tutorial model, batch {batch}, float32, each part compiled alone)\n")
    print("| part | ms | share of the whole step |")
    print("| --- | ---: | ---: |")
    for name, t in seconds.items():
        print(f"| {name} | {1e3 * t:.2f} | {t / whole:.0%} |")


# --- 3: time to the tutorial's ELBO ---------------------------------------------------------------


def time_to_target(recipe: str, max_epochs: int) -> dict:
    """Train with ``recipe`` until the test ELBO reaches TARGET_ELBO; runs in this (child) process."""
    images = load_mnist()
    pipes = make_pipelines(images, TUTORIAL.batch_size if recipe == "tutorial" else OURS.batch_size)
    if recipe == "tutorial":
        model, optimizer = build_model(TUTORIAL)
        step = plain_step(model, optimizer)
        dataset = plain_dataset(pipes.train_images, TUTORIAL.batch_size)

        def epoch(_: int) -> None:
            for x in dataset:
                step(x)
    else:
        model, optimizer = build_model(OURS)
        loop = make_train_loop(model, optimizer, OURS, tf.distribute.get_strategy())
        steps = -(-len(pipes.train_images) // OURS.batch_size)

        def epoch(n: int) -> None:
            float(loop(iter(pipes.train_dataset(n)), tf.constant(steps)))

    seconds, curve = 0.0, []
    for n in range(1, max_epochs + 1):
        seconds += timed(lambda n=n: epoch(n))
        elbo = evaluate(model, pipes.test_dataset(batch_size=500))["test_elbo"]
        curve.append(round(elbo, 2))
        if elbo >= TARGET_ELBO:
            break
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "recipe": recipe,
        "epochs": n,
        "seconds": seconds,
        "reached": elbo >= TARGET_ELBO,
        "curve": curve,
        "peak_mib": peak_mib,
    }


def compare_time_to_target(max_epochs: int) -> None:
    print(
        f"\n## Time to the tutorial's 10-epoch test ELBO ({TARGET_ELBO} nats, latent 2), training time only\n"
    )
    print(f"ours: {json.dumps({k: v for k, v in OURS.to_json().items() if v != getattr(TUTORIAL, k)})}\n")
    print("| recipe | epochs | seconds | reached | test ELBO per epoch | peak memory (MiB) |")
    print("| --- | ---: | ---: | --- | --- | ---: |")
    results = []
    for recipe in ("tutorial", "ours"):
        child = subprocess.run(
            [sys.executable, __file__, "--time-to-target", recipe, str(max_epochs)],
            capture_output=True,
            text=True,
            check=True,
        )
        r = json.loads(child.stdout.strip().splitlines()[-1])
        results.append(r)
        print(
            f"| {recipe} | {r['epochs']} | {r['seconds']:.0f} | {r['reached']} | "
            f"{', '.join(map(str, r['curve']))} | {r['peak_mib']:,.0f} |"
        )
    tutorial, ours = results
    print(f"\nwall-time ratio, tutorial / ours: {tutorial['seconds'] / ours['seconds']:.1f}×")


# --- 4: evaluation --------------------------------------------------------------------------------


def evaluation_throughput(images: np.ndarray, iw_samples: int) -> None:
    model, _ = build_model(TUTORIAL)
    test = images[:1000]
    evaluate(model, tf.data.Dataset.from_tensor_slices(test).batch(500))  # trace
    elbo = statistics.median(
        timed(lambda: evaluate(model, tf.data.Dataset.from_tensor_slices(test).batch(500))) for _ in range(3)
    )
    iw = timed(lambda: evaluate_iw_bound(model, test, iw_samples, progress=False))
    print("\n## Evaluation throughput (tutorial model, 1,000 test images)\n")
    print("| measure | seconds per 1,000 images |")
    print("| --- | ---: |")
    print(f"| test ELBO (1 sample) | {elbo:.2f} |")
    print(f"| importance-weighted bound L_{iw_samples} | {iw:.1f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run: fewer steps, no time-to-target")
    parser.add_argument("--time-to-target", nargs=2, metavar=("RECIPE", "MAX_EPOCHS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.time_to_target:
        print(json.dumps(time_to_target(args.time_to_target[0], int(args.time_to_target[1]))))
        return
    gpus = len(tf.config.list_physical_devices("GPU"))
    print(f"# vae_lib benchmark — TensorFlow {tf.__version__}, {gpus} GPU(s), {os.cpu_count()} CPU cores")
    mnist = load_mnist()
    images = make_pipelines(mnist).train_images
    if args.quick:
        throughput(images, [32], images_per_run=3200, repeats=1)
        step_profile(images, batch=32, calls=50, repeats=1)
        evaluation_throughput(make_pipelines(mnist).test_images, iw_samples=10)
        return
    # First, while this process is idle: its own TensorFlow threads must not compete with the children.
    compare_time_to_target(max_epochs=15)
    throughput(images, [32, 128, 512], images_per_run=12800, repeats=3)
    step_profile(images, batch=32, calls=200, repeats=3)
    evaluation_throughput(make_pipelines(mnist).test_images, iw_samples=100)


if __name__ == "__main__":
    main()
