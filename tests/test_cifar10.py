"""CIFAR-10's loader on small files in its format that the tests write: layout, channels,
both ways in, and each damaged (or hostile) file refused by name."""

from __future__ import annotations

import math
import os
import pickle
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from vae_lib.cifar10 import BATCHES, CIFAR10_DATA_DIR_ENV, TEST_FILE, TRAIN_FILES, load_cifar10
from vae_lib.cli import main
from vae_lib.data import DataError, load_dataset
from vae_lib.run import RunFolder

PER_BATCH = 4


def batch_rows(n: int = PER_BATCH) -> np.ndarray:
    """``uint8 [n, 3072]`` rows, channel-major as the genuine files hold them, with marked pixels."""
    rows = np.zeros((n, 3072), np.uint8)
    rows[:, 0 * 1024 + 5 * 32 + 7] = 200  # red plane, row 5, column 7
    rows[:, 1 * 1024 + 0 * 32 + 31] = 100  # green plane, row 0, column 31
    rows[:, 2 * 1024 + 31 * 32 + 0] = 50  # blue plane, row 31, column 0
    rows[:, 2] = np.arange(n)  # red plane, row 0, column 2: the image's number
    return rows


def write_batch(
    path: Path, first_label: int = 0, rows: np.ndarray | None = None, labels: object = None
) -> None:
    """A batch as the genuine files hold it: a dict of a uint8 array [n, 3072] and a list of labels."""
    rows = batch_rows() if rows is None else rows
    labels = [(first_label + i) % 10 for i in range(len(rows))] if labels is None else labels
    path.write_bytes(pickle.dumps({b"batch_label": b"x", b"labels": labels, b"data": rows}))


@pytest.fixture
def batches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv(CIFAR10_DATA_DIR_ENV, raising=False)
    folder = tmp_path / BATCHES
    folder.mkdir()
    for i, name in enumerate((*TRAIN_FILES, TEST_FILE)):
        write_batch(folder / name, first_label=i)
    return folder


def test_batches_load_as_images_in_height_width_channel_order(batches: Path) -> None:
    images = load_cifar10(batches)
    assert images.train_images.shape == (5 * PER_BATCH, 32, 32, 3) and images.train_images.dtype == np.uint8
    assert images.test_images.shape == (PER_BATCH, 32, 32, 3) and images.image_shape == (32, 32, 3)
    train = images.train_images
    assert (
        (train[:, 5, 7, 0] == 200).all()
        and (train[:, 0, 31, 1] == 100).all()
        and (train[:, 31, 0, 2] == 50).all()
    )
    assert train[:, 5, 7, 1:].max() == 0 and train.sum(dtype=np.int64) == 5 * (PER_BATCH * 350 + 6)
    np.testing.assert_array_equal(train[:PER_BATCH, 0, 2, 0], np.arange(PER_BATCH))
    assert images.train_labels.dtype == np.uint8
    np.testing.assert_array_equal(images.train_labels[:6], [0, 1, 2, 3, 1, 2])
    np.testing.assert_array_equal(images.test_labels, [5, 6, 7, 8])


def test_a_batch_as_published_with_numpy_1_names_loads(batches: Path) -> None:
    # The published files name numpy.core.multiarray (NumPy 1); NumPy 2 pickles name numpy._core.
    genuine = pickle.dumps({b"data": batch_rows(), b"labels": [9, 8, 7, 6]}, protocol=3)
    genuine = genuine.replace(b"cnumpy._core.multiarray\n", b"cnumpy.core.multiarray\n")
    assert b"numpy.core.multiarray\n_reconstruct" in genuine
    (batches / TEST_FILE).write_bytes(genuine)
    images = load_cifar10(batches)
    np.testing.assert_array_equal(images.test_labels, [9, 8, 7, 6])
    assert (images.test_images[:, 5, 7, 0] == 200).all()


def test_the_folder_holding_the_batches_and_the_variable_are_ways_in(
    batches: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert load_cifar10(batches.parent).train_images.shape[0] == 5 * PER_BATCH
    assert load_dataset("cifar10", batches.parent).test_images.shape == (PER_BATCH, 32, 32, 3)
    monkeypatch.setenv(CIFAR10_DATA_DIR_ENV, str(batches))
    assert load_dataset("cifar10").test_images.shape == (PER_BATCH, 32, 32, 3)


def test_data_dir_wins_over_the_variable(
    batches: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(CIFAR10_DATA_DIR_ENV, str(tmp_path / "nowhere"))
    assert load_cifar10(batches).train_images.shape[0] == 5 * PER_BATCH


def remove(name: str) -> Callable[[Path], None]:
    return lambda folder: (folder / name).unlink()


def overwrite(name: str, content: bytes) -> Callable[[Path], None]:
    return lambda folder: (folder / name).write_bytes(content)


def rewrite(name: str, rows: np.ndarray | None = None, labels: object = None) -> Callable[[Path], None]:
    return lambda folder: write_batch(folder / name, 0, rows, labels)


class Hostile:
    """A pickle that would run a shell command while it is read."""

    def __reduce__(self) -> tuple:
        return (os.system, ("touch HOSTILE_MARKER",))


def test_the_hostile_pickle_would_run_its_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # So that the test below, where it runs nothing, means something.
    monkeypatch.chdir(tmp_path)
    pickle.loads(pickle.dumps(Hostile()))
    assert Path("HOSTILE_MARKER").exists()


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (remove("data_batch_3"), r"missing data file .*data_batch_3$"),
        (remove("test_batch"), r"missing data file .*test_batch$"),
        (overwrite("test_batch", b"not a pickle"), r"test_batch is not a readable CIFAR-10 batch"),
        (overwrite("data_batch_1", pickle.dumps([1, 2])), r"data_batch_1 is not a CIFAR-10 batch: it has no"),
        (
            overwrite("data_batch_1", pickle.dumps({b"data": batch_rows()})),
            r"data_batch_1 .* has no 'data' and",
        ),
        (overwrite("data_batch_2", pickle.dumps(Hostile())), r"data_batch_2 .*asks for (posix|os)\.system"),
        (rewrite("data_batch_4", np.zeros((3, 1024), np.uint8)), r"holds data uint8 \(3, 1024\), expected"),
        (rewrite("data_batch_5", np.zeros((2, 3072), np.float32)), r"holds data float32"),
        (rewrite("test_batch", labels=[3, 10, 1, 2]), r"test_batch holds labels outside 0..9: 10$"),
        (rewrite("test_batch", labels=[3, -1, 1, 2]), r"test_batch holds labels outside 0..9: -1$"),
        (rewrite("test_batch", labels=[3, 1, 2]), r"test_batch holds labels of shape \(3,\) for 4 images"),
        (rewrite("test_batch", labels=["a"] * 4), r"test_batch holds labels of type <U1, expected integers"),
    ],
)
def test_damaged_batches_are_named(
    batches: Path, damage: Callable[[Path], None], message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(batches)
    damage(batches)
    with pytest.raises(DataError, match=message):
        load_cifar10(batches)
    assert not Path("HOSTILE_MARKER").exists()  # the hostile pickle ran nothing


def test_a_missing_or_not_a_folder_is_named(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"data folder .*nowhere does not exist"):
        load_cifar10(tmp_path / "nowhere")
    (tmp_path / "file").write_bytes(b"")
    with pytest.raises(DataError, match=r"data folder .*file is not a folder"):
        load_cifar10(tmp_path / "file")


def test_a_broken_folder_in_the_variable_is_named_so_and_nothing_downloads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_download() -> None:
        raise AssertionError("a configured folder must not fall back to the download")

    monkeypatch.setattr(tf.keras.datasets.cifar10, "load_data", no_download)
    monkeypatch.setenv(CIFAR10_DATA_DIR_ENV, str(tmp_path / "nowhere"))
    with pytest.raises(DataError, match=r"^\$VAE_CIFAR10_DATA_DIR: data folder .*nowhere does not exist"):
        load_cifar10()


def test_without_a_folder_the_keras_download_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(CIFAR10_DATA_DIR_ENV, raising=False)
    images = np.zeros((3, 32, 32, 3), np.uint8)
    labels = np.array([[1], [2], [3]], np.int64)  # Keras's column of labels
    monkeypatch.setattr(
        tf.keras.datasets.cifar10, "load_data", lambda: ((images, labels), (images[:2], labels[:2]))
    )
    loaded = load_dataset("cifar10")
    assert loaded.train_labels.dtype == np.uint8 and loaded.test_images.shape == (2, 32, 32, 3)
    np.testing.assert_array_equal(loaded.train_labels, [1, 2, 3])

    def offline() -> None:
        raise OSError("no network")

    monkeypatch.setattr(tf.keras.datasets.cifar10, "load_data", offline)
    with pytest.raises(
        DataError,
        match=r"could not download CIFAR-10 \(no network\); offline, set \$VAE_CIFAR10_DATA_DIR or "
        r"--data-dir to a folder holding cifar-10-batches-py",
    ):
        load_cifar10()


def test_the_command_line_trains_and_bounds_cifar10_in_bits_per_dim(
    batches: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """`--dataset cifar10` end to end: a training step on colour images, and bits/dim printed."""
    out, data = str(tmp_path / "run"), ["--data-dir", str(batches), "--quiet"]
    recipe = ["--dataset", "cifar10", "--binarization", "none", "--likelihood", "logistic", "--epochs", "1"]
    recipe += ["--batch-size", "10", "--latent-dim", "2", "--precision", "float32"]
    assert main(["train", "--out", out, *recipe, *data]) == 0
    elbo = RunFolder(out).read_metrics().test_elbo
    printed = capsys.readouterr().out
    assert (
        f"test ELBO after 1 epochs: {elbo:.2f} nats = {-elbo / (3072 * math.log(2)):.3f} bits/dim" in printed
    )
    assert main(["evaluate", out, "--iw-samples", "5", *data]) == 0
    printed = capsys.readouterr().out
    assert "protocol: 8-bit images as published, undithered" in printed and "bits/dim" in printed
