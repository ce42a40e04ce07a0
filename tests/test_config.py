"""TrainConfig: each setting checked once, saved to JSON and read back; retired ones."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from vae_lib.config import ConfigError, TrainConfig, family_run, tutorial_run


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"epochs": 0}, "epochs: 0 is not positive"),
        (
            {"learning_rate": float("nan")},
            "learning_rate: nan is not positive and finite",
        ),
        (
            {"precision": "float16"},
            "precision: 'float16' is not one of auto, float32, mixed_bfloat16",
        ),
        ({"kl": "exact"}, "kl: 'exact' is not one of monte_carlo, analytic"),
        (
            {"binarization": "grey"},
            "binarization: 'grey' is not one of static, dynamic, none",
        ),
        ({"filters": (32,)}, "filters: 32 is not two positive channel counts"),
        ({"lr_half_life": 0.0}, "lr_half_life: 0.0 is not positive and finite"),
        (
            {"dataset": "svhn"},
            "dataset: 'svhn' is not one of mnist, fashion_mnist, cifar10",
        ),
        ({"likelihood": "gaussian"}, "likelihood: 'gaussian' is not one of bernoulli, logistic, categorical"),
        ({"binarization": "none"}, "likelihood: bernoulli is a model of binary pixels"),
        ({"likelihood": "logistic"}, "binarization: the logistic likelihood models grey levels"),
        (
            {"likelihood": "categorical", "binarization": "dynamic"},
            "binarization: the categorical likelihood",
        ),
        ({"dataset": "cifar10"}, "dataset: cifar10's colour pixels are not binarized"),
        ({"beta": -1.0}, "beta: -1.0 is not zero or positive and finite"),
        ({"free_bits": 0.5}, "free_bits: needs kl=analytic"),
        ({"objective": "autoencoder", "beta": 4.0}, "objective: an autoencoder has no KL term"),
        ({"kl_warmup": 0.0}, "kl_warmup: 0.0 is not positive"),
    ],
)
def test_bad_config_is_refused(fields: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        TrainConfig(**fields)


def test_config_round_trips_through_json_and_old_files_get_new_defaults() -> None:
    config = TrainConfig(latent_dim=5, filters=(8, 16), lr_half_life=2.5)
    assert TrainConfig.from_json(config.to_json()) == config
    old = {k: v for k, v in config.to_json().items() if k != "lr_half_life"}
    assert TrainConfig.from_json(old) == dataclasses.replace(config, lr_half_life=None)


def test_retired_settings_load_at_the_value_that_changed_nothing() -> None:
    saved = TrainConfig().to_json()
    assert TrainConfig.from_json({**saved, "blocks": 0, "devices": 1}) == TrainConfig()
    for name, value in [("blocks", 2), ("devices", 4)]:
        with pytest.raises(ConfigError, match=f"a setting this version no longer has \\({name}\\)"):
            TrainConfig.from_json({**saved, name: value})


def test_judged_on_names_the_held_out_images() -> None:
    assert (TrainConfig().judged_on, TrainConfig(validation=True).judged_on) == (
        "test",
        "validation",
    )


def test_differences_name_the_settings_that_differ_but_epochs() -> None:
    base = TrainConfig()
    assert base.differences(dataclasses.replace(base, epochs=20)) == {}
    assert base.differences(dataclasses.replace(base, latent_dim=5, epochs=3)) == {"latent_dim": (2, 5)}


def test_tutorial_run_is_the_recipe_or_its_quick_version(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("VAE_QUICK", raising=False)
    assert tutorial_run() == (TrainConfig(precision="float32"), Path("runs/tutorial"))
    monkeypatch.setenv("VAE_QUICK", "1")
    config, folder = tutorial_run()
    assert (config.train_size, config.epochs, folder) == (
        2000,
        1,
        Path("runs/tutorial-quick"),
    )
    assert tutorial_run(quick=False)[0] == TrainConfig(precision="float32")


def test_family_run_is_one_recipe_with_the_chapters_change_and_a_quick_twin() -> None:
    config, folder = family_run("beta-4", quick=False, beta=4.0)
    assert (config.beta, config.batch_size, config.epochs, folder) == (4.0, 128, 10, Path("runs/beta-4"))
    assert config.differences(family_run("vae", quick=False)[0]) == {"beta": (4.0, 1.0)}
    quick, quick_folder = family_run("beta-4", quick=True, beta=4.0)
    assert (quick.train_size, quick.epochs, quick_folder) == (2000, 1, Path("runs/beta-4-quick"))
