"""The committed results of the results chapter: the weights reproduce their metrics."""

from __future__ import annotations

from pathlib import Path

import pytest

from vae_lib.data import Mnist, binary_test_images
from vae_lib.evaluate import evaluate
from vae_lib.run import RunFolder

RESULTS = Path(__file__).parent.parent / "results" / "latent50"
TUTORIAL_BEST_ELBO = -78.3  # the original tutorial: latent 50, 100 epochs


def test_committed_weights_reproduce_the_committed_test_elbo(mnist: Mnist) -> None:
    run = RunFolder(RESULTS)
    metrics = run.read_metrics()
    config, model, history = run.load()
    assert config.latent_dim == 50
    elbo = evaluate(model, binary_test_images(mnist))["test_elbo"]
    assert elbo == pytest.approx(metrics.test_elbo, abs=0.5)
    assert elbo > TUTORIAL_BEST_ELBO
    assert len(history) == metrics.epochs < 100
