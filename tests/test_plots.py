from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytest

from vae_lib import plots
from vae_lib.data import LabelledImages, binarize_static
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


def test_two_d_figures_refuse_other_latent_sizes(mnist: LabelledImages) -> None:
    wide = CVAE(latent_dim=3)
    with pytest.raises(ValueError, match="needs a 2-D latent space, this model has 3"):
        plots.latent_manifold(wide)
    with pytest.raises(ValueError, match="needs a 2-D latent space"):
        plots.plot_latent_scatter(wide, binarize_static(mnist.test_images[:10]), mnist.test_labels[:10])


def test_every_figure_draws(model: CVAE, mnist: LabelledImages) -> None:
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
        plots.plot_interpolation(model, {"0 to 1": (x[0], x[1]), "2 to 3": (x[2], x[3])}, steps=5),
        plots.plot_history(history),
    ]
    assert all(fig.axes for fig in figures)
    assert [ax.get_ylabel() for ax in figures[5].axes] == ["0 to 1", "2 to 3"]
    # Drawn no wider than the page and scaled to its column, a figure's text reads at the body
    # text's size only if it is at least LABEL_SIZE: tick labels and legends included.
    for fig in figures:
        fig.canvas.draw()  # tick labels exist once drawn
        assert fig.get_figwidth() <= plots.PAGE_WIDTH
        sizes = {t.get_text(): t.get_fontsize() for t in fig.findobj(plt.Text) if t.get_text().strip()}
        small = {text: size for text, size in sizes.items() if size < plots.LABEL_SIZE}
        assert not small, f"text below {plots.LABEL_SIZE} pt: {small}"


def test_gif_needs_frames(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no frames"):
        plots.save_gif([], tmp_path / "empty.gif")
