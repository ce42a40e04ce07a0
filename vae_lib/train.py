"""Training: a compiled loop of steps, and epochs that checkpoint and resume.

A run writes into its output folder:

* ``config.json`` — the :class:`TrainConfig`, so a restart can check it is the same run;
* ``checkpoints/epoch-NNNN/`` — weights, optimizer state and history after epoch N,
  and ``checkpoints/latest`` naming the newest complete one;
* ``history.csv`` — one row per finished epoch.

Random numbers come from stateless ops seeded by (seed, step), and each epoch's
shuffle by (seed, epoch), so a run killed at any moment and restarted continues
from its last finished epoch and ends with the same history as if never stopped.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import os
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import get_args

import keras
import numpy as np
import tensorflow as tf
from tqdm import tqdm

from vae_lib.data import Binarization, Mnist, Pipelines, load_mnist, make_pipelines
from vae_lib.evaluate import evaluate
from vae_lib.losses import KlEstimator, elbo_terms
from vae_lib.model import CVAE, Precision

HISTORY_FIELDS = ("epoch", "train_loss", "test_elbo", "test_reconstruction", "test_kl", "seconds")


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides a run's numbers. Defaults are the tutorial's recipe."""

    latent_dim: int = 2
    epochs: int = 10
    batch_size: int = 32
    learning_rate: float = 1e-4
    train_size: int | None = None  # first N training images; None = all 60,000
    seed: int = 0
    binarization: Binarization = "static"
    kl: KlEstimator = "monte_carlo"  # the estimator the training loss uses
    filters: tuple[int, int] = (32, 64)
    precision: Precision = "float32"  # "mixed_bfloat16": bfloat16 compute, float32 weights
    xla: bool = False  # compile each training step with XLA
    lr_half_life: float | None = None  # epochs after which the learning rate has halved; None = constant

    def __post_init__(self) -> None:
        for name in ("latent_dim", "epochs", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if not 0.0 < self.learning_rate < math.inf:
            raise ValueError(f"learning_rate must be positive and finite, got {self.learning_rate}")
        if self.lr_half_life is not None and not 0.0 < self.lr_half_life < math.inf:
            raise ValueError(f"lr_half_life must be positive and finite, got {self.lr_half_life}")
        if self.precision not in get_args(Precision):
            raise ValueError(f"precision must be 'float32' or 'mixed_bfloat16', got {self.precision!r}")

    def to_json(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, fields: dict) -> TrainConfig:
        return cls(**{**fields, "filters": tuple(fields["filters"])})


QUICK_ENV = "VAE_QUICK"


def tutorial_run(quick: bool | None = None) -> tuple[TrainConfig, Path]:
    """The tutorial's recipe and the folder the book's chapters train it into.

    ``quick`` (default: ``$VAE_QUICK`` is ``1``) selects the reduced run that
    the book's tests execute: the first 2,000 training images for one epoch,
    in a folder of its own so that the two runs never mix.
    """
    if quick is None:
        quick = os.environ.get(QUICK_ENV) == "1"
    if quick:
        return TrainConfig(train_size=2000, epochs=1), Path("runs/tutorial-quick")
    return TrainConfig(), Path("runs/tutorial")


class NonFiniteLossError(RuntimeError):
    """The loss became NaN or infinite; the last good checkpoint is left in place."""


class ConfigMismatchError(ValueError):
    """An output folder holds a different run than the one asked for."""


History = list[dict[str, float]]
EpochHook = Callable[[int, CVAE], None]


def build_model(config: TrainConfig, steps_per_epoch: int = 1) -> tuple[CVAE, keras.optimizers.Optimizer]:
    """A fresh model and Adam optimizer, both with all their variables created.

    With ``lr_half_life`` the learning rate decays smoothly with the step count,
    halving every ``lr_half_life`` epochs of ``steps_per_epoch`` steps. It depends
    on the step alone, so a resumed run, or one given more epochs, keeps the same curve.
    """
    keras.utils.set_random_seed(config.seed)
    model = CVAE(config.latent_dim, config.filters, config.precision)
    learning_rate: float | keras.optimizers.schedules.LearningRateSchedule = config.learning_rate
    if config.lr_half_life is not None:
        learning_rate = keras.optimizers.schedules.ExponentialDecay(
            config.learning_rate, decay_steps=config.lr_half_life * steps_per_epoch, decay_rate=0.5
        )
    optimizer = keras.optimizers.Adam(learning_rate)
    optimizer.build(model.trainable_variables)
    return model, optimizer


# --- checkpoints -------------------------------------------------------------------------------


def _latest_dir(out_dir: Path) -> Path | None:
    pointer = out_dir / "checkpoints" / "latest"
    return out_dir / "checkpoints" / pointer.read_text().strip() if pointer.exists() else None


def save_checkpoint(
    out_dir: Path, epoch: int, model: CVAE, optimizer: keras.optimizers.Optimizer, history: History
) -> None:
    """Write epoch ``epoch`` completely, then point ``latest`` at it (atomic rename), then prune."""
    root = out_dir / "checkpoints"
    name = f"epoch-{epoch:04d}"
    tmp = root / f"{name}.partial"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    model.save_weights(tmp / "model.weights.h5")
    np.savez(tmp / "optimizer.npz", *[v.numpy() for v in optimizer.variables])
    (tmp / "history.json").write_text(json.dumps(history))
    shutil.rmtree(root / name, ignore_errors=True)
    tmp.rename(root / name)
    _write_atomic(root / "latest", name)
    for old in root.glob("epoch-*"):
        if old.name != name:
            shutil.rmtree(old, ignore_errors=True)


def restore_checkpoint(
    out_dir: Path, model: CVAE, optimizer: keras.optimizers.Optimizer | None = None
) -> History:
    """Load the latest checkpoint of ``out_dir`` into ``model`` (and ``optimizer``); return its history."""
    latest = _latest_dir(out_dir)
    if latest is None or not latest.is_dir():
        raise FileNotFoundError(f"no checkpoint in {out_dir}/checkpoints")
    model.load_weights(latest / "model.weights.h5")
    if optimizer is not None:
        with np.load(latest / "optimizer.npz") as saved:
            values = [saved[f"arr_{i}"] for i in range(len(saved.files))]
        if len(values) != len(optimizer.variables):
            raise ValueError(f"{latest}/optimizer.npz does not match this optimizer")
        for variable, value in zip(optimizer.variables, values, strict=True):
            variable.assign(value)
    return json.loads((latest / "history.json").read_text())


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def write_history_csv(path: Path, history: History) -> None:
    """``history.csv``: one row per epoch, columns :data:`HISTORY_FIELDS`."""
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=HISTORY_FIELDS)
        writer.writeheader()
        writer.writerows(history)
    os.replace(tmp, path)


def read_history_csv(path: str | os.PathLike[str]) -> History:
    with open(path, newline="") as f:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]


def load_run(out_dir: str | os.PathLike[str]) -> tuple[TrainConfig, CVAE, History]:
    """The config, trained model (latest checkpoint) and history of a finished or stopped run."""
    out_dir = Path(out_dir)
    config_path = out_dir / "config.json"
    if not config_path.exists():
        raise FileNotFoundError(f"{out_dir} holds no training run (no config.json)")
    config = TrainConfig.from_json(json.loads(config_path.read_text()))
    model = CVAE(config.latent_dim, config.filters, config.precision)
    history = restore_checkpoint(out_dir, model)
    return config, model, history


def _check_same_run(out_dir: Path, config: TrainConfig) -> None:
    """Refuse to resume a folder trained with other settings (``epochs`` may grow)."""
    path = out_dir / "config.json"
    if path.exists():
        saved = TrainConfig.from_json(json.loads(path.read_text()))
        if dataclasses.replace(saved, epochs=config.epochs) != config:
            diff = {
                k: (getattr(saved, k), getattr(config, k))
                for k in config.to_json()
                if k != "epochs" and getattr(saved, k) != getattr(config, k)
            }
            raise ConfigMismatchError(
                f"{out_dir} holds a run with other settings (saved, asked): {diff}; "
                "use another output folder or the same settings"
            )
    _write_atomic(path, json.dumps(config.to_json(), indent=2))


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

    ``strategy`` (e.g. ``tf.distribute.MirroredStrategy()``) spreads each
    batch over several devices; by default one device is used. The loop reads
    the loss, updates the progress bar and checks for NaN every
    ``steps_per_call`` steps; the results do not depend on it.

    Raises :class:`NonFiniteLossError` if the loss stops being finite, and
    :class:`ConfigMismatchError` if ``out_dir`` holds a run with other settings.
    """
    data: Pipelines = make_pipelines(
        mnist if mnist is not None else load_mnist(),
        config.batch_size,
        config.seed,
        config.train_size,
        config.binarization,
    )
    n_train = len(data.train_images)
    steps_per_epoch = math.ceil(n_train / config.batch_size)
    strategy = strategy or tf.distribute.get_strategy()
    with strategy.scope():
        model, optimizer = build_model(config, steps_per_epoch)
    history: History = []
    out = Path(out_dir) if out_dir is not None else None
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        _check_same_run(out, config)
        if _latest_dir(out) is not None:
            history = restore_checkpoint(out, model, optimizer)
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
                _raise_if_not_finite(mean_loss, epoch, done, out)
                bar.set_postfix(loss=f"{mean_loss:.1f}", refresh=False)
                bar.update(n)
        seconds = time.perf_counter() - start
        row = {"epoch": epoch, "train_loss": total / n_train, "seconds": seconds}
        row |= evaluate(model, data.test_dataset(batch_size=500))
        _raise_if_not_finite(row["test_elbo"], epoch, steps_per_epoch, out)
        history.append({k: row[k] for k in HISTORY_FIELDS})
        if out is not None:
            save_checkpoint(out, epoch, model, optimizer, history)
            write_history_csv(out / "history.csv", history)
        if progress:
            tqdm.write(
                f"epoch {epoch:3d}  test ELBO {row['test_elbo']:9.2f} nats  "
                f"(reconstruction {row['test_reconstruction']:8.2f}, KL {row['test_kl']:6.2f})  "
                f"{seconds:6.1f} s"
            )
        for hook in hooks:
            hook(epoch, model)
    return model, history


def _raise_if_not_finite(value: float, epoch: int, step: int, out: Path | None) -> None:
    if not math.isfinite(value):
        kept = f"; the last good checkpoint is kept in {out / 'checkpoints'}" if out else ""
        raise NonFiniteLossError(
            f"loss became {value} in epoch {epoch} by step {step}: training stopped{kept}. "
            "Try a lower --learning-rate."
        )
