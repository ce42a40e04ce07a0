"""Training: what train() returns and leaves in its folder, determinism, resume, NaN."""

from __future__ import annotations

import dataclasses
import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from vae_lib import checkpoints, streams
from vae_lib.config import TrainConfig
from vae_lib.data import LabelledImages, binarize_static
from vae_lib.evaluate import evaluate
from vae_lib.losses import TrainingLoss
from vae_lib.model import CVAE, model_for
from vae_lib.run import HISTORY_FIELDS, ConfigMismatchError, RunFolder
from vae_lib.train import NonFiniteLossError, Trained, build_model, compile_steps, train

QUICK = TrainConfig(epochs=3, batch_size=64, learning_rate=1e-3, seed=3, precision="float32")
# What a run of a 2-D latent space leaves in its folder, besides its checkpoints.
OUTPUTS = [
    "config.json",
    "history.csv",
    "metrics.json",
    "progress.gif",
    "training_curves.png",
    "samples.png",
    "reconstructions.png",
    "latent_manifold.png",
    "latent_scatter.png",
    "epoch_0000.png",
    "epoch_0003.png",
    "checkpoints/latest",
]


def numbers(history: list[dict]) -> list[dict]:
    """A history without its wall-clock column, the one thing that may differ."""
    return [{k: v for k, v in row.items() if k != "seconds"} for row in history]


class StopAfter:
    """A hook that interrupts training once ``epoch`` is finished, like Ctrl-C would."""

    def __init__(self, epoch: int) -> None:
        self.epoch = epoch

    def __call__(self, epoch: int, model: CVAE) -> None:
        if epoch == self.epoch:
            raise KeyboardInterrupt


@pytest.fixture(scope="module")
def reference(small_mnist: LabelledImages, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Trained]:
    out = tmp_path_factory.mktemp("reference")
    return out, train(QUICK, out, small_mnist, progress=False)


def test_history_has_a_finite_row_per_epoch_and_learns(reference: tuple) -> None:
    _, trained = reference
    history = trained.history
    assert (trained.config, trained.epochs_run) == (QUICK, 3)
    assert [row["epoch"] for row in history] == [1, 2, 3]
    assert all(set(row) == set(HISTORY_FIELDS) for row in history)
    assert all(math.isfinite(v) for row in history for v in row.values())
    assert history[-1]["test_elbo"] > history[0]["test_elbo"] + 10
    assert all(row["test_elbo"] < 0 for row in history)
    for row in history:
        assert row["test_elbo"] == pytest.approx(row["test_reconstruction"] - row["test_kl"])


def test_run_folder_holds_config_history_checkpoint_figures_and_metrics(
    reference: tuple,
) -> None:
    out, trained = reference
    for name in OUTPUTS:
        assert (out / name).exists(), name
    run = RunFolder(out)
    assert run.read_history() == trained.history
    assert json.loads((out / "config.json").read_text())["seed"] == 3
    metrics = run.read_metrics()
    assert (metrics.epochs, metrics.test_elbo, metrics.bound) == (
        3,
        trained.history[-1]["test_elbo"],
        None,
    )
    assert not (out / ".lock").exists()
    config, loaded, loaded_history = run.load()
    assert config == QUICK
    assert loaded_history == trained.history
    for a, b in zip(trained.model.get_weights(), loaded.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_auto_precision_is_resolved_in_what_train_returns(small_mnist: LabelledImages) -> None:
    one = dataclasses.replace(QUICK, epochs=1, train_size=64, precision="auto")
    assert train(one, None, small_mnist, progress=False).config.precision in (
        "float32",
        "mixed_bfloat16",
    )


def test_same_seed_gives_the_same_numbers(reference: tuple, small_mnist: LabelledImages) -> None:
    _, trained = reference
    again = train(QUICK, None, small_mnist, progress=False)
    assert numbers(again.history) == numbers(trained.history)
    np.testing.assert_array_equal(again.model.get_weights()[0], trained.model.get_weights()[0])


def test_another_seed_gives_other_numbers(reference: tuple, small_mnist: LabelledImages) -> None:
    _, trained = reference
    other = train(dataclasses.replace(QUICK, seed=4, epochs=1), None, small_mnist, progress=False)
    assert other.history[0]["test_elbo"] != trained.history[0]["test_elbo"]


def test_interrupted_run_resumes_to_the_same_history(
    reference: tuple, small_mnist: LabelledImages, tmp_path: Path
) -> None:
    _, trained = reference
    with pytest.raises(KeyboardInterrupt):
        train(QUICK, tmp_path, small_mnist, hooks=[StopAfter(1)], progress=False)
    assert len(RunFolder(tmp_path).read_history()) == 1
    assert not (tmp_path / "metrics.json").exists() and not (tmp_path / ".lock").exists()
    resumed = train(QUICK, tmp_path, small_mnist, progress=False)
    assert resumed.epochs_run == 2
    assert numbers(resumed.history) == numbers(trained.history)
    assert numbers(RunFolder(tmp_path).read_history()) == numbers(trained.history)
    for a, b in zip(trained.model.get_weights(), resumed.model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_a_damaged_latest_checkpoint_is_trained_again_from_the_older_one(
    reference: tuple, small_mnist: LabelledImages, tmp_path: Path
) -> None:
    # RunFolder.restore's fallback and its warning are in test_checkpoints.py; here the run goes on from it.
    out, trained = reference
    run = Path(shutil.copytree(out, tmp_path / "run"))
    damaged = run / "checkpoints" / f"epoch-3{checkpoints.DATA}"
    damaged.write_bytes(damaged.read_bytes()[: damaged.stat().st_size // 2])
    resumed = train(QUICK, run, small_mnist, progress=False)
    assert resumed.epochs_run == 1  # epoch 3 again, from epoch 2's checkpoint
    assert numbers(resumed.history) == numbers(trained.history)
    _, loaded, history = RunFolder(run).load()  # epoch 3's checkpoint, written anew, loads
    assert numbers(history) == numbers(trained.history)
    for a, b in zip(trained.model.get_weights(), loaded.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_finished_run_is_loaded_not_retrained_and_keeps_its_metrics(
    reference: tuple, small_mnist: LabelledImages
) -> None:
    out, trained = reference
    metrics = (out / "metrics.json").read_bytes()
    calls: list[int] = []
    again = train(
        QUICK,
        out,
        small_mnist,
        hooks=[lambda epoch, model: calls.append(epoch)],
        progress=False,
    )
    assert (again.history, again.epochs_run, calls) == (trained.history, 0, [])
    assert (out / "metrics.json").read_bytes() == metrics  # it may hold evaluate's bound
    np.testing.assert_array_equal(again.model.get_weights()[0], trained.model.get_weights()[0])


def test_more_epochs_continue_a_finished_run(small_mnist: LabelledImages, tmp_path: Path) -> None:
    one = dataclasses.replace(QUICK, epochs=1)
    train(one, tmp_path, small_mnist, progress=False)
    more = train(dataclasses.replace(one, epochs=2), tmp_path, small_mnist, progress=False)
    assert [row["epoch"] for row in more.history] == [1, 2] and more.epochs_run == 1
    assert RunFolder(tmp_path).read_metrics().epochs == 2


def test_folder_of_another_run_is_refused(reference: tuple, small_mnist: LabelledImages) -> None:
    out, _ = reference
    with pytest.raises(ConfigMismatchError, match=r"'latent_dim': \(2, 5\)"):
        train(dataclasses.replace(QUICK, latent_dim=5), out, small_mnist, progress=False)


def test_nan_loss_stops_the_run_and_keeps_the_last_good_checkpoint(
    small_mnist: LabelledImages, tmp_path: Path
) -> None:
    def poison(epoch: int, model: CVAE) -> None:
        if epoch == 1:
            weights = model.decoder.get_weights()
            weights[0][:] = np.nan
            model.decoder.set_weights(weights)

    with pytest.raises(NonFiniteLossError, match=r"loss became nan in epoch 2 .*last good checkpoint"):
        train(QUICK, tmp_path, small_mnist, hooks=[poison], progress=False)
    run = RunFolder(tmp_path)
    assert (tmp_path / "checkpoints" / "latest").read_text() == run.latest_checkpoint().name
    assert len(run.read_history()) == 1
    _, model, history = run.load()
    assert len(history) == 1
    assert all(np.isfinite(w).all() for w in model.get_weights())


def test_learning_rate_halves_every_half_life() -> None:
    _, optimizer = build_model(
        TrainConfig(learning_rate=1e-3, lr_half_life=2.0, precision="float32"),
        steps_per_epoch=10,
    )
    schedule = optimizer.learning_rate if callable(optimizer.learning_rate) else optimizer._learning_rate
    assert float(schedule(20)) == pytest.approx(5e-4)
    assert float(schedule(40)) == pytest.approx(2.5e-4)


def test_building_a_model_needs_a_resolved_precision() -> None:
    with pytest.raises(ValueError, match="resolve the precision first"):
        build_model(TrainConfig())


def test_warm_up_ramps_beta_with_the_step(small_mnist: LabelledImages) -> None:
    """Step s of a warm-up over W steps trains on β·s/W: the first step's loss says which β it used."""
    config = dataclasses.replace(QUICK, kl="analytic", beta=2.0, kl_warmup=10.0)
    model, optimizer = build_model(config)
    x = tf.constant(binarize_static(small_mnist.train_images[:64]))
    seed = streams.tf_seed(config.seed, streams.Stream.NOISE, 0)
    expected = TrainingLoss(kl="analytic")(model, x, seed, beta=2.0 * 1 / (10 * 8)) * 64
    steps = compile_steps(model, optimizer, config, steps_per_epoch=8)
    first = steps(iter(tf.data.Dataset.from_tensors(x)), tf.constant(1))
    np.testing.assert_allclose(first, expected, rtol=1e-5)


def test_conditional_run_trains_on_labelled_batches_and_writes_its_figures(
    small_mnist: LabelledImages, tmp_path: Path
) -> None:
    config = dataclasses.replace(QUICK, epochs=2, conditional=True)
    trained = train(config, tmp_path, small_mnist, progress=False)
    assert trained.model.classes == 10
    assert trained.history[1]["test_elbo"] > trained.history[0]["test_elbo"]
    written = {p.name for p in tmp_path.iterdir()}
    assert {"samples.png", "reconstructions.png", "metrics.json"} <= written
    assert "latent_manifold.png" not in written  # a conditional model's plane depends on the label
    _, loaded, _ = RunFolder(tmp_path).load()  # reloaded with its classes, so evaluate can bound it
    assert loaded.classes == 10
    test = binarize_static(small_mnist.test_images)
    elbo = evaluate(loaded, test, labels=small_mnist.test_labels)["test_elbo"]
    np.testing.assert_allclose(elbo, trained.history[-1]["test_elbo"], rtol=1e-5)


def test_autoencoder_run_reports_its_objective_with_no_kl(small_mnist: LabelledImages) -> None:
    config = dataclasses.replace(QUICK, epochs=2, objective="autoencoder")
    trained = train(config, mnist=small_mnist, progress=False)
    assert all(row["test_kl"] == 0.0 for row in trained.history)
    assert all(row["test_elbo"] == row["test_reconstruction"] for row in trained.history)
    assert trained.history[1]["test_elbo"] > trained.history[0]["test_elbo"]


def test_eight_bit_colour_run_trains_reloads_and_draws_its_figures(tmp_path: Path) -> None:
    """CIFAR-10's way in, on images the test makes: 32×32×3, 8-bit, a discretized logistic."""
    rng = np.random.default_rng(0)
    # Horizontal ramps of a random brightness per channel, and noise: something to learn.
    smooth = np.linspace(0, 255, 32)[None, :, None, None] * rng.uniform(0.2, 1.0, (288, 1, 1, 3))
    images = np.clip(smooth + rng.normal(0, 8, (288, 32, 32, 3)), 0, 255).astype(np.uint8)
    labels = rng.integers(0, 10, 288).astype(np.uint8)
    colour = LabelledImages(images[:256], labels[:256], images[256:], labels[256:])
    config = TrainConfig(
        dataset="cifar10",
        binarization="none",
        likelihood="logistic",
        latent_dim=4,
        epochs=2,
        batch_size=32,
        learning_rate=3e-3,
        precision="float32",
    )
    test_images = colour.test_images / np.float32(255)
    untrained = evaluate(model_for(config), test_images)["test_elbo"]
    trained = train(config, tmp_path, colour, progress=False)
    assert trained.model.image_shape == (32, 32, 3)
    assert trained.history[-1]["test_elbo"] > untrained + 700  # nats per image, of about 20,000
    _, loaded, _ = RunFolder(tmp_path).load()
    np.testing.assert_allclose(
        evaluate(loaded, test_images)["test_elbo"], trained.history[-1]["test_elbo"], rtol=1e-5
    )
    assert {"samples.png", "reconstructions.png", "progress.gif"} <= {p.name for p in tmp_path.iterdir()}
