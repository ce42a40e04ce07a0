"""Training: the tutorial's step (loss, gradient, Adam), and epochs that checkpoint and resume.

:func:`train_step` is the whole idea. :func:`train` runs it over the epochs of a
:class:`~vae_lib.config.TrainConfig`, compiled many steps at a time, and with an output
folder checkpoints every epoch, resumes a run that was stopped, and writes the report
(:mod:`vae_lib.run` owns the layout, :mod:`vae_lib.report` the figures). Random numbers
come from stateless seeds (:mod:`vae_lib.streams`), so a run killed at any moment and
restarted ends with the same history as if never stopped.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import NamedTuple

import keras
import tensorflow as tf
from tqdm import tqdm

from vae_lib import hardware, report, streams
from vae_lib.config import TrainConfig
from vae_lib.data import LabelledImages, held_out, load_dataset, make_pipelines
from vae_lib.evaluate import evaluate
from vae_lib.losses import TrainingLoss
from vae_lib.model import CVAE, model_for
from vae_lib.run import HISTORY_FIELDS, History, Metrics, RunFolder


class NonFiniteLossError(RuntimeError):
    """The loss became NaN or infinite; the last good checkpoint is left in place."""


EpochHook = Callable[[int, CVAE], None]
NEGATIVE_ELBO = TrainingLoss()  # the tutorial's loss: −ELBO, its KL a one-sample estimate


def train_step(
    model: CVAE,
    optimizer: keras.optimizers.Optimizer,
    x: tf.Tensor,
    seed: tf.Tensor,
    loss_fn: TrainingLoss = NEGATIVE_ELBO,
    **batch: tf.Tensor,
) -> tf.Tensor:
    """One Adam update on the batch ``x`` ``[B, 28, 28, 1]``; returns its loss in nats per image.

    The loss is the mean −ELBO (with its default) or another :class:`TrainingLoss`;
    ``batch`` passes it the labels ``y`` of a conditional model and a warm-up's ``beta``.
    """
    with tf.GradientTape() as tape:
        loss = loss_fn(model, x, seed, **batch)
    gradients = tape.gradient(loss, model.trainable_variables)
    optimizer.apply_gradients(zip(gradients, model.trainable_variables, strict=True))
    return loss


def build_model(config: TrainConfig, steps_per_epoch: int = 1) -> tuple[CVAE, keras.optimizers.Optimizer]:
    """A fresh model and Adam optimizer, both with all their variables created.

    ``config.precision`` must be resolved (``train`` does it). With ``lr_half_life`` the
    learning rate decays smoothly with the step count, halving every ``lr_half_life``
    epochs of ``steps_per_epoch`` steps: it depends on the step alone, so a resumed run,
    or one given more epochs, keeps the same curve.
    """
    if config.precision == "auto":
        raise ValueError("resolve the precision first (vae_lib.hardware.resolve_precision)")
    keras.utils.set_random_seed(config.seed)
    model = model_for(config, config.precision)
    learning_rate: float | keras.optimizers.schedules.LearningRateSchedule = config.learning_rate
    if config.lr_half_life is not None:
        learning_rate = keras.optimizers.schedules.ExponentialDecay(
            config.learning_rate, decay_steps=config.lr_half_life * steps_per_epoch, decay_rate=0.5
        )
    optimizer = keras.optimizers.Adam(learning_rate)
    optimizer.build(model.trainable_variables)
    return model, optimizer


def compile_steps(
    model: CVAE, optimizer: keras.optimizers.Optimizer, config: TrainConfig, steps_per_epoch: int = 1
) -> Callable[[Iterator, tf.Tensor], tf.Tensor]:
    """``steps(batches, n)``: :func:`train_step` on the next ``n`` batches, in one TensorFlow graph.

    Returns the summed loss of their images, nats. Python is visited once per call,
    not once per step as in the tutorial's loop. Step s draws its ε from (seed, NOISE, s),
    so a step is a pure function of the weights, the optimizer state and the batch. A
    conditional model's batches are (images, labels). With ``config.kl_warmup`` β grows
    linearly with the step, reaching ``config.beta`` after that many epochs of
    ``steps_per_epoch`` steps. With ``config.xla`` each step is compiled by XLA.
    """
    step = tf.function(train_step, jit_compile=config.xla)
    loss_fn = TrainingLoss.of(config)
    warmup_steps = None if config.kl_warmup is None else config.kl_warmup * steps_per_epoch

    @tf.function
    def steps(batches: Iterator, n: tf.Tensor) -> tf.Tensor:
        total = tf.constant(0.0)
        for _ in tf.range(n):
            batch = {}
            if config.conditional:
                x, batch["y"] = next(batches)
            else:
                x = next(batches)
            if warmup_steps is not None:
                done = tf.cast(optimizer.iterations + 1, tf.float32) / warmup_steps
                batch["beta"] = config.beta * tf.minimum(1.0, done)
            seed = streams.tf_seed(config.seed, streams.Stream.NOISE, optimizer.iterations)
            total += step(model, optimizer, x, seed, loss_fn, **batch) * tf.cast(tf.shape(x)[0], tf.float32)
        return total

    return steps


class Trained(NamedTuple):
    """What :func:`train` trained."""

    config: TrainConfig  # as trained: its precision resolved
    model: CVAE
    history: History  # one dict per epoch, keys HISTORY_FIELDS
    epochs_run: int  # by this call: 0 when the folder held the finished run already


def train(
    config: TrainConfig,
    run_folder: str | Path | None = None,
    mnist: LabelledImages | None = None,
    hooks: Sequence[EpochHook] = (),
    progress: bool = True,
    steps_per_call: int = 50,
) -> Trained:
    """Train a CVAE; with ``run_folder``, checkpoint every epoch there and resume what it holds.

    A folder that holds part of this run is resumed from its last finished epoch. With a
    folder, the run writes one image per epoch and, when it has trained, its figures and
    ``metrics.json`` (:mod:`vae_lib.report`); it holds the folder's lock throughout
    (:meth:`~vae_lib.run.RunFolder.lock`). Each hook is called as ``hook(epoch, model)``
    after epoch 0 (the untrained model, on a fresh run) and after every finished epoch.
    ``config.precision="auto"`` is resolved for this hardware first. The loop reads the
    loss, updates the progress bar and checks for NaN every ``steps_per_call`` steps;
    the results do not depend on it.

    Raises :class:`NonFiniteLossError` if the loss stops being finite,
    :class:`~vae_lib.run.ConfigMismatchError` if ``run_folder`` holds a run with other
    settings, and :class:`~vae_lib.run.RunFolderError` if another process is writing
    into it or a file there cannot be read or written.
    """
    run = RunFolder(run_folder) if run_folder is not None else None
    with run.lock() if run is not None else contextlib.nullcontext():
        saved = run.read_config().precision if run is not None and run.has_config() else None
        precision, reason = hardware.resolve_precision(config.precision, saved=saved)
        if progress:
            tqdm.write(f"precision: {reason}")
        config = dataclasses.replace(config, precision=precision)
        mnist = load_dataset(config.dataset) if mnist is None else mnist
        trained = _train(config, run, mnist, hooks, progress, steps_per_call)
        if run is not None and trained.epochs_run:
            report.write_figures(run, trained.model, trained.history, mnist, config)
            run.write_metrics(Metrics.of_history(trained.history, config))
        # else: nothing was trained, and metrics.json may hold evaluate's figures: keep them.
        return trained


def _train(
    config: TrainConfig,
    run: RunFolder | None,
    mnist: LabelledImages,
    hooks: Sequence[EpochHook],
    progress: bool,
    steps_per_call: int,
) -> Trained:
    data = make_pipelines(
        held_out(mnist, config.validation),
        config.batch_size,
        config.seed,
        config.train_size,
        config.binarization,
    )
    n_train = len(data.train_bytes)  # not train_images, which builds a float32 copy
    steps_per_epoch = math.ceil(n_train / config.batch_size)
    model, optimizer = build_model(config, steps_per_epoch)
    history: History = []
    if run is not None:
        run.claim(config)
        hooks = [report.EpochImages(run, config.seed), *hooks]
        if run.latest_checkpoint() is not None:
            history = run.restore(model, optimizer, fallback=True)
    if not history:
        for hook in hooks:
            hook(0, model)
    done_before = len(history)

    steps = compile_steps(model, optimizer, config, steps_per_epoch)
    measure = "ELBO" if config.objective == "elbo" else "log p(x|z=μ)"
    for epoch in range(done_before + 1, config.epochs + 1):
        start = time.perf_counter()
        batches = iter(data.train_dataset(epoch, labels=config.conditional))
        total, done = 0.0, 0
        with tqdm(
            total=steps_per_epoch,
            desc=f"epoch {epoch}/{config.epochs}",
            disable=not progress,
            unit="step",
            leave=False,
        ) as bar:
            while done < steps_per_epoch:
                n = min(steps_per_call, steps_per_epoch - done)
                total += float(steps(batches, tf.constant(n)))
                done += n
                mean_loss = total / min(done * config.batch_size, n_train)
                _raise_if_not_finite(mean_loss, epoch, done, run)
                bar.set_postfix(loss=f"{mean_loss:.1f}", refresh=False)
                bar.update(n)
        seconds = time.perf_counter() - start
        row = {"epoch": epoch, "train_loss": total / n_train, "seconds": seconds}
        row |= evaluate(model, data.test_images, labels=data.test_labels, objective=config.objective)
        _raise_if_not_finite(row["test_elbo"], epoch, steps_per_epoch, run)
        history.append({k: row[k] for k in HISTORY_FIELDS})
        if run is not None:
            run.save_checkpoint(epoch, model, optimizer, history)
            run.write_history(history)
        if progress:
            tqdm.write(
                f"epoch {epoch:3d}  {config.judged_on} {measure} {row['test_elbo']:9.2f} nats  "
                f"(reconstruction {row['test_reconstruction']:8.2f}, KL {row['test_kl']:6.2f})  "
                f"{seconds:6.1f} s"
            )
        for hook in hooks:
            hook(epoch, model)
    return Trained(config, model, history, len(history) - done_before)


def _raise_if_not_finite(value: float, epoch: int, step: int, run: RunFolder | None) -> None:
    if not math.isfinite(value):
        kept = (
            f"; the last good checkpoint is kept in {run.checkpoints}"
            if run and run.latest_checkpoint()
            else ""
        )
        raise NonFiniteLossError(
            f"loss became {value} in epoch {epoch} by step {step}: training stopped{kept}. "
            "Try a lower --learning-rate."
        )
