from __future__ import annotations

import dataclasses
import fcntl
import json
import math
import os
from pathlib import Path

import numpy as np
import pytest

from vae_lib.config import ConfigError, TrainConfig, tutorial_run
from vae_lib.data import Mnist
from vae_lib.model import CVAE
from vae_lib.run import HISTORY_FIELDS, ConfigMismatchError, RunFolder, RunFolderError
from vae_lib.train import NonFiniteLossError, build_model, train

QUICK = TrainConfig(epochs=3, batch_size=64, learning_rate=1e-3, seed=3, precision="float32")


def numbers(history: list[dict]) -> list[dict]:
    """A history without its wall-clock column, the one thing that may differ between runs."""
    return [{k: v for k, v in row.items() if k != "seconds"} for row in history]


class StopAfter:
    """A hook that interrupts training once ``epoch`` is finished, like Ctrl-C would."""

    def __init__(self, epoch: int) -> None:
        self.epoch = epoch

    def __call__(self, epoch: int, model: CVAE) -> None:
        if epoch == self.epoch:
            raise KeyboardInterrupt


@pytest.fixture(scope="module")
def reference(small_mnist: Mnist, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, CVAE, list]:
    out = tmp_path_factory.mktemp("reference")
    model, history = train(QUICK, out, small_mnist, progress=False)
    return out, model, history


def test_history_has_a_finite_row_per_epoch_and_learns(reference: tuple) -> None:
    _, _, history = reference
    assert [row["epoch"] for row in history] == [1, 2, 3]
    assert all(set(row) == set(HISTORY_FIELDS) for row in history)
    assert all(math.isfinite(v) for row in history for v in row.values())
    assert history[-1]["test_elbo"] > history[0]["test_elbo"] + 10
    assert all(row["test_elbo"] < 0 for row in history)
    for row in history:
        assert row["test_elbo"] == pytest.approx(row["test_reconstruction"] - row["test_kl"])


def test_run_folder_holds_config_history_and_checkpoint(reference: tuple) -> None:
    out, model, history = reference
    assert RunFolder(out).read_history() == history
    assert json.loads((out / "config.json").read_text())["seed"] == 3
    assert (out / "checkpoints" / "latest").read_text() == "epoch-0003"
    # The one before the latest is kept, to fall back to should the latest be damaged.
    assert [p.name for p in RunFolder(out).checkpoint_folders()] == ["epoch-0003", "epoch-0002"]
    assert not (out / ".lock").exists()
    config, loaded, loaded_history = RunFolder(out).load()
    assert config == QUICK
    assert loaded_history == history
    for a, b in zip(model.get_weights(), loaded.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_same_seed_gives_the_same_numbers(reference: tuple, small_mnist: Mnist) -> None:
    _, model, history = reference
    again_model, again = train(QUICK, None, small_mnist, progress=False)
    assert numbers(again) == numbers(history)
    np.testing.assert_array_equal(again_model.get_weights()[0], model.get_weights()[0])


def test_another_seed_gives_other_numbers(reference: tuple, small_mnist: Mnist) -> None:
    _, _, history = reference
    _, other = train(dataclasses.replace(QUICK, seed=4, epochs=1), None, small_mnist, progress=False)
    assert other[0]["test_elbo"] != history[0]["test_elbo"]


def test_interrupted_run_resumes_to_the_same_history(
    reference: tuple, small_mnist: Mnist, tmp_path: Path
) -> None:
    _, model, history = reference
    with pytest.raises(KeyboardInterrupt):
        train(QUICK, tmp_path, small_mnist, hooks=[StopAfter(1)], progress=False)
    assert len(RunFolder(tmp_path).read_history()) == 1
    # A kill during the next checkpoint's write leaves a partial folder behind; it must be ignored.
    (tmp_path / "checkpoints" / "epoch-0002.partial").mkdir()
    resumed_model, resumed = train(QUICK, tmp_path, small_mnist, progress=False)
    assert numbers(resumed) == numbers(history)
    assert numbers(RunFolder(tmp_path).read_history()) == numbers(history)
    for a, b in zip(model.get_weights(), resumed_model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_finished_run_is_loaded_not_retrained(reference: tuple, small_mnist: Mnist) -> None:
    out, _, history = reference
    calls: list[int] = []
    _, again = train(
        QUICK, out, small_mnist, hooks=[lambda epoch, model: calls.append(epoch)], progress=False
    )
    assert again == history
    assert calls == []


def test_more_epochs_continue_a_finished_run(small_mnist: Mnist, tmp_path: Path) -> None:
    one = dataclasses.replace(QUICK, epochs=1)
    train(one, tmp_path, small_mnist, progress=False)
    _, history = train(dataclasses.replace(one, epochs=2), tmp_path, small_mnist, progress=False)
    assert [row["epoch"] for row in history] == [1, 2]


def test_folder_of_another_run_is_refused(reference: tuple, small_mnist: Mnist) -> None:
    out, _, _ = reference
    with pytest.raises(ConfigMismatchError, match=r"'latent_dim': \(2, 5\)"):
        train(dataclasses.replace(QUICK, latent_dim=5), out, small_mnist, progress=False)


def test_nan_loss_stops_the_run_and_keeps_the_last_good_checkpoint(
    small_mnist: Mnist, tmp_path: Path
) -> None:
    def poison(epoch: int, model: CVAE) -> None:
        if epoch == 1:
            weights = model.decoder.get_weights()
            weights[0][:] = np.nan
            model.decoder.set_weights(weights)

    with pytest.raises(NonFiniteLossError, match=r"loss became nan in epoch 2 .*last good checkpoint"):
        train(QUICK, tmp_path, small_mnist, hooks=[poison], progress=False)
    assert (tmp_path / "checkpoints" / "latest").read_text() == "epoch-0001"
    assert len(RunFolder(tmp_path).read_history()) == 1
    _, model, _ = RunFolder(tmp_path).load()
    assert all(np.isfinite(w).all() for w in model.get_weights())


def test_folder_in_use_is_refused_naming_its_holder(tmp_path: Path) -> None:
    # flock belongs to an open file, so a second open file of .lock stands in for another process.
    (tmp_path / ".lock").write_text("4242\n")
    with (tmp_path / ".lock").open() as other:
        fcntl.flock(other, fcntl.LOCK_EX)
        with pytest.raises(RunFolderError, match=r"in use by process 4242"), RunFolder(tmp_path).lock():
            pass
    # Its holder gone, the file it left blocks nothing; the lock is re-entrant within a process.
    with RunFolder(tmp_path).lock(), RunFolder(tmp_path).lock():
        assert (tmp_path / ".lock").read_text() == f"{os.getpid()}\n"
    assert not (tmp_path / ".lock").exists()


def test_lock_removes_the_folder_it_created_if_nothing_was_written(tmp_path: Path) -> None:
    with RunFolder(tmp_path / "new").lock():
        assert (tmp_path / "new").is_dir()
    assert not (tmp_path / "new").exists()
    with RunFolder(tmp_path / "kept").lock():
        (tmp_path / "kept" / "config.json").write_text("{}")
    assert (tmp_path / "kept" / "config.json").exists()


def test_tutorial_run_is_the_recipe_or_its_quick_version(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VAE_QUICK", raising=False)
    assert tutorial_run() == (TrainConfig(precision="float32"), Path("runs/tutorial"))
    monkeypatch.setenv("VAE_QUICK", "1")
    config, folder = tutorial_run()
    assert (config.train_size, config.epochs, folder) == (2000, 1, Path("runs/tutorial-quick"))
    assert tutorial_run(quick=False)[0] == TrainConfig(precision="float32")


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"epochs": 0}, "epochs: 0 is not positive"),
        ({"learning_rate": float("nan")}, "learning_rate: nan is not positive and finite"),
        ({"precision": "float16"}, "precision: 'float16' is not one of auto, float32, mixed_bfloat16"),
        ({"kl": "exact"}, "kl: 'exact' is not one of monte_carlo, analytic"),
        ({"binarization": "grey"}, "binarization: 'grey' is not one of static, dynamic"),
        ({"filters": (32,)}, "filters: 32 is not two positive channel counts"),
        ({"lr_half_life": 0.0}, "lr_half_life: 0.0 is not positive and finite"),
        ({"devices": 0}, "devices: 0 is not positive"),
        ({"dataset": "cifar10"}, "dataset: 'cifar10' is not one of mnist, fashion_mnist"),
    ],
)
def test_bad_config_is_refused(fields: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        TrainConfig(**fields)


def test_config_round_trips_through_json_and_old_files_get_new_defaults() -> None:
    config = TrainConfig(latent_dim=5, filters=(8, 16), lr_half_life=2.5)
    assert TrainConfig.from_json(config.to_json()) == config
    old = {k: v for k, v in config.to_json().items() if k not in ("lr_half_life", "devices")}
    assert TrainConfig.from_json(old) == dataclasses.replace(config, lr_half_life=None)


def test_learning_rate_halves_every_half_life() -> None:
    _, optimizer = build_model(TrainConfig(learning_rate=1e-3, lr_half_life=2.0), steps_per_epoch=10)
    schedule = optimizer.learning_rate if callable(optimizer.learning_rate) else optimizer._learning_rate
    assert float(schedule(20)) == pytest.approx(5e-4)
    assert float(schedule(40)) == pytest.approx(2.5e-4)
