"""The command line end to end, on a small IDX folder: it parses, calls and prints.

Its answers to bad input are in test_bad_inputs.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from vae_lib.cli import main
from vae_lib.config import TrainConfig
from vae_lib.data import load_dataset
from vae_lib.run import RunFolder
from vae_lib.train import train


def test_train_then_evaluate(tmp_path: Path, idx_folder: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "run"
    common = ["--data-dir", str(idx_folder), "--quiet"]
    # float32: the same numbers on every machine; a rate at which 8 steps learn
    # something.
    recipe = [
        "--epochs",
        "2",
        "--batch-size",
        "25",
        "--seed",
        "1",
        "--precision",
        "float32",
    ]
    recipe += ["--learning-rate", "3e-3"]
    assert main(["train", "--out", str(out), *recipe, *common]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["epochs"] == 2 and metrics["test_elbo"] < 0 and metrics["bound"] is None
    printed = capsys.readouterr().out
    assert f"test ELBO after 2 epochs: {metrics['test_elbo']:.2f} nats" in printed
    assert f"float32); results in {out}" in printed

    assert main(["evaluate", str(out), "--iw-samples", "20", *common]) == 0
    metrics = RunFolder(out).read_metrics()
    bound = metrics.bound
    assert (bound.k, bound.images, bound.total, bound.subset_seed) == (20, 50, 50, None)
    # Same data, same weights: the tighter bound sits above the ELBO.
    assert metrics.test_elbo < bound.mean < 0
    assert bound.elbo == pytest.approx(metrics.test_elbo)  # the same 50 images, the same noise
    printed = capsys.readouterr().out
    assert f"L_20: {bound.mean:.2f} ± {bound.stderr:.2f} nats" in printed
    assert "thresholded at 0.5" in printed and metrics.config["binarization"] == "static"
    assert "estimated" not in printed and bound.estimate == pytest.approx(bound.mean)

    # Bounding a subset estimates the whole set's bound as well.
    assert main(["evaluate", str(out), "--iw-samples", "20", "--iw-images", "20", *common]) == 0
    subset = RunFolder(out).read_metrics().bound
    assert (subset.images, subset.subset_seed) == (20, 5000)
    assert subset.estimate_stderr < subset.stderr
    printed = capsys.readouterr().out
    assert "on 20 of them (random, seed 5000)" in printed
    assert f"L_20 of all 50, estimated: {subset.estimate:.2f}" in printed
    assert main(["evaluate", str(out), "--iw-samples", "20", *common]) == 0  # back to all 50
    metrics_file = (out / "metrics.json").read_bytes()

    # The same command on the finished run trains nothing and keeps evaluate's figures.
    assert main(["train", "--out", str(out), *recipe, *common]) == 0
    assert (out / "metrics.json").read_bytes() == metrics_file


def test_an_interrupted_evaluation_resumes_to_the_same_bound(
    tmp_path: Path, idx_folder: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    out, common = tmp_path / "run", ["--data-dir", str(idx_folder), "--quiet"]
    recipe = ["--epochs", "1", "--batch-size", "25", "--precision", "float32"]
    assert main(["train", "--out", str(out), *recipe, *common]) == 0
    evaluate = ["evaluate", str(out), "--iw-samples", "20", *common]
    assert main(evaluate) == 0
    whole = RunFolder(out).read_metrics().bound
    kept = out / "bounds-epoch-1-k20.csv"
    assert len(kept.read_text().splitlines()) == 1 + 50  # a header, then one row per test image
    kept.unlink()

    # Stopped (Ctrl-C) after two batches of ten images, the second one's last line cut short.
    append, calls = RunFolder.append_bounds, []

    def append_then_stop(self: RunFolder, *args: object) -> None:
        append(self, *args)
        calls.append(args)
        if len(calls) == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(RunFolder, "append_bounds", append_then_stop)
    capsys.readouterr()
    assert main(evaluate) == 130
    assert "continue from the images not yet bounded" in capsys.readouterr().err
    kept.write_bytes(kept.read_bytes()[:-5])
    assert len(RunFolder(out).read_bounds(20)) == 19

    monkeypatch.setattr(RunFolder, "append_bounds", append)
    assert main(evaluate) == 0
    resumed = RunFolder(out).read_metrics().bound
    assert resumed.mean == pytest.approx(whole.mean, abs=1e-9) and resumed.images == 50
    rows = kept.read_text().splitlines()[1:]
    assert sorted(int(row.split(",")[0]) for row in rows) == list(range(50))  # each image once

    kept.write_text(kept.read_text().replace(rows[3], "7,not a number,0.1"))
    capsys.readouterr()
    assert main(evaluate) == 1
    error = capsys.readouterr().err.strip()
    assert f"{kept} is damaged (line 5 is '7,not a number,0.1'" in error and "\n" not in error


@pytest.mark.subprocess
def test_killed_run_continues_with_the_same_command_to_the_same_history(
    tmp_path: Path, idx_folder: Path
) -> None:
    """A real process, killed (SIGKILL) mid-run, then the same command again."""
    out, epochs = tmp_path / "run", 20
    command = [
        sys.executable,
        "-m",
        "vae_lib",
        "train",
        "--out",
        str(out),
        "--epochs",
        str(epochs),
    ]
    command += [
        "--batch-size",
        "10",
        "--precision",
        "float32",
        "--data-dir",
        str(idx_folder),
        "--quiet",
    ]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    # history.csv is written (atomically) after the epoch's checkpoint: once it exists, at
    # least one epoch is on disk in both.
    while not (out / "history.csv").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    process.kill()
    process.wait()
    finished = len((out / "history.csv").read_text().splitlines()) - 1
    assert 1 <= finished < epochs
    assert not (out / "metrics.json").exists()
    subprocess.run(command, check=True, capture_output=True)
    resumed = RunFolder(out).read_history()
    assert [row["epoch"] for row in resumed] == list(range(1, epochs + 1))
    # The run never stopped gives the same numbers, epoch by epoch.
    config = TrainConfig(epochs=epochs, batch_size=10, precision="float32")
    whole = train(config, mnist=load_dataset(data_dir=idx_folder), progress=False).history
    drop = "seconds"
    assert [{k: v for k, v in r.items() if k != drop} for r in resumed] == [
        {k: v for k, v in r.items() if k != drop} for r in whole
    ]


def test_ctrl_c_in_training_says_how_to_continue_and_the_same_command_does(
    tmp_path: Path, idx_folder: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the command line adds to a resume: status 130, its advice, and that the advice holds.

    That a resumed run reaches the same numbers as one never stopped is above (a killed
    process); that a killed process's lock blocks nothing, in test_bad_inputs.py.
    """
    out = tmp_path / "run"
    argv = ["train", "--out", str(out), "--epochs", "2", "--batch-size", "25", "--precision", "float32"]
    argv += ["--data-dir", str(idx_folder), "--quiet"]
    write_history = RunFolder.write_history

    def write_then_stop(self: RunFolder, history: list[dict]) -> None:  # Ctrl-C once epoch 1 is saved
        write_history(self, history)
        raise KeyboardInterrupt

    monkeypatch.setattr(RunFolder, "write_history", write_then_stop)
    assert main(argv) == 130
    advice = "interrupted: run the same command again to continue from the last finished epoch"
    assert capsys.readouterr().err.strip().endswith(advice)
    monkeypatch.undo()
    stopped = RunFolder(out).read_history()
    assert len(stopped) == 1 and not (out / "metrics.json").exists()
    assert main(argv) == 0
    resumed = RunFolder(out).read_history()
    # Epoch 1 as it was, its time included: continued from its checkpoint, not trained again.
    assert [row["epoch"] for row in resumed] == [1, 2] and resumed[0] == stopped[0]
    assert RunFolder(out).read_metrics().epochs == 2
