"""Training: a compiled loop of steps, and epochs that checkpoint and resume.

A run with an output folder writes its config, a checkpoint per epoch and its
history there (:mod:`vae_lib.run` owns the layout). Random numbers come from
stateless ops seeded by (seed, step), and each epoch's shuffle by (seed, epoch),
so a run killed at any moment and restarted continues from its last finished
epoch and ends with the same history as if never stopped.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import time
from collections.abc import Callable, Iterator, Sequence

import keras
import tensorflow as tf
from tqdm import tqdm

from vae_lib import hardware
from vae_lib.config import ConfigError, TrainConfig
from vae_lib.data import Mnist, Pipelines, held_out, load_mnist, make_pipelines
from vae_lib.evaluate import evaluate
from vae_lib.losses import elbo_terms
from vae_lib.model import CVAE
from vae_lib.run import HISTORY_FIELDS, History, RunFolder


class NonFiniteLossError(RuntimeError):
    """The loss became NaN or infinite; the last good checkpoint is left in place."""


EpochHook = Callable[[int, CVAE], None]


def build_model(config: TrainConfig, steps_per_epoch: int = 1) -> tuple[CVAE, keras.optimizers.Optimizer]:
    """A fresh model and Adam optimizer, both with all their variables created.

    With ``lr_half_life`` the learning rate decays smoothly with the step count,
    halving every ``lr_half_life`` epochs of ``steps_per_epoch`` steps. It depends
    on the step alone, so a resumed run, or one given more epochs, keeps the same curve.
    A ``precision`` of ``"auto"`` is resolved for this machine (:func:`resolve_precision`).
    """
    keras.utils.set_random_seed(config.seed)
    if config.precision == "auto":  # train() resolves it before; a direct caller may not have
        config = resolve_precision(config)
    model = CVAE(config.latent_dim, config.filters, config.precision, config.blocks)
    learning_rate: float | keras.optimizers.schedules.LearningRateSchedule = config.learning_rate
    if config.lr_half_life is not None:
        learning_rate = keras.optimizers.schedules.ExponentialDecay(
            config.learning_rate, decay_steps=config.lr_half_life * steps_per_epoch, decay_rate=0.5
        )
    optimizer = keras.optimizers.Adam(learning_rate)
    optimizer.build(model.trainable_variables)
    return model, optimizer


def resolve_precision(
    config: TrainConfig, run: RunFolder | None = None, say: Callable[[str], None] | None = None
) -> TrainConfig:
    """``config`` with its precision resolved for this hardware, saying why through ``say``.

    ``"auto"`` picks mixed_bfloat16 where the hardware computes bfloat16 natively,
    else float32 (:func:`vae_lib.hardware.resolve_precision`). A run being resumed
    keeps the precision it was started with, so its numbers do not change with
    the machine; where that is not what auto would pick here, ``say`` tells.
    """
    precision, reason = hardware.resolve_precision(
        config.precision, hardware.cpu_info().flags, hardware.gpu_info()
    )
    saved = run.read_config() if run is not None and run.has_config() else None
    if saved is not None and config.precision == "auto" and saved.precision != precision:
        reason = (
            f"resuming with the run's own precision {saved.precision} "
            f"(auto would pick {precision} on this hardware)"
        )
        precision = saved.precision
    if say is not None:
        say(f"precision: {reason}")
    return dataclasses.replace(config, precision=precision)


def make_strategy(devices: int) -> tf.distribute.Strategy:
    """One device: TensorFlow's default; more: a batch split over the first ``devices`` GPUs."""
    if devices == 1:
        return tf.distribute.get_strategy()
    gpus = [d.name for d in tf.config.list_logical_devices("GPU")]
    if len(gpus) < devices:
        raise ConfigError("devices", f"{devices} GPUs asked for, {len(gpus)} visible")
    return tf.distribute.MirroredStrategy(gpus[:devices])


# --- the compiled loop ----------------------------------------------------------------------------


def make_train_loop(
    model: CVAE,
    optimizer: keras.optimizers.Optimizer,
    config: TrainConfig,
    strategy: tf.distribute.Strategy,
) -> Callable[[Iterator, tf.Tensor], tf.Tensor]:
    """A compiled loop: ``n`` Adam updates on the next ``n`` batches of ``iterator``.

    Returns the summed loss (−ELBO, nats) of those batches. Running many steps
    per call keeps Python out of the inner loop; the tutorial's loop pays a
    Python round trip for every step. Each step's ε is seeded by (seed, step
    number, replica), so a step is a pure function of weights, optimizer state
    and batch.
    """
    seed = tf.constant(config.seed, tf.int64)

    @tf.function(jit_compile=config.xla)
    def replica_step(x: tf.Tensor) -> tf.Tensor:
        context = tf.distribute.get_replica_context()
        step_seed = tf.random.experimental.stateless_fold_in(
            tf.stack([seed, tf.cast(optimizer.iterations.value, tf.int64)]), context.replica_id_in_sync_group
        )
        # The mean over the whole batch, wherever its parts are: replicas' gradients are summed.
        batch_size = context.all_reduce("sum", tf.cast(tf.shape(x)[0], tf.float32))
        with tf.GradientTape() as tape:
            negative_elbo = -elbo_terms(model, x, step_seed, kl=config.kl).elbo
            loss = tf.reduce_sum(negative_elbo) / batch_size
        gradients = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables, strict=True))
        return tf.reduce_sum(negative_elbo)

    @tf.function
    def train_steps(iterator: Iterator, n: tf.Tensor) -> tf.Tensor:
        total = tf.constant(0.0)
        for _ in tf.range(n):
            per_replica = strategy.run(replica_step, args=(next(iterator),))
            total += strategy.reduce("sum", per_replica, axis=None)
        return total

    return train_steps


# --- the loop ----------------------------------------------------------------------------------


def train(
    config: TrainConfig,
    out_dir: str | os.PathLike[str] | None = None,
    mnist: Mnist | None = None,
    hooks: Sequence[EpochHook] = (),
    progress: bool = True,
    strategy: tf.distribute.Strategy | None = None,
    steps_per_call: int = 50,
) -> tuple[CVAE, History]:
    """Train a CVAE; return it and its history (one dict per epoch, keys :data:`HISTORY_FIELDS`).

    With ``out_dir`` every finished epoch is checkpointed there, and a folder
    that already holds part of this run is resumed from its last finished
    epoch. Each hook is called as ``hook(epoch, model)`` after epoch 0 (the
    untrained model, on a fresh run) and after every finished epoch.

    ``config.devices`` > 1 spreads each batch over that many GPUs; a
    ``strategy`` given instead must have that many replicas. The loop reads
    the loss, updates the progress bar and checks for NaN every
    ``steps_per_call`` steps; the results do not depend on it.

    ``config.precision="auto"`` is resolved first (:func:`resolve_precision`).

    Raises :class:`NonFiniteLossError` if the loss stops being finite,
    :class:`~vae_lib.run.ConfigMismatchError` if ``out_dir`` holds a run with other
    settings, and :class:`~vae_lib.run.RunFolderError` if another process is writing
    into it (:meth:`~vae_lib.run.RunFolder.lock`) or a file there cannot be read or written.
    """
    run = RunFolder(out_dir) if out_dir is not None else None
    with run.lock() if run is not None else contextlib.nullcontext():
        return _train(config, run, mnist, hooks, progress, strategy, steps_per_call)


def _train(
    config: TrainConfig,
    run: RunFolder | None,
    mnist: Mnist | None,
    hooks: Sequence[EpochHook],
    progress: bool,
    strategy: tf.distribute.Strategy | None,
    steps_per_call: int,
) -> tuple[CVAE, History]:
    config = resolve_precision(config, run, say=tqdm.write if progress else None)
    if mnist is None:
        mnist = load_mnist(dataset=config.dataset)
    data: Pipelines = make_pipelines(
        held_out(mnist, config.validation),
        config.batch_size,
        config.seed,
        config.train_size,
        config.binarization,
    )
    n_train = len(data.train_bytes)  # not train_images, which builds a float32 copy
    steps_per_epoch = math.ceil(n_train / config.batch_size)
    if strategy is None:
        strategy = make_strategy(config.devices)
    elif strategy.num_replicas_in_sync != config.devices:
        replicas = strategy.num_replicas_in_sync
        raise ConfigError("devices", f"{config.devices}, but the strategy given has {replicas} replicas")
    with strategy.scope():
        model, optimizer = build_model(config, steps_per_epoch)
    history: History = []
    if run is not None:
        run.claim(config)
        if run.latest_checkpoint() is not None:
            history = run.restore(model, optimizer, fallback=True)
    if not history:
        for hook in hooks:
            hook(0, model)

    train_steps = make_train_loop(model, optimizer, config, strategy)
    for epoch in range(len(history) + 1, config.epochs + 1):
        start = time.perf_counter()
        batches = iter(strategy.experimental_distribute_dataset(data.train_dataset(epoch)))
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
                total += float(train_steps(batches, tf.constant(n)))
                done += n
                mean_loss = total / min(done * config.batch_size, n_train)
                _raise_if_not_finite(mean_loss, epoch, done, run)
                bar.set_postfix(loss=f"{mean_loss:.1f}", refresh=False)
                bar.update(n)
        seconds = time.perf_counter() - start
        row = {"epoch": epoch, "train_loss": total / n_train, "seconds": seconds}
        row |= evaluate(model, data.test_images)
        _raise_if_not_finite(row["test_elbo"], epoch, steps_per_epoch, run)
        history.append({k: row[k] for k in HISTORY_FIELDS})
        if run is not None:
            run.save_checkpoint(epoch, model, optimizer, history)
            run.write_history(history)
        if progress:
            tqdm.write(
                f"epoch {epoch:3d}  {config.judged_on} ELBO {row['test_elbo']:9.2f} nats  "
                f"(reconstruction {row['test_reconstruction']:8.2f}, KL {row['test_kl']:6.2f})  "
                f"{seconds:6.1f} s"
            )
        for hook in hooks:
            hook(epoch, model)
    return model, history


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
