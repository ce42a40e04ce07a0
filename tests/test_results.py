"""The committed results: each run's weights reproduce the test ELBO in its metrics.json."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from vae_lib.data import Mnist, binary_test_images
from vae_lib.evaluate import evaluate
from vae_lib.run import RESULTS_URL, RunFolder, committed_run

RESULTS = Path(__file__).parent.parent / "results"
TUTORIAL_BEST_ELBO = -78.3  # the original tutorial: latent 50, 100 epochs, thresholded test set
IWAE_VAE_TWO_LAYERS = -85.33  # Burda et al. 2016, Table 1: L_5000, dynamically binarized MNIST


@pytest.mark.parametrize("name", ["latent50", "latent50-dynamic", "tutorial-dynamic"])
def test_committed_weights_reproduce_the_committed_test_elbo(mnist: Mnist, name: str) -> None:
    run = RunFolder(RESULTS / name)
    metrics = run.read_metrics()
    # float32, as `python -m vae_lib evaluate` measures, whatever the run trained in.
    config, model, history = run.load(precision="float32")
    assert metrics.protocol == config.binarization
    elbo = evaluate(model, binary_test_images(mnist, config.binarization))["test_elbo"]
    assert elbo == pytest.approx(metrics.test_elbo, abs=0.5)
    assert len(history) == metrics.epochs


def test_the_static_model_beats_the_tutorials_best() -> None:
    metrics = RunFolder(RESULTS / "latent50").read_metrics()
    assert metrics.test_elbo > TUTORIAL_BEST_ELBO and metrics.epochs < 100


def test_the_papers_protocol_model_beats_the_two_layer_vae() -> None:
    metrics = RunFolder(RESULTS / "latent50-dynamic").read_metrics()
    assert (metrics.protocol, metrics.iw_samples) == ("dynamic", 5000)
    assert metrics.iw_images is not None and metrics.iw_images >= 1000
    assert metrics.test_iw_bound is not None and metrics.test_iw_bound > IWAE_VAE_TWO_LAYERS


def test_committed_run_is_found_from_the_top_and_from_notebooks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    top = RESULTS.parent
    monkeypatch.chdir(top)
    assert committed_run("latent50").path == Path("results/latent50")
    monkeypatch.chdir(top / "notebooks")
    assert committed_run("latent50").read_config().latent_dim == 50


def test_the_download_address_is_the_books_repository() -> None:
    repository = yaml.safe_load((RESULTS.parent / "_config.yml").read_text())["repository"]["url"]
    owner_and_name = repository.removeprefix("https://github.com/")
    assert f"https://raw.githubusercontent.com/{owner_and_name}/main/results/" == RESULTS_URL
