"""Every bad input a user can give ``python -m vae_lib``, answered by a line naming it.

Arguments, environment variables, data folders, output folders and the files of a
run folder: for each, the exit status (2 a bad argument, 1 anything else), the
message, no traceback, and nothing that was good changed. Run folder cases work on
copies of one tiny finished run; the command line runs in this process, but for
the test of two processes writing into one folder.
"""

from __future__ import annotations

import dataclasses
import errno
import gzip
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from conftest import write_idx, write_idx_folder, write_md5sums

from vae_lib.cli import main
from vae_lib.data import DATA_DIR_ENV, FASHION_DATA_DIR_ENV, FILES, LabelledImages
from vae_lib.run import RunFolder, RunFolderError
from vae_lib.train import build_model

RECIPE = [
    "--epochs",
    "2",
    "--batch-size",
    "50",
    "--seed",
    "1",
    "--precision",
    "float32",
    "--quiet",
]
EVALUATE = ["--iw-samples", "2", "--iw-images", "5", "--quiet"]
AS_ROOT = os.geteuid() == 0  # file permissions do not stop root


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory, mnist: LabelledImages) -> Path:
    return write_idx_folder(tmp_path_factory.mktemp("data"), mnist)


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Path:
    """A run of two epochs on 100 images, finished, for tests to copy."""
    out = tmp_path_factory.mktemp("finished") / "run"
    assert main(["train", "--out", str(out), "--data-dir", str(data_dir), *RECIPE]) == 0
    return out


@pytest.fixture
def run(finished: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(finished, tmp_path / "run"))


def files(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder``, with its bytes."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def cli(capsys: pytest.CaptureFixture, *argv: object) -> tuple[int, str, str]:
    """The command line's exit status, standard output and standard error (no
    traceback.
    """
    try:
        status = main([str(a) for a in argv])
    except SystemExit as stop:
        status = stop.code
    out, err = capsys.readouterr()
    assert "Traceback" not in err, err
    return status, out, err


def refused(capsys: pytest.CaptureFixture, status: int, message: str, *argv: object) -> str:
    """Run ``argv``: it must exit with ``status`` and one error line containing
    ``message``, returned.
    """
    code, _, err = cli(capsys, *argv)
    errors = [line for line in err.splitlines() if "error:" in line]
    assert (code, len(errors)) == (status, 1), err
    assert message in errors[0], errors[0]
    return errors[0]


def train(out: Path, data: Path, *more: object) -> list[object]:
    return ["train", "--out", out, "--data-dir", data, *RECIPE, *more]


def evaluate(run: Path, data: Path) -> list[object]:
    return ["evaluate", run, "--data-dir", data, *EVALUATE]


def cut_short(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def numbers(history: list[dict]) -> list[dict]:
    return [{k: v for k, v in row.items() if k != "seconds"} for row in history]


# --- arguments ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["train", "--out", "x", "--dataset", "cifar"],
            "argument --dataset: invalid choice: 'cifar'",
        ),
        (
            ["train", "--out", "x", "--train-size", "0"],
            "argument --train-size: 0 is not positive",
        ),
        (
            ["train", "--out", "x", "--colour", "red"],
            "unrecognized arguments: --colour red",
        ),
        (
            ["evaluate", "x", "--iw-images", "0"],
            "argument --iw-images: 0 is not positive",
        ),
        (
            ["evaluate", "x", "--iw-samples", "many"],
            "argument --iw-samples: 'many' is not a whole number",
        ),
        (["evaluate"], "the following arguments are required: RUN_FOLDER"),
        (["train"], "the following arguments are required: --out"),
        (
            ["train", "--out", "x", "--epochs", "0"],
            "argument --epochs: 0 is not positive",
        ),
        (
            ["train", "--out", "x", "--batch-size", "ten"],
            "argument --batch-size: 'ten' is not a whole number",
        ),
        (
            ["train", "--out", "x", "--learning-rate", "nan"],
            "argument --learning-rate: nan is not positive",
        ),
        (
            ["train", "--out", "x", "--filters", "32"],
            "argument --filters: 32 is not two positive channel",
        ),
        (
            ["train", "--out", "x", "--filters", "a,b"],
            "argument --filters: 'a,b' is not channel counts",
        ),
        (
            ["train", "--out", "x", "--kl", "exact"],
            "argument --kl: invalid choice: 'exact'",
        ),
        (
            ["train", "--out", "x", "--lr-half-life", "0"],
            "argument --lr-half-life: 0.0 is not positive",
        ),
        (
            ["train", "--out", "x", "--binarization", "grey"],
            "argument --binarization: invalid choice: 'grey'",
        ),
        # Pixels and likelihood must agree: a Bernoulli is a model of binary pixels only.
        (
            ["train", "--out", "x", "--binarization", "none"],
            "argument --likelihood: bernoulli is a model of binary pixels, and binarization=none keeps",
        ),
        (
            ["train", "--out", "x", "--likelihood", "logistic"],
            "argument --binarization: the logistic likelihood models grey levels, not binary pixels",
        ),
        (
            ["train", "--out", "x", "--dataset", "cifar10"],
            "argument --dataset: cifar10's colour pixels are not binarized",
        ),
        # Settings of earlier versions (vae_lib.config.RETIRED) are no options any more.
        (
            ["train", "--out", "x", "--devices", "2"],
            "unrecognized arguments: --devices 2",
        ),
        (
            ["train", "--out", "x", "--blocks", "1"],
            "unrecognized arguments: --blocks 1",
        ),
        (
            ["evaluate", "run", "--iw-samples", "-3"],
            "argument --iw-samples: -3 is not positive",
        ),
        (["fit"], "invalid choice: 'fit'"),
    ],
)
def test_bad_argument_is_a_usage_error(capsys: pytest.CaptureFixture, argv: list[str], message: str) -> None:
    refused(capsys, 2, message, *argv)
    assert not Path("x").exists()


# --- data -----------------------------------------------------------------------------


def rewrite(key: str, array: np.ndarray) -> Callable[[Path], None]:
    """Damage: the file ``key`` holds ``array``, and MD5SUMS says so."""

    def damage(folder: Path) -> None:
        write_idx(folder / FILES[key], array)
        write_md5sums(folder)

    return damage


def repack(key: str, change: Callable[[bytes], bytes], listed: bool = True) -> Callable[[Path], None]:
    """Damage: the gz file ``key``'s bytes changed; MD5SUMS updated if ``listed``."""

    def damage(folder: Path) -> None:
        path = folder / FILES[key]
        path.write_bytes(change(path.read_bytes()))
        if listed:
            write_md5sums(folder)

    return damage


def replace_by_folder(folder: Path) -> None:
    (folder / FILES["test_images"]).unlink()
    (folder / FILES["test_images"]).mkdir()


def edit_md5sums(change: Callable[[list[str]], list[str]]) -> Callable[[Path], None]:
    def damage(folder: Path) -> None:
        sums = folder / "MD5SUMS"
        sums.write_text("\n".join(change(sums.read_text().splitlines())) + "\n")

    return damage


def flip_middle_byte(packed: bytes) -> bytes:
    middle = len(packed) // 2
    return packed[:middle] + bytes([packed[middle] ^ 0xFF]) + packed[middle + 1 :]


DAMAGED_DATA = {
    "missing file": (
        lambda f: (f / FILES["test_labels"]).unlink(),
        "missing data file {data}/t10k-labels-idx1-ubyte.gz",
    ),
    "a folder for a file": (
        replace_by_folder,
        "t10k-images-idx3-ubyte.gz: Is a directory",
    ),
    "MD5SUMS line malformed": (
        edit_md5sums(lambda lines: [*lines, "d41d8cd9 train-images"]),
        "MD5SUMS line 5 is not an md5 and a file name, as md5sum writes: 'd41d8cd9 train-images'",
    ),
    "MD5SUMS lacks a file": (
        edit_md5sums(lambda lines: lines[:-1]),
        "MD5SUMS lists no md5 for t10k-labels-idx1-ubyte.gz",
    ),
    "md5 not MD5SUMS's": (
        repack("train_images", lambda b: b[:-10], listed=False),
        (
            "train-images-idx3-ubyte.gz has md5 ",
            "(MD5SUMS): the file is corrupt, or MD5SUMS is out of date",
        ),
    ),
    "damaged byte in a gz file": (
        repack("train_images", flip_middle_byte),
        "train-images-idx3-ubyte.gz is not a readable gzip file",
    ),
    "gz file cut short": (
        repack("train_images", lambda b: b[: len(b) // 2]),
        "train-images-idx3-ubyte.gz is not a readable gzip file",
    ),
    "not gzip": (
        repack("train_labels", lambda b: b"labels"),
        "train-labels-idx1-ubyte.gz is not a readable gzip file",
    ),
    "IDX content cut short": (
        repack("train_images", lambda b: gzip.compress(gzip.decompress(b)[:-100])),
        "train-images-idx3-ubyte.gz holds 78300 values, expected 78400",
    ),
    "wrong IDX rank": (
        rewrite("train_labels", np.zeros((100, 1, 1), np.uint8)),
        "train-labels-idx1-ubyte.gz has IDX magic 0x00000803, expected 0x00000801",
    ),
    "images not 28×28": (
        rewrite("test_images", np.zeros((50, 28, 27), np.uint8)),
        "test images have shape (50, 28, 27), expected (N, 28, 28)",
    ),
    "fewer labels than images": (
        rewrite("test_labels", np.zeros(49, np.uint8)),
        "test labels have shape (49,), expected (50,)",
    ),
    "no training images": (
        lambda f: (
            rewrite("train_images", np.zeros((0, 28, 28)))(f),
            rewrite("train_labels", np.zeros(0))(f),
        ),
        "the train set holds no images",
    ),
    "IDX files of another data set, no MD5SUMS": (
        lambda f: (f / "MD5SUMS").unlink(),
        (
            "train-images-idx3-ubyte.gz is a well-formed IDX file, but not MNIST's: "
            "the md5 of its content is ",
            "list its files' md5s in {data}/MD5SUMS (md5sum *.gz > MD5SUMS)",
        ),
    ),
}


@pytest.mark.parametrize("case", DAMAGED_DATA)
def test_damaged_data_folder_is_named_and_nothing_is_written(
    capsys: pytest.CaptureFixture, data_dir: Path, tmp_path: Path, case: str
) -> None:
    damage, message = DAMAGED_DATA[case]
    data = Path(shutil.copytree(data_dir, tmp_path / "data"))
    damage(data)
    parts = (message,) if isinstance(message, str) else message
    line = refused(capsys, 1, parts[0].replace("{data}", str(data)), *train(tmp_path / "out", data))
    for part in parts[1:]:
        assert part.replace("{data}", str(data)) in line
    assert not (tmp_path / "out").exists()


@pytest.mark.skipif(AS_ROOT, reason="root reads any file")
def test_unreadable_data_file_is_named(capsys: pytest.CaptureFixture, data_dir: Path, tmp_path: Path) -> None:
    data = Path(shutil.copytree(data_dir, tmp_path / "data"))
    (data / FILES["train_labels"]).chmod(0)
    refused(
        capsys,
        1,
        "train-labels-idx1-ubyte.gz: Permission denied",
        *train(tmp_path / "out", data),
    )


def test_data_folder_that_is_not_there_or_not_a_folder(capsys: pytest.CaptureFixture, tmp_path: Path) -> None:
    refused(
        capsys,
        1,
        f"data folder {tmp_path / 'none'} does not exist",
        *train(tmp_path / "out", tmp_path / "none"),
    )
    (tmp_path / "file").write_text("")
    refused(
        capsys,
        1,
        f"data folder {tmp_path / 'file'} is not a folder",
        *train(tmp_path / "out", tmp_path / "file"),
    )
    assert not (tmp_path / "out").exists()


def test_evaluating_with_a_broken_data_folder_changes_nothing(
    capsys: pytest.CaptureFixture, run: Path, tmp_path: Path
) -> None:
    before = files(run)
    refused(
        capsys,
        1,
        f"data folder {tmp_path / 'none'} does not exist",
        *evaluate(run, tmp_path / "none"),
    )
    assert files(run) == before


def test_environment_naming_no_folder(
    capsys: pytest.CaptureFixture, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_download() -> None:
        raise AssertionError("must not download when a folder is configured")

    monkeypatch.setattr(tf.keras.datasets.mnist, "load_data", no_download)
    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path / "none"))
    message = f"$VAE_DATA_DIR: data folder {tmp_path / 'none'} does not exist"
    refused(capsys, 1, message, "train", "--out", tmp_path / "out", *RECIPE)


def test_offline_without_a_data_folder(
    capsys: pytest.CaptureFixture, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def offline() -> None:
        raise OSError("network is unreachable")

    monkeypatch.setattr(tf.keras.datasets.fashion_mnist, "load_data", offline)
    monkeypatch.delenv(DATA_DIR_ENV, raising=False)
    monkeypatch.delenv(FASHION_DATA_DIR_ENV, raising=False)
    message = "could not download Fashion-MNIST (network is unreachable); offline, set $VAE_FASHION_DATA_DIR"
    refused(
        capsys,
        1,
        message,
        "train",
        "--out",
        tmp_path / "out",
        "--dataset",
        "fashion_mnist",
        *RECIPE,
    )


def test_mnist_files_asked_for_as_another_data_set(
    capsys: pytest.CaptureFixture, data_dir: Path, tmp_path: Path
) -> None:
    data = Path(shutil.copytree(data_dir, tmp_path / "data"))
    (data / "MD5SUMS").unlink()
    message = "train-images-idx3-ubyte.gz is a well-formed IDX file, but not Fashion-MNIST's"
    refused(capsys, 1, message, *train(tmp_path / "out", data, "--dataset", "fashion_mnist"))


# --- values only the data or the machine can check ------------------------------------


def test_more_training_images_than_there_are(
    capsys: pytest.CaptureFixture, data_dir: Path, tmp_path: Path
) -> None:
    refused(
        capsys,
        1,
        "--train-size: 5000 is not in 1..100",
        *train(tmp_path / "out", data_dir, "--train-size", 5000),
    )
    assert not (tmp_path / "out").exists()


def test_validation_split_of_a_set_too_small_for_it(
    capsys: pytest.CaptureFixture, data_dir: Path, tmp_path: Path
) -> None:
    refused(
        capsys,
        1,
        "a validation split needs more than 10,000 training images, the data holds 100",
        *train(tmp_path / "out", data_dir, "--validation"),
    )
    assert not (tmp_path / "out").exists()


def test_learning_rate_at_which_the_loss_is_not_finite(
    capsys: pytest.CaptureFixture, data_dir: Path, tmp_path: Path
) -> None:
    argv = train(tmp_path / "out", data_dir, "--learning-rate", 1e10)
    line = refused(capsys, 1, "loss became", *argv)  # nan or inf
    assert line.endswith(
        "in epoch 1 by step 2: training stopped. Try a lower --learning-rate."
    )  # no checkpoint


# --- the output folder ----------------------------------------------------------------


def test_output_that_is_a_file(capsys: pytest.CaptureFixture, data_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    refused(
        capsys,
        1,
        f"{tmp_path / 'notes.txt'} exists and is not a folder",
        *train(tmp_path / "notes.txt", data_dir),
    )
    assert (tmp_path / "notes.txt").read_text() == "mine"
    inside = tmp_path / "notes.txt" / "run"
    message = f"cannot create the run folder {inside}: Not a directory"
    refused(capsys, 1, message, *train(tmp_path / "notes.txt" / "run", data_dir))


@pytest.mark.skipif(AS_ROOT, reason="root writes anywhere")
def test_output_in_a_folder_that_cannot_be_written(
    capsys: pytest.CaptureFixture, data_dir: Path, tmp_path: Path
) -> None:
    (tmp_path / "locked").mkdir(mode=0o555)
    refused(capsys, 1, "Permission denied", *train(tmp_path / "locked" / "run", data_dir))


def test_output_holding_another_run(capsys: pytest.CaptureFixture, data_dir: Path, run: Path) -> None:
    before = files(run)
    refused(
        capsys,
        1,
        "holds a run with other settings",
        *train(run, data_dir, "--latent-dim", 3),
    )
    assert files(run) == before


# --- the files of a run folder --------------------------------------------------------


def test_evaluating_a_folder_that_holds_no_run(
    capsys: pytest.CaptureFixture, data_dir: Path, tmp_path: Path
) -> None:
    refused(
        capsys,
        1,
        "holds no training run (no config.json)",
        *evaluate(tmp_path / "none", data_dir),
    )
    assert not (tmp_path / "none").exists()
    (tmp_path / "file").write_text("")
    refused(
        capsys,
        1,
        "holds no training run (no config.json)",
        *evaluate(tmp_path / "file", data_dir),
    )


CONFIG_DAMAGE = {
    "not JSON": (
        lambda text: "latent_dim: 2",
        "config.json is damaged (not JSON: Expecting value",
    ),
    "cut short": (
        lambda text: text[: len(text) // 2],
        "config.json is damaged (not JSON:",
    ),
    "a bad value": (
        lambda text: text.replace('"latent_dim": 2', '"latent_dim": -2'),
        "config.json is damaged (latent_dim: -2 is not positive)",
    ),
    "an unknown setting": (
        lambda text: text.replace("{", '{"colour": "red",', 1),
        "config.json is damaged (TrainConfig.__init__() got an unexpected keyword argument 'colour')",
    ),
    "not a mapping": (lambda text: "[1, 2]", "config.json is damaged ("),
}


@pytest.mark.parametrize("command", ["train", "evaluate"])
@pytest.mark.parametrize("case", CONFIG_DAMAGE)
def test_damaged_config_is_named_and_left_alone(
    capsys: pytest.CaptureFixture, data_dir: Path, run: Path, command: str, case: str
) -> None:
    change, message = CONFIG_DAMAGE[case]
    (run / "config.json").write_text(change((run / "config.json").read_text()))
    before = files(run)
    argv = train(run, data_dir) if command == "train" else evaluate(run, data_dir)
    assert f"{run / 'config.json'} is damaged" in refused(capsys, 1, message, *argv)
    assert files(run) == before


def checkpoint_file(run: Path, epoch: int, suffix: str) -> Path:
    """A file of epoch ``epoch``'s checkpoint: ``suffix`` is ``INDEX`` or ``DATA``."""
    return run / "checkpoints" / f"epoch-{epoch}{suffix}"


INDEX, DATA = ".index", ".data-00000-of-00001"


def test_damaged_latest_checkpoint_is_not_evaluated(
    capsys: pytest.CaptureFixture, data_dir: Path, run: Path
) -> None:
    cut_short(checkpoint_file(run, 2, DATA))
    before = files(run)
    line = refused(
        capsys,
        1,
        f"{checkpoint_file(run, 2, DATA)} is damaged (",
        *evaluate(run, data_dir),
    )
    assert line.endswith(
        "; the older checkpoint epoch-1 is kept: train with the same settings to resume from it"
    )
    assert files(run) == before


def test_damaged_history_in_a_checkpoint_is_named(
    capsys: pytest.CaptureFixture, data_dir: Path, run: Path
) -> None:
    config = RunFolder(run).read_config()
    model, optimizer = build_model(config)
    RunFolder(run).save_checkpoint(3, model, optimizer, [{"epoch": 1}])  # a history without its columns
    before = files(run)
    prefix = run / "checkpoints" / "epoch-3"
    message = f"the history in {prefix} is damaged (it is not a training history)"
    refused(capsys, 1, message, *evaluate(run, data_dir))
    assert files(run) == before


@pytest.mark.parametrize("suffix", [INDEX, DATA])
def test_training_falls_back_from_a_damaged_latest_checkpoint(
    capsys: pytest.CaptureFixture,
    data_dir: Path,
    finished: Path,
    run: Path,
    suffix: str,
) -> None:
    cut_short(checkpoint_file(run, 2, suffix))
    status, _, err = cli(capsys, *train(run, data_dir))
    assert status == 0
    assert f"epoch-2{suffix} is damaged" in err and "falling back to epoch-1" in err
    # Epoch 2 trained again from epoch 1's state: the same numbers, and a checkpoint
    # that loads.
    assert numbers(RunFolder(run).read_history()) == numbers(RunFolder(finished).read_history())
    assert len(RunFolder(run).load()[2]) == 2


def test_no_checkpoint_that_loads_says_how_to_start_over(
    capsys: pytest.CaptureFixture, data_dir: Path, run: Path
) -> None:
    cut_short(checkpoint_file(run, 2, DATA))
    cut_short(checkpoint_file(run, 1, INDEX))
    before = files(run)
    line = refused(capsys, 1, f"{checkpoint_file(run, 2, DATA)} is damaged", *train(run, data_dir))
    assert f"{checkpoint_file(run, 1, INDEX)} is damaged" in line
    assert line.endswith(f"no older checkpoint is kept: delete {run / 'checkpoints'} to start over")
    assert files(run) == before


def test_damaged_or_missing_metrics_are_written_afresh_by_evaluate(
    capsys: pytest.CaptureFixture, data_dir: Path, run: Path
) -> None:
    (run / "metrics.json").write_text('{"test_elbo": ')
    with pytest.raises(RunFolderError, match=r"metrics.json is damaged \(not JSON"):
        RunFolder(run).read_metrics()
    assert cli(capsys, *evaluate(run, data_dir))[0] == 0
    metrics = RunFolder(run).read_metrics()
    assert (metrics.epochs, metrics.bound.k, metrics.bound.images) == (2, 2, 5)


def test_evaluating_a_run_that_has_not_finished(
    capsys: pytest.CaptureFixture, data_dir: Path, tmp_path: Path
) -> None:
    # As a run of 2 epochs killed during epoch 2 leaves its folder: epoch 1's
    # checkpoint, no metrics.
    run = tmp_path / "stopped"
    assert cli(capsys, *train(run, data_dir, "--epochs", 1))[0] == 0
    (run / "metrics.json").unlink()
    RunFolder(run).claim(dataclasses.replace(RunFolder(run).read_config(), epochs=2))
    status, out, _ = cli(capsys, *evaluate(run, data_dir))
    assert status == 0 and "the run has finished 1 of its 2 epochs" in out
    assert RunFolder(run).read_metrics().epochs == 1


def test_damaged_history_csv_is_named_and_rewritten_by_training(
    capsys: pytest.CaptureFixture, data_dir: Path, run: Path
) -> None:
    (run / "history.csv").write_text("epoch,train_loss\n1,oops\n")
    with pytest.raises(RunFolderError, match=r"history.csv is damaged \(its columns are"):
        RunFolder(run).read_history()
    assert cli(capsys, *train(run, data_dir, "--epochs", 3))[0] == 0
    assert [row["epoch"] for row in RunFolder(run).read_history()] == [1, 2, 3]


def test_damaged_epoch_image_is_left_out_of_the_animation(
    capsys: pytest.CaptureFixture, data_dir: Path, run: Path
) -> None:
    cut_short(run / "epoch_0001.png")
    # One more epoch: a run that trains writes its figures, progress.gif among them.
    status, _, err = cli(capsys, *train(run, data_dir, "--epochs", 3))
    assert (
        status == 0 and f"{run / 'epoch_0001.png'} is damaged" in err and "progress.gif leaves it out" in err
    )
    assert (run / "progress.gif").stat().st_size > 0


def test_lock_file_that_cannot_be_opened(capsys: pytest.CaptureFixture, data_dir: Path, run: Path) -> None:
    (run / ".lock").mkdir()
    before = files(run)
    refused(capsys, 1, f"{run / '.lock'}: Is a directory", *train(run, data_dir))
    assert files(run) == before


# --- a full disk ----------------------------------------------------------------------


def no_space(*args: object, **kwargs: object) -> None:
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_full_disk_while_checkpointing_keeps_the_last_checkpoint(
    capsys: pytest.CaptureFixture,
    data_dir: Path,
    run: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    before = files(run)
    write = tf.train.Checkpoint._write

    def write_then_fail(self: tf.train.Checkpoint, prefix: str, **options: object) -> None:
        # The data is written, then the disk is full. Without the manager's options
        # (their callback lists a complete checkpoint), no list names these files.
        write(self, prefix)
        raise tf.errors.ResourceExhaustedError(None, None, "No space left on device")

    monkeypatch.setattr(tf.train.Checkpoint, "_write", write_then_fail)
    message = (
        f"could not write checkpoint {run}/checkpoints/epoch-3: "
        "No space left on device; "
        f"the previous checkpoint {run}/checkpoints/epoch-2 is intact"
    )
    refused(capsys, 1, message, *train(run, data_dir, "--epochs", 3))
    monkeypatch.undo()
    after = files(run)
    assert after.pop("config.json") != before.pop("config.json")  # now asking for 3 epochs
    assert after == before  # no partial checkpoint left, nothing else touched
    assert len(RunFolder(run).load()[2]) == 2


def test_full_disk_while_writing_metrics_keeps_the_old_ones(
    capsys: pytest.CaptureFixture,
    data_dir: Path,
    run: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    before = files(run)
    monkeypatch.setattr(os, "replace", no_space)
    message = (
        f"could not write {run / 'metrics.json'}: No space left on device; its previous version is intact"
    )
    refused(capsys, 1, message, *evaluate(run, data_dir))
    monkeypatch.undo()
    after = files(run)
    kept = [name for name in after if name.startswith("bounds-")]  # the bounds computed are kept
    assert len(kept) == 1 and after.pop(kept[0])
    assert after == before


# --- two processes, one folder --------------------------------------------------------


@pytest.mark.subprocess
def test_second_process_is_refused_and_a_killed_ones_lock_blocks_nothing(
    capsys: pytest.CaptureFixture, data_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    command = [
        sys.executable,
        "-m",
        "vae_lib",
        *map(str, train(out, data_dir, "--epochs", 1000)),
    ]
    first = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while not (out / ".lock").exists() or (out / ".lock").read_text().strip() != str(first.pid):
            assert time.monotonic() < deadline and first.poll() is None, (
                "the first process never took the lock"
            )
            time.sleep(0.05)
        second = subprocess.run(command, capture_output=True, text=True, timeout=300)
        assert second.returncode == 1 and "Traceback" not in second.stderr
        assert f"{out} is in use by process {first.pid}" in second.stderr.splitlines()[-1]
        assert first.poll() is None  # still training, undisturbed
    finally:
        first.kill()  # SIGKILL: no clean-up, its .lock stays behind
        first.wait()
    assert (out / ".lock").read_text().strip() == str(first.pid)
    assert cli(capsys, *train(out, data_dir, "--epochs", 1))[0] == 0
    assert not (out / ".lock").exists()
