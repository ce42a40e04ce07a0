"""What a finished run leaves in its folder besides its checkpoints: one image per epoch, the figures.

:class:`EpochImages` is the training hook that films the run; :func:`write_figures` draws
the report of its final weights with :mod:`vae_lib.plots` and saves it where
:class:`~vae_lib.run.RunFolder` says.
"""

from __future__ import annotations

import sys
from pathlib import Path

import imageio.v2 as imageio
import matplotlib.pyplot as plt
import numpy as np

from vae_lib import plots
from vae_lib.config import TrainConfig
from vae_lib.data import LabelledImages, held_out_images
from vae_lib.model import CVAE
from vae_lib.run import History, RunFolder


class EpochImages:
    """A training hook: after each epoch, decode the same 16 codes into ``epoch_NNNN.png``.

    The same z every epoch (:meth:`~vae_lib.model.CVAE.sample` of one seed) makes the
    frames a film of learning.
    """

    def __init__(self, run: RunFolder, seed: int = 0, n: int = 16) -> None:
        self.run, self.seed, self.n = run, seed, n

    def __call__(self, epoch: int, model: CVAE) -> None:
        probabilities = model.sample(self.n, seed=self.seed).numpy()
        mosaic = plots.tile(probabilities, ncols=int(np.ceil(np.sqrt(len(probabilities)))))
        levels = np.round(255 * np.clip(mosaic, 0.0, 1.0))
        # Grey images as dark digits on white (colour ones as they are), 3× upscaled so the GIF is readable.
        levels = 255 - levels if levels.ndim == 2 else levels
        frame = levels.repeat(3, axis=0).repeat(3, axis=1).astype(np.uint8)
        imageio.imwrite(self.run.epoch_image(epoch), frame)


def readable_frames(run: RunFolder) -> list[Path]:
    """The run's epoch images that load; one cut short by a kill is left out of the GIF, with a warning."""
    frames = []
    for path in run.epoch_images():
        try:
            imageio.imread(path)
        except (OSError, ValueError, SyntaxError) as err:  # PIL's word for a broken PNG is SyntaxError
            reason = " ".join(str(err).split())
            print(f"warning: {path} is damaged ({reason}); progress.gif leaves it out", file=sys.stderr)
            continue
        frames.append(path)
    return frames


def _save(fig: plt.Figure, path: Path) -> None:
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)


def write_figures(
    run: RunFolder, model: CVAE, history: History, mnist: LabelledImages, config: TrainConfig
) -> None:
    """The report figures of a finished run, into its folder (2-D latent spaces get two more)."""
    test, labels = held_out_images(mnist, config)
    if frames := readable_frames(run):
        plots.save_gif(frames, run.figure("progress.gif"))
    _save(plots.plot_history(history), run.figure("training_curves.png"))
    _save(plots.plot_samples(model, seed=config.seed, dataset=config.dataset), run.figure("samples.png"))
    given = labels[:12] if config.conditional else None
    _save(plots.plot_reconstructions(model, test[:12], given), run.figure("reconstructions.png"))
    if config.latent_dim == 2 and not config.conditional:  # a conditional model's plane depends on y
        _save(plots.plot_latent_manifold(model, dataset=config.dataset), run.figure("latent_manifold.png"))
        scatter = plots.plot_latent_scatter(model, test, labels, dataset=config.dataset)
        _save(scatter, run.figure("latent_scatter.png"))
