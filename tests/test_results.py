"""The committed results: each run's weights reproduce the test ELBO in its metrics.json."""

from __future__ import annotations

import shutil
import urllib.request
from pathlib import Path

import pytest
import yaml

from vae_lib.data import Mnist, binary_test_images
from vae_lib.evaluate import evaluate
from vae_lib.run import RESULTS_URL, RunFolder, committed_run

RESULTS = Path(__file__).parent.parent / "results"
TUTORIAL_BEST_ELBO = -78.3  # the original tutorial: latent 50, 100 epochs, thresholded test set


PAPERS_RUNS = ["tutorial-dynamic", "latent50-dynamic", "latent50-dynamic-160"]
TWO_LAYER_VAE = -85.33  # Burda et al. (2016), Table 1: L_5000, dynamically binarized MNIST
VALIDATION_RUNS = ["wide-lr1e-3", "blocks-lr1e-3", "wide-lr2e-3", "blocks-lr2e-3"]


@pytest.mark.parametrize("name", ["latent50", *PAPERS_RUNS])
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


def test_the_papers_protocol_figures_name_their_protocol_and_are_consistent() -> None:
    tutorial, wide, best = (RunFolder(RESULTS / name).read_metrics() for name in PAPERS_RUNS)
    for metrics in (tutorial, wide, best):
        assert (metrics.protocol, metrics.iw_samples) == ("dynamic", 5000)
        assert metrics.iw_images is not None and metrics.iw_images >= 1000 and metrics.iw_stderr > 0
        # The bound is tighter than the ELBO of the same images, and of all images.
        assert metrics.iw_images_elbo < metrics.test_iw_bound < 0
        assert metrics.test_elbo < metrics.test_iw_estimate < 0
        assert 0 < metrics.iw_estimate_stderr < metrics.iw_stderr / 2
    assert wide.test_iw_bound > tutorial.test_iw_bound + 50
    # The model chapter 8 puts in the table beats the two-layer VAE by more than 3 standard errors.
    assert best.test_iw_estimate - 3 * best.iw_estimate_stderr > TWO_LAYER_VAE
    assert best.epochs * best.seconds_per_epoch < 60 * 60  # trained within the hour


@pytest.mark.parametrize("name", VALIDATION_RUNS)
def test_settings_were_chosen_on_validation_images(name: str) -> None:
    run = RunFolder(RESULTS / "validation" / name)
    config, history = run.read_config(), run.read_history()
    assert config.validation and config.binarization == "dynamic" and len(history) == config.epochs
    assert run.read_metrics().test_elbo == pytest.approx(history[-1]["test_elbo"])
    assert not run.checkpoints.exists()  # their figures only


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


@pytest.mark.parametrize("weights", [True, False])
def test_committed_run_is_downloaded_where_there_is_no_clone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, weights: bool
) -> None:
    fetched = []

    def urlretrieve(url: str, path: Path) -> None:  # the repository's raw files, served from this clone
        relative = url.removeprefix(RESULTS_URL)
        fetched.append(relative)
        shutil.copyfile(RESULTS / relative, path)

    monkeypatch.setattr(urllib.request, "urlretrieve", urlretrieve)
    monkeypatch.chdir(tmp_path)
    run = committed_run("latent50-dynamic", weights=weights)
    assert run.read_history() == RunFolder(RESULTS / "latent50-dynamic").read_history()
    assert fetched[-1] == "latent50-dynamic/config.json"  # last: a complete folder has it
    assert any(name.endswith("model.weights.h5") for name in fetched) == weights
    if weights:
        assert len(run.load(precision="float32")[2]) == 120
