"""Every bad input a user can give ``python -m vae_lib``, answered by a line naming it.

Arguments, environment variables, data folders, output folders and the files of a
run folder: for each, the exit status (2 a bad argument, 1 anything else), the
message, no traceback, and nothing that was good changed. Where a module's own tests
assert its words (each damaged data file in test_data.py, each failed checkpoint
write in test_checkpoints.py), the case here asserts only what the command line
adds: one line, the status, nothing written. Run folder cases work on copies of one
tiny finished run; the command line runs in this process, but for the test of two
processes writing into one folder.
"""

from __future__ import annotations

import dataclasses
import errno
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import tensorflow as tf
from conftest import write_idx_folder
from test_checkpoints import FULL_DISK
from test_data import DAMAGED_DATA

from vae_lib.cli import main
from vae_lib.data import (
    DATA_DIR_ENV,
    FASHION_DATA_DIR_ENV,
    DataError,
    LabelledImages,
    load_dataset,
    with_validation_split,
)
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


def loader_error(load: Callable[[], object]) -> str:
    """The message of the DataError ``load()`` raises: the data module's words, which test_data.py asserts."""
    with pytest.raises(DataError) as raised:
        load()
    return str(raised.value)


def test_damaged_data_is_the_loaders_message_on_one_line_and_nothing_is_written(
    capsys: pytest.CaptureFixture, data_dir: Path, tmp_path: Path
) -> None:
    # The loader refuses every damage in DAMAGED_DATA with a DataError (test_data.py), and the
    # command line answers every DataError alike: one case, of the longest message, stands for all.
    damage, _ = DAMAGED_DATA["IDX files of another data set, no MD5SUMS"]
    data = Path(shutil.copytree(data_dir, tmp_path / "data"))
    damage(data)
    message = loader_error(lambda: load_dataset(data_dir=data))
    line = refused(capsys, 1, message, *train(tmp_path / "out", data))
    assert line == f"python -m vae_lib: error: {message}"  # the loader's words, whole, on one line
    assert not (tmp_path / "out").exists()


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
    # --validation reaches the split, whose words test_data.py asserts.
    message = loader_error(lambda: with_validation_split(load_dataset(data_dir=data_dir)))
    refused(capsys, 1, message, *train(tmp_path / "out", data_dir, "--validation"))
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
    # No fallback, unlike training: the words are RunFolder.restore's (test_checkpoints.py).
    refused(capsys, 1, f"{checkpoint_file(run, 2, DATA)} is damaged (", *evaluate(run, data_dir))
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
    # Both points where a full disk stops a checkpoint, and the message, are in test_checkpoints.py;
    # here a run whose epoch 3 cannot be checkpointed stops with nothing else written.
    before = files(run)
    FULL_DISK["writing the data"](monkeypatch)
    refused(
        capsys,
        1,
        f"could not write checkpoint {run}/checkpoints/epoch-3: ",
        *train(run, data_dir, "--epochs", 3),
    )
    monkeypatch.undo()
    after = files(run)
    assert after.pop("config.json") != before.pop("config.json")  # now asking for 3 epochs
    assert after == before  # no partial checkpoint left, nothing else touched


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
