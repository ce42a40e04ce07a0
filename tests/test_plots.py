from __future__ import annotations

from pathlib import Path

import imageio.v2 as imageio
import matplotlib.pyplot as plt
import numpy as np
import pytest

from vae_lib import plots
from vae_lib.data import Mnist, binarize_static
from vae_lib.model import CVAE


@pytest.fixture(scope="module")
def model() -> CVAE:
    return CVAE(latent_dim=2)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_tile_lays_images_out_row_by_row() -> None:
    images = np.arange(5)[:, None, None, None] * np.ones((5, 2, 3, 1))
    mosaic = plots.tile(images, ncols=2)
    assert mosaic.shape == (6, 6)
    assert mosaic[0, 3] == 1 and mosaic[2, 0] == 2 and mosaic[4, 0] == 4
    assert (mosaic[4:, 3:] == 0).all()  # the empty sixth cell


def test_manifold_decodes_a_grid_of_prior_quantiles(model: CVAE) -> None:
    manifold = plots.latent_manifold(model, n=5)
    assert manifold.shape == (140, 140)
    # The centre cell is z = (0, 0): the median of N(0, 1) in both coordinates.
    centre = model.decode(np.zeros((1, 2), np.float32), apply_sigmoid=True).numpy()[0, :, :, 0]
    np.testing.assert_allclose(manifold[56:84, 56:84], centre, atol=1e-6)


def test_two_d_figures_refuse_other_latent_sizes(mnist: Mnist) -> None:
    wide = CVAE(latent_dim=3)
    with pytest.raises(ValueError, match="needs a 2-D latent space, this model has 3"):
        plots.latent_manifold(wide)
    with pytest.raises(ValueError, match="needs a 2-D latent space"):
        plots.plot_latent_scatter(wide, binarize_static(mnist.test_images[:10]), mnist.test_labels[:10])


def test_interpolation_starts_and_ends_at_the_two_codes(model: CVAE, mnist: Mnist) -> None:
    a, b = binarize_static(mnist.test_images[:2])
    path = plots.interpolate(model, a, b, steps=6)
    assert path.shape == (6, 28, 28, 1)
    np.testing.assert_allclose(path[[0, -1]], plots.reconstruct(model, np.stack([a, b])), atol=1e-6)


def test_every_figure_draws(model: CVAE, mnist: Mnist) -> None:
    x = binarize_static(mnist.test_images[:100])
    history = [
        {
            "epoch": e,
            "train_loss": 200.0 - e,
            "test_elbo": e - 200.0,
            "test_reconstruction": e - 195.0,
            "test_kl": 5.0,
        }
        for e in (1, 2)
    ]
    figures = [
        plots.plot_samples(model, n=8),
        plots.plot_reconstructions(model, x[:6]),
        plots.plot_image_rows({"a": x[:3], "b": x[3:8]}),
        plots.plot_latent_manifold(model, n=4),
        plots.plot_latent_scatter(model, x, mnist.test_labels[:100]),
        plots.plot_interpolation(model, [(x[0], x[1]), (x[2], x[3])], steps=5),
        plots.plot_history(history),
    ]
    assert all(fig.axes for fig in figures)


def test_epoch_images_become_an_animated_gif(tmp_path: Path) -> None:
    hook = plots.EpochImages(tmp_path, latent_dim=2, n=9)
    for epoch in range(3):
        hook(epoch, CVAE(latent_dim=2))  # new weights: frames that differ, as in training
    frames = hook.frames()
    assert [f.name for f in frames] == ["epoch_0000.png", "epoch_0001.png", "epoch_0002.png"]
    assert imageio.imread(frames[0]).shape == (3 * 84, 3 * 84)
    gif = plots.save_gif(frames, tmp_path / "progress.gif")
    assert len(imageio.mimread(gif)) == 3


def test_gif_needs_frames(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no frames"):
        plots.save_gif([], tmp_path / "empty.gif")
