"""The committed results: each run's weights give the test ELBO in its metrics.json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from vae_lib.config import TrainConfig
from vae_lib.data import LabelledImages, held_out_images
from vae_lib.evaluate import SUBSET_SEED, evaluate
from vae_lib.literature import rows
from vae_lib.run import RESULTS_URL, RunFolder, committed_run

RESULTS = Path(__file__).parent.parent / "results"
PAPERS_RUNS = ["tutorial-dynamic", "latent50-dynamic", "latent50-dynamic-160"]
FINAL_RUN = "latent50-mixture"  # chapter 15's final model
VALIDATION_RUNS = ["wide-lr1e-3", "blocks-lr1e-3", "wide-lr2e-3", "blocks-lr2e-3"]


@pytest.mark.parametrize("name", ["latent50", *PAPERS_RUNS, FINAL_RUN])
def test_committed_weights_reproduce_the_committed_test_elbo(mnist: LabelledImages, name: str) -> None:
    run = RunFolder(RESULTS / name)
    metrics = run.read_metrics()
    # float32, as `python -m vae_lib evaluate` measures, whatever the run trained in.
    config, model, history = run.load()
    assert TrainConfig.from_json(metrics.config) == config
    elbo = evaluate(model, held_out_images(mnist, config)[0])["test_elbo"]
    # Re-evaluated on a Xeon with AMX, in float32, the four came within 0.062 nats of their
    # committed figures.
    assert elbo == pytest.approx(metrics.test_elbo, abs=0.2)
    assert len(history) == metrics.epochs


def test_the_papers_protocol_figures_name_their_protocol_and_are_consistent() -> None:
    tutorial, wide, best = (RunFolder(RESULTS / name).read_metrics() for name in PAPERS_RUNS)
    for metrics in (tutorial, wide, best):
        bound = metrics.bound
        assert (metrics.config["binarization"], bound.k, bound.total) == (
            "dynamic",
            5000,
            10_000,
        )
        assert bound.images >= 1000 and bound.stderr > 0
        assert bound.subset_seed == (None if bound.images == bound.total else SUBSET_SEED)
        # The bound is tighter than the ELBO of the same images, and of all images.
        assert bound.elbo < bound.mean < 0
        assert metrics.test_elbo < bound.estimate < 0
        assert 0 < bound.estimate_stderr < bound.stderr / 2
    assert wide.bound.mean > tutorial.bound.mean + 50
    assert best.epochs * best.seconds_per_epoch < 60 * 60  # trained within the hour
    # Above Burda et al.'s two-layer VAE trained with one sample by more than three standard
    # errors of the estimate (which cover the choice of bounded images, not the training seed).
    vae2_k1 = next(r for r in rows() if r.row == "MNIST / 2 stochastic layers / k=1 / VAE")
    assert best.bound.estimate - 3 * best.bound.estimate_stderr > vae2_k1.value


def test_the_final_model_is_the_results_recipe_with_a_mixture_prior_in_the_hour() -> None:
    final, results = (RunFolder(RESULTS / name).read_metrics() for name in (FINAL_RUN, PAPERS_RUNS[-1]))
    changed = TrainConfig.from_json(results.config).differences(TrainConfig.from_json(final.config))
    assert set(changed) == {"lr_half_life", "kl", "prior"}  # and the epochs, which it ignores
    assert changed["prior"] == ("standard_normal", "mixture") and not final.config["validation"]
    assert final.epochs * final.seconds_per_epoch < 60 * 60  # its steps, within the hour
    bound = final.bound
    assert (bound.k, bound.total) == (5000, 10_000) and bound.elbo < bound.mean < 0
    assert bound.subset_seed == (None if bound.images == bound.total else SUBSET_SEED)


@pytest.mark.parametrize("name", VALIDATION_RUNS)
def test_settings_were_chosen_on_validation_images(name: str) -> None:
    run = RunFolder(RESULTS / "validation" / name)
    # Records of vae_lib 0.1, which had --blocks: read as saved, not as a TrainConfig of today's.
    config, history = json.loads((run.path / "config.json").read_text()), run.read_history()
    assert config["validation"] and config["binarization"] == "dynamic" and len(history) == config["epochs"]
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


def test_the_readme_results_table_quotes_the_committed_metrics() -> None:
    """Each README row naming a committed run shows its metrics.json figures, to the hundredth."""
    readme = (RESULTS.parent / "README.md").read_text().replace("−", "-")
    quoted = {}
    for line in readme.splitlines():
        cells = [cell.strip().strip("*") for cell in line.strip("|").split("|")]
        runs = [name for name in [*PAPERS_RUNS, FINAL_RUN] if f"`results/{name}`" in cells[0]]
        if len(cells) == 5 and runs:
            quoted[runs[0]] = cells[1:]
    assert sorted(quoted) == sorted([*PAPERS_RUNS, FINAL_RUN])
    for name, (epochs, elbo, estimate, subset) in quoted.items():
        m = RunFolder(RESULTS / name).read_metrics()
        assert epochs == str(m.epochs), name
        assert elbo == f"{m.test_elbo:.2f}", name
        assert estimate == f"{m.bound.estimate:.2f} ± {m.bound.estimate_stderr:.2f}", name
        assert subset == f"{m.bound.mean:.2f} ± {m.bound.stderr:.2f}", name
