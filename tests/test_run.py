"""The run folder: its lock, its config claim, its metrics file."""

from __future__ import annotations

import dataclasses
import fcntl
import os
from pathlib import Path

import pytest

from vae_lib.config import TrainConfig
from vae_lib.run import (
    BoundSummary,
    ConfigMismatchError,
    Metrics,
    RunFolder,
    RunFolderError,
)

HISTORY = [
    {
        "epoch": e,
        "train_loss": 200.0 - e,
        "test_elbo": e - 200.0,
        "test_reconstruction": e - 195.0,
    }
    | {"test_kl": 5.0, "seconds": 2.0 * e}
    for e in (1, 2)
]


def test_folder_in_use_is_refused_naming_its_holder(tmp_path: Path) -> None:
    # flock belongs to an open file, so a second open file of .lock stands in for
    # another process.
    (tmp_path / ".lock").write_text("4242\n")
    with (tmp_path / ".lock").open() as other:
        fcntl.flock(other, fcntl.LOCK_EX)
        with (
            pytest.raises(RunFolderError, match=r"in use by process 4242"),
            RunFolder(tmp_path).lock(),
        ):
            pass
    # Its holder gone, the file it left blocks nothing.
    with RunFolder(tmp_path).lock():
        assert (tmp_path / ".lock").read_text() == f"{os.getpid()}\n"
        # One layer takes the lock: a second taker, in this process too, is refused.
        with (
            pytest.raises(RunFolderError, match=f"in use by process {os.getpid()}"),
            RunFolder(tmp_path).lock(),
        ):
            pass
    assert not (tmp_path / ".lock").exists()


def test_lock_removes_the_folder_it_created_if_nothing_was_written(
    tmp_path: Path,
) -> None:
    with RunFolder(tmp_path / "new").lock():
        assert (tmp_path / "new").is_dir()
    assert not (tmp_path / "new").exists()
    with RunFolder(tmp_path / "kept").lock():
        (tmp_path / "kept" / "config.json").write_text("{}")
    assert (tmp_path / "kept" / "config.json").exists()


def test_claim_writes_the_config_and_refuses_other_settings(tmp_path: Path) -> None:
    run, config = RunFolder(tmp_path / "run"), TrainConfig(latent_dim=3)
    run.claim(config)
    assert run.read_config() == config
    run.claim(dataclasses.replace(config, epochs=20))  # a finished run may be given more epochs
    assert run.read_config().epochs == 20
    with pytest.raises(
        ConfigMismatchError,
        match=r"other settings \(saved, asked\): \{'seed': \(0, 1\)\}",
    ):
        run.claim(dataclasses.replace(config, seed=1))


def test_metrics_of_a_history_and_their_bound_round_trip(tmp_path: Path) -> None:
    config = TrainConfig(latent_dim=3)
    metrics = Metrics.of_history(HISTORY, config)
    assert (metrics.test_elbo, metrics.epochs, metrics.seconds_per_epoch) == (
        -198.0,
        2,
        3.0,
    )
    assert TrainConfig.from_json(metrics.config) == config
    bound = BoundSummary(20, 5, 50, 5000, -190.0, 1.0, -195.0, -189.5, 0.2, 3.0)
    run = RunFolder(tmp_path)
    for written in (metrics, dataclasses.replace(metrics, bound=bound)):
        run.write_metrics(written)
        read = run.read_metrics()
        # JSON has no tuples: the config comes back as TrainConfig.from_json reads it.
        assert dataclasses.replace(read, config={}) == dataclasses.replace(written, config={})
        assert TrainConfig.from_json(read.config) == config


def test_history_round_trips_through_csv(tmp_path: Path) -> None:
    run = RunFolder(tmp_path)
    run.write_history(HISTORY)
    assert run.read_history() == HISTORY
