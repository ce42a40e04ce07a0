"""The command line end to end, on a subset; and its answers to bad input."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from vae_lib.cli import main
from vae_lib.data import FILES

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
    "epoch_0002.png",
    "checkpoints/latest",
]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["train"], "the following arguments are required: --out"),
        (["train", "--out", "x", "--epochs", "0"], "argument --epochs: 0 is not positive"),
        (
            ["train", "--out", "x", "--batch-size", "ten"],
            "argument --batch-size: 'ten' is not a whole number",
        ),
        (["train", "--out", "x", "--learning-rate", "nan"], "argument --learning-rate: nan is not positive"),
        (["train", "--out", "x", "--filters", "32"], "argument --filters: 32 is not two positive channel"),
        (["train", "--out", "x", "--filters", "a,b"], "argument --filters: 'a,b' is not channel counts"),
        (["train", "--out", "x", "--kl", "exact"], "argument --kl: invalid choice: 'exact'"),
        (["train", "--out", "x", "--lr-half-life", "0"], "argument --lr-half-life: 0.0 is not positive"),
        (["train", "--out", "x", "--devices", "0"], "argument --devices: 0 is not positive"),
        (["train", "--out", "x", "--blocks", "-1"], "argument --blocks: -1 is negative"),
        (["train", "--out", "x", "--binarization", "grey"], "invalid choice: 'grey'"),
        (["evaluate", "run", "--iw-samples", "-3"], "-3 is not positive"),
        (["fit"], "invalid choice: 'fit'"),
    ],
)
def test_bad_arguments_are_usage_errors(argv: list[str], message: str, capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "usage:" in err and message in err


def test_broken_data_folder_is_a_named_error(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["train", "--out", str(tmp_path / "run"), "--data-dir", str(tmp_path)]) == 1
    assert f"missing data file {tmp_path / FILES['train_images']}" in capsys.readouterr().err


def test_evaluating_a_folder_without_a_run_is_a_named_error(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    assert main(["evaluate", str(tmp_path)]) == 1
    assert "holds no training run" in capsys.readouterr().err


def test_train_then_evaluate(tmp_path: Path, idx_folder: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "run"
    common = ["--data-dir", str(idx_folder), "--quiet"]
    # float32: the same numbers on every machine; a rate at which 8 steps learn something.
    recipe = ["--epochs", "2", "--batch-size", "25", "--seed", "1", "--precision", "float32"]
    recipe += ["--learning-rate", "3e-3"]
    assert main(["train", "--out", str(out), *recipe, *common]) == 0
    for name in OUTPUTS:
        assert (out / name).exists(), name
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["epochs"] == 2 and metrics["test_elbo"] < 0
    assert "test ELBO after 2 epochs" in capsys.readouterr().out

    assert main(["evaluate", str(out), "--iw-samples", "20", *common]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["iw_samples"] == 20 and metrics["iw_images"] == 50
    # Same data, same weights: the tighter bound sits above the ELBO.
    assert metrics["test_elbo"] < metrics["test_iw_bound"] < 0
    assert metrics["iw_images_elbo"] == pytest.approx(metrics["test_elbo"], abs=1.0)  # the same 50 images
    out_text = capsys.readouterr().out
    assert f"L_20: {metrics['test_iw_bound']:.2f} ± {metrics['iw_stderr']:.2f} nats" in out_text
    assert "thresholded at 0.5" in out_text and metrics["protocol"] == "static"
    assert "estimated" not in out_text and metrics["test_iw_estimate"] == pytest.approx(
        metrics["test_iw_bound"]
    )

    # Bounding a subset estimates the whole set's bound as well.
    assert main(["evaluate", str(out), "--iw-samples", "20", "--iw-images", "20", *common]) == 0
    subset = json.loads((out / "metrics.json").read_text())
    assert subset["iw_images"] == 20 and subset["iw_subset"] == "random, seed 5000"
    assert subset["iw_estimate_stderr"] < subset["iw_stderr"]
    assert f"L_20 of all 50, estimated: {subset['test_iw_estimate']:.2f}" in capsys.readouterr().out
    assert main(["evaluate", str(out), "--iw-samples", "20", *common]) == 0  # back to all 50
    metrics = json.loads((out / "metrics.json").read_text())

    # The same command on the finished run trains nothing and keeps evaluate's figures.
    assert main(["train", "--out", str(out), *recipe, *common]) == 0
    assert json.loads((out / "metrics.json").read_text()) == metrics

    # Other settings in the same folder are refused rather than mixed in.
    assert main(["train", "--out", str(out), "--latent-dim", "3", *common]) == 1
    assert "holds a run with other settings" in capsys.readouterr().err


def test_killed_run_continues_with_the_same_command(tmp_path: Path, idx_folder: Path) -> None:
    """A real process, killed mid-run, then the same command again."""
    out = tmp_path / "run"
    command = [
        sys.executable,
        "-m",
        "vae_lib",
        "train",
        "--out",
        str(out),
        "--epochs",
        "20",
        "--batch-size",
        "10",
        "--data-dir",
        str(idx_folder),
        "--quiet",
    ]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not (out / "checkpoints" / "latest").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    process.kill()
    process.wait()
    finished = len((out / "history.csv").read_text().splitlines()) - 1
    assert 1 <= finished < 20
    assert not (out / "metrics.json").exists()
    subprocess.run(command, check=True, capture_output=True)
    epochs = [row.split(",")[0] for row in (out / "history.csv").read_text().splitlines()[1:]]
    assert epochs == [str(e) for e in range(1, 21)]
