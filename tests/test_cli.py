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
from vae_lib.data import load_mnist
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
    whole = train(config, mnist=load_mnist(idx_folder), progress=False).history
    drop = "seconds"
    assert [{k: v for k, v in r.items() if k != drop} for r in resumed] == [
        {k: v for k, v in r.items() if k != drop} for r in whole
    ]
