"""The report of a run: the film of its epochs and the figures of its final weights."""

from __future__ import annotations

from pathlib import Path

import imageio.v2 as imageio
import pytest

from vae_lib import plots
from vae_lib.model import CVAE
from vae_lib.report import EpochImages, readable_frames
from vae_lib.run import RunFolder


def test_epoch_images_become_an_animated_gif(tmp_path: Path) -> None:
    run = RunFolder(tmp_path)
    hook = EpochImages(run, n=9)
    for epoch in range(3):
        hook(epoch, CVAE(latent_dim=2))  # new weights: frames that differ, as in training
    frames = readable_frames(run)
    assert [f.name for f in frames] == [
        "epoch_0000.png",
        "epoch_0001.png",
        "epoch_0002.png",
    ]
    assert imageio.imread(frames[0]).shape == (3 * 84, 3 * 84)
    gif = plots.save_gif(frames, tmp_path / "progress.gif")
    assert len(imageio.mimread(gif)) == 3


def test_every_frame_decodes_the_same_codes(tmp_path: Path) -> None:
    model = CVAE(latent_dim=2)
    first, again = (
        EpochImages(RunFolder(tmp_path / "a")),
        EpochImages(RunFolder(tmp_path / "b")),
    )
    for hook in (first, again):
        hook.run.create()
        hook(1, model)
    assert (tmp_path / "a" / "epoch_0001.png").read_bytes() == (
        tmp_path / "b" / "epoch_0001.png"
    ).read_bytes()


def test_a_damaged_frame_is_left_out_with_a_warning(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    run = RunFolder(tmp_path)
    hook = EpochImages(run)
    for epoch in range(2):
        hook(epoch, CVAE(latent_dim=2))
    path = run.epoch_image(1)
    path.write_bytes(path.read_bytes()[:100])
    assert readable_frames(run) == [run.epoch_image(0)]
    assert f"warning: {path} is damaged" in capsys.readouterr().err
