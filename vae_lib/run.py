"""The run folder: where a training run keeps everything it writes, and the one module that knows the layout.

::

    DIR/config.json            the TrainConfig, so that a restart can check it is the same run
    DIR/checkpoints/epoch-NNNN weights, optimizer state and history after epoch N
    DIR/checkpoints/latest     the name of the newest complete checkpoint
    DIR/history.csv            one row per finished epoch
    DIR/metrics.json           the final figures (:class:`Metrics`)
    DIR/epoch_NNNN.png, DIR/<figure>.png, DIR/progress.gif

Every file is written completely under another name and then renamed, so a run
killed at any moment leaves the previous complete state readable.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np

from vae_lib.config import TrainConfig
from vae_lib.model import CVAE

HISTORY_FIELDS = ("epoch", "train_loss", "test_elbo", "test_reconstruction", "test_kl", "seconds")
History = list[dict[str, float]]


class ConfigMismatchError(ValueError):
    """An output folder holds a different run than the one asked for."""


@dataclass
class Metrics:
    """``metrics.json``: the figures of a run's final weights, in nats per image.

    ``protocol`` names the test set they were measured on: ``"static"`` (thresholded
    at 0.5, the tutorial's) or ``"dynamic"`` (binarized stochastically once, the papers').
    The ``iw_*`` fields are filled by ``python -m vae_lib evaluate``.
    """

    test_elbo: float
    test_reconstruction: float
    test_kl: float
    epochs: int
    seconds_per_epoch: float
    config: dict = field(default_factory=dict)
    protocol: str = "static"
    iw_samples: int | None = None  # k of the bound L_k
    iw_images: int | None = None  # how many test images the bound averages
    iw_subset: str | None = None  # which ones: "first" or "random, seed S"
    test_iw_bound: float | None = None
    iw_stderr: float | None = None  # standard error of that mean across images
    iw_images_elbo: float | None = None  # the ELBO of the same images, for the gap
    iw_seconds: float | None = None  # wall time of the bound


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


@dataclass(frozen=True)
class RunFolder:
    """The files of one training run in ``path``."""

    path: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", Path(self.path))

    @property
    def checkpoints(self) -> Path:
        return self.path / "checkpoints"

    def figure(self, name: str) -> Path:
        """Where the figure ``name`` (e.g. ``"samples.png"``) of this run goes."""
        return self.path / name

    def epoch_image(self, epoch: int) -> Path:
        return self.path / f"epoch_{epoch:04d}.png"

    def epoch_images(self) -> list[Path]:
        return sorted(self.path.glob("epoch_*.png"))

    # --- config -----------------------------------------------------------------------------

    def has_config(self) -> bool:
        return (self.path / "config.json").exists()

    def read_config(self) -> TrainConfig:
        path = self.path / "config.json"
        if not path.exists():
            raise FileNotFoundError(f"{self.path} holds no training run (no config.json)")
        return TrainConfig.from_json(json.loads(path.read_text()))

    def claim(self, config: TrainConfig) -> None:
        """Make this folder ``config``'s: refuse one that holds a run with other settings.

        Only ``epochs`` may differ: a finished run may be given more.
        """
        self.path.mkdir(parents=True, exist_ok=True)
        if self.has_config():
            diff = self.read_config().differences(config)
            if diff:
                raise ConfigMismatchError(
                    f"{self.path} holds a run with other settings (saved, asked): {diff}; "
                    "use another output folder or the same settings"
                )
        _write_atomic(self.path / "config.json", json.dumps(config.to_json(), indent=2))

    # --- checkpoints ------------------------------------------------------------------------

    def latest_checkpoint(self) -> Path | None:
        pointer = self.checkpoints / "latest"
        return self.checkpoints / pointer.read_text().strip() if pointer.exists() else None

    def save_checkpoint(
        self, epoch: int, model: CVAE, optimizer: keras.optimizers.Optimizer, history: History
    ) -> None:
        """Write epoch ``epoch`` completely, then point ``latest`` at it (atomic rename), then prune."""
        name = f"epoch-{epoch:04d}"
        tmp = self.checkpoints / f"{name}.partial"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        model.save_weights(tmp / "model.weights.h5")
        np.savez(tmp / "optimizer.npz", *[v.numpy() for v in optimizer.variables])
        (tmp / "history.json").write_text(json.dumps(history))
        shutil.rmtree(self.checkpoints / name, ignore_errors=True)
        tmp.rename(self.checkpoints / name)
        _write_atomic(self.checkpoints / "latest", name)
        for old in self.checkpoints.glob("epoch-*"):
            if old.name != name:
                shutil.rmtree(old, ignore_errors=True)

    def restore(self, model: CVAE, optimizer: keras.optimizers.Optimizer | None = None) -> History:
        """Load the latest checkpoint into ``model`` (and ``optimizer``); return its history."""
        latest = self.latest_checkpoint()
        if latest is None or not latest.is_dir():
            raise FileNotFoundError(f"no checkpoint in {self.checkpoints}")
        model.load_weights(latest / "model.weights.h5")
        if optimizer is not None:
            with np.load(latest / "optimizer.npz") as saved:
                values = [saved[f"arr_{i}"] for i in range(len(saved.files))]
            if len(values) != len(optimizer.variables):
                raise ValueError(f"{latest}/optimizer.npz does not match this optimizer")
            for variable, value in zip(optimizer.variables, values, strict=True):
                variable.assign(value)
        return json.loads((latest / "history.json").read_text())

    def load(self, precision: str | None = None) -> tuple[TrainConfig, CVAE, History]:
        """The config, trained model (latest checkpoint) and history of a finished or stopped run.

        ``precision`` overrides the compute precision the run trained with (the
        weights are float32 either way), e.g. to evaluate in ``"float32"``.
        """
        config = self.read_config()
        model = CVAE(config.latent_dim, config.filters, precision or config.precision)
        return config, model, self.restore(model)

    # --- history and metrics ----------------------------------------------------------------

    def write_history(self, history: History) -> None:
        """``history.csv``: one row per epoch, columns :data:`HISTORY_FIELDS`."""
        tmp = self.path / "history.csv.tmp"
        with tmp.open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=HISTORY_FIELDS)
            writer.writeheader()
            writer.writerows(history)
        os.replace(tmp, self.path / "history.csv")

    def read_history(self) -> History:
        with (self.path / "history.csv").open(newline="") as f:
            return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]

    def read_metrics(self) -> Metrics:
        path = self.path / "metrics.json"
        if not path.exists():
            raise FileNotFoundError(f"{self.path} has no metrics.json: the run has not finished")
        return Metrics(**json.loads(path.read_text()))

    def write_metrics(self, metrics: Metrics) -> None:
        _write_atomic(self.path / "metrics.json", json.dumps(dataclasses.asdict(metrics), indent=2) + "\n")

