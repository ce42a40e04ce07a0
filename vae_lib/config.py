"""The settings of a training run: :class:`TrainConfig`, the one place each of them is defined.

Each field carries its help text; the command line derives its options from the
fields (name, type, default, choices, help) and hands every value to
:class:`TrainConfig`, which checks them all, once, in ``__post_init__``.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import os
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args, get_origin, get_type_hints

# How pixels reach the model: thresholded once, sampled afresh, or kept as their 8-bit levels.
Binarization = Literal["static", "dynamic", "none"]
# MNIST's digits, or Zalando's Fashion-MNIST: the same IDX format, image size and ten classes;
# or CIFAR-10's 32×32 colour photographs (ten classes too).
Dataset = Literal["mnist", "fashion_mnist", "cifar10"]
# The decoder's p(x|z) (vae_lib.likelihoods): binary pixels, 8-bit levels, or a density on [0, 1].
Likelihood = Literal["bernoulli", "logistic", "categorical", "continuous_bernoulli"]
KlEstimator = Literal["monte_carlo", "analytic"]
# The prior p(z) (vae_lib.priors): N(0, I), a learned mixture of Gaussians, or a VampPrior.
PriorChoice = Literal["standard_normal", "mixture", "vamp"]
# What training maximizes: the ELBO (a VAE), the importance-weighted bound L_k (an IWAE), or
# log p(x | z = the encoder's mean) alone (an autoencoder).
Objective = Literal["elbo", "iwae", "autoencoder"]
# The networks' hidden units: the tutorial's ReLU, or the ELU of Clevert et al. (2016).
Activation = Literal["relu", "elu"]
# "mixed_bfloat16" computes in bfloat16 and keeps float32 weights: faster only where the
# hardware has bfloat16 units (vae_lib.hardware). A run resolves "auto" to one of the two.
PrecisionChoice = Literal["auto", "float32", "mixed_bfloat16"]

Check = Callable[[Any], str | None]  # a value → what is wrong with it, or None


def _positive(value: float) -> str | None:
    if 0 < value < math.inf:
        return None
    return f"{value} is not positive" + ("" if isinstance(value, int) else " and finite")


def _not_negative(value: float) -> str | None:
    return None if 0 <= value < math.inf else f"{value} is not zero or positive and finite"


def _two_positive(value: tuple[int, ...]) -> str | None:
    if len(value) != 2 or min(value) < 1:
        return f"{','.join(map(str, value))} is not two positive channel counts like 32,64"
    return None


def setting(default: Any, help: str, check: Check | None = None) -> Any:
    """A :class:`TrainConfig` field: its default, its help text and the check of its value."""
    return field(default=default, metadata={"help": help, "check": check})


class ConfigError(ValueError):
    """A setting has a value it cannot take; ``name`` is the field's name."""

    def __init__(self, name: str, problem: str) -> None:
        super().__init__(f"{name}: {problem}")
        self.name, self.problem = name, problem


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides a run's numbers.

    Defaults are the tutorial's recipe, but for ``precision``: ``"auto"`` computes
    in bfloat16 where the hardware does so natively (see :func:`tutorial_run`).
    """

    latent_dim: int = setting(2, "size of the latent space z", _positive)
    epochs: int = setting(10, "passes over the training set (a finished run may be given more)", _positive)
    batch_size: int = setting(32, "images per step", _positive)
    learning_rate: float = setting(1e-4, "Adam's learning rate", _positive)
    lr_half_life: float | None = setting(
        None, "epochs after which the learning rate has halved (default: constant)", _positive
    )
    dataset: Dataset = setting(
        "mnist",
        "the images: mnist (handwritten digits), fashion_mnist (Zalando's clothing, same format) or "
        "cifar10 (32×32 colour photographs; needs binarization=none)",
    )
    train_size: int | None = setting(None, "first N training images (default: all)", _positive)
    validation: bool = setting(
        False,
        "for choosing settings: train on all but the last 10,000 training images and report on those "
        "instead of the test set",
    )
    seed: int = setting(0, "seed of weights, shuffles, ε and dynamic binarization")
    binarization: Binarization = setting(
        "static",
        "static: threshold once (the tutorial); dynamic: a fresh Bernoulli sample every epoch; "
        "none: keep the 8-bit levels, for an 8-bit likelihood",
    )
    likelihood: Likelihood = setting(
        "bernoulli",
        "the decoder's p(x|z): bernoulli (binary pixels); logistic (discretized logistic) or "
        "categorical (256-way) for 8-bit pixels; continuous_bernoulli (a density on [0, 1])",
    )
    kl: KlEstimator = setting(
        "monte_carlo", "KL estimator of the training loss (monte_carlo: the tutorial's one-sample estimate)"
    )
    objective: Objective = setting(
        "elbo",
        "elbo: a VAE; iwae: the importance-weighted bound L_k with k = iwae_samples (Burda et al. 2016); "
        "autoencoder: the same networks with no noise and no KL, trained on log p(x | z = mean)",
    )
    iwae_samples: int = setting(5, "k of objective=iwae: posterior samples per image and step", _positive)
    prior: PriorChoice = setting(
        "standard_normal",
        "p(z): standard_normal (the tutorial's N(0, I)); mixture (of prior_components learned Gaussians); "
        "vamp (the encoder's posteriors at prior_components learned pseudo-inputs, Tomczak & Welling 2018)",
    )
    prior_components: int = setting(500, "components K of a mixture or VampPrior", _positive)
    beta: float = setting(
        1.0, "weight of the KL term in the training loss (1: the ELBO; β-VAE: above 1)", _not_negative
    )
    kl_warmup: float | None = setting(
        None, "epochs over which β rises linearly from 0 to its value (default: none)", _positive
    )
    free_bits: float = setting(
        0.0,
        "nats per latent dimension below which its batch-mean KL is not penalized (needs kl=analytic)",
        _not_negative,
    )
    conditional: bool = setting(False, "condition encoder and decoder on the label (a conditional VAE)")
    filters: tuple[int, int] = setting((32, 64), "channels of the two strided convolutions", _two_positive)
    activation: Activation = setting("relu", "the hidden layers' nonlinearity: relu (the tutorial) or elu")
    precision: PrecisionChoice = setting(
        "auto",
        "auto: mixed_bfloat16 (bfloat16 compute, float32 weights) where the hardware computes bfloat16 "
        "natively (a GPU of compute capability 8.0+, a CPU with AVX512-BF16 or AMX), else float32, "
        "since bfloat16 without such units is several times slower",
    )
    xla: bool = setting(False, "compile each training step with XLA (slower on CPU: see bench/README.md)")

    def __post_init__(self) -> None:
        for spec in dataclasses.fields(self):
            value, kind = getattr(self, spec.name), field_types()[spec.name]
            if value is None and is_optional(kind):
                continue
            if get_origin(kind) is Literal and value not in get_args(kind):
                raise ConfigError(spec.name, f"{value!r} is not one of {', '.join(get_args(kind))}")
            if (check := spec.metadata["check"]) and (problem := check(value)):
                raise ConfigError(spec.name, problem)
        if self.free_bits and self.kl != "analytic":
            raise ConfigError("free_bits", "needs kl=analytic (it clamps each dimension's closed-form KL)")
        if self.objective == "autoencoder" and (self.beta != 1.0 or self.kl_warmup or self.free_bits):
            raise ConfigError("objective", "an autoencoder has no KL term for beta, kl_warmup or free_bits")
        learned = self.prior != "standard_normal"
        if learned and (self.kl == "analytic" or self.free_bits):
            raise ConfigError(
                "prior", f"a {self.prior} prior has no closed-form KL: use kl=monte_carlo, and no free_bits"
            )
        if self.prior == "vamp" and self.conditional:
            raise ConfigError(
                "prior", "a VampPrior mixes the posteriors of images without labels: it cannot be conditional"
            )
        if self.objective == "iwae" and (self.beta != 1.0 or self.kl_warmup or self.free_bits):
            raise ConfigError(
                "objective", "the iwae bound has no separate KL term for beta, kl_warmup or free_bits"
            )
        binary = self.binarization != "none"
        if self.likelihood == "bernoulli" and not binary:
            raise ConfigError(
                "likelihood",
                "bernoulli is a model of binary pixels, and binarization=none keeps 8-bit ones: "
                "binarize them "
                "(static or dynamic) or use an 8-bit likelihood (logistic or categorical)",
            )
        if self.likelihood != "bernoulli" and binary:
            raise ConfigError(
                "binarization",
                f"the {self.likelihood} likelihood models grey levels, not binary pixels: "
                "use binarization=none",
            )
        if self.dataset == "cifar10" and binary:
            raise ConfigError(
                "dataset",
                "cifar10's colour pixels are not binarized: use binarization=none and an 8-bit likelihood",
            )

    @property
    def judged_on(self) -> str:
        """The images the run's ELBO is reported on: ``"test"``, or ``"validation"`` with ``validation``."""
        return "validation" if self.validation else "test"

    def to_json(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, fields: dict) -> TrainConfig:
        """The config saved by :meth:`to_json`; fields added since then take their defaults.

        A setting this version no longer has is accepted at the value that means what
        this version does, and refused at any other (:data:`RETIRED`).
        """
        fields = dict(fields)
        for name, meaning in RETIRED.items():
            if name in fields and fields.pop(name) != meaning:
                raise ConfigError(
                    name, f"the run was made with a setting this version no longer has ({name})"
                )
        return cls(**{**fields, "filters": tuple(fields.get("filters", cls.filters))})

    def differences(self, other: TrainConfig, ignore: tuple[str, ...] = ("epochs",)) -> dict:
        """``{name: (self's value, other's value)}`` of the settings that differ."""
        return {
            f.name: (getattr(self, f.name), getattr(other, f.name))
            for f in dataclasses.fields(self)
            if f.name not in ignore and getattr(self, f.name) != getattr(other, f.name)
        }


# Settings of earlier versions → the value each had when it changed nothing: residual blocks in the
# decoder (gained 0.1 nats at most, chapter 8) and batches split over several GPUs.
RETIRED = {"blocks": 0, "devices": 1}


@functools.cache
def field_types() -> dict[str, Any]:
    """Each :class:`TrainConfig` field's type, evaluated (the annotations are strings here)."""
    return get_type_hints(TrainConfig)


def is_optional(kind: Any) -> bool:
    return isinstance(kind, types.UnionType) and type(None) in get_args(kind)


QUICK_ENV = "VAE_QUICK"


def tutorial_run(quick: bool | None = None) -> tuple[TrainConfig, Path]:
    """The tutorial's recipe and the folder the book's chapters train it into.

    ``quick`` (default: ``$VAE_QUICK`` is ``1``) selects the reduced run that
    the book's tests execute: the first 2,000 training images for one epoch,
    in a folder of its own so that the two runs never mix. The recipe computes
    in float32, not ``"auto"``, so that the book's numbers are the same on every machine.
    """
    if quick is None:
        quick = os.environ.get(QUICK_ENV) == "1"
    recipe = TrainConfig(precision="float32")
    if quick:
        return dataclasses.replace(recipe, train_size=2000, epochs=1), Path("runs/tutorial-quick")
    return recipe, Path("runs/tutorial")


def family_run(name: str, quick: bool | None = None, **changes: Any) -> tuple[TrainConfig, Path]:
    """The recipe of the chapters on the VAE family (9–13) with ``changes``, and its folder.

    The tutorial's networks, trained faster: batches of 128 at a learning rate of 1e-3
    for 10 epochs (2 to 5 minutes on two CPU cores, a quarter of chapter 5's recipe's time,
    and to a better test ELBO), in float32 so that every machine gives the book's
    numbers. Every model of those chapters shares it, so that what differs between two
    of them is the one change a chapter makes. ``quick`` (default:
    ``$VAE_QUICK`` is ``1``) trains on the first 2,000 images for one epoch, as
    :func:`tutorial_run` does, in ``runs/<name>-quick``.
    """
    if quick is None:
        quick = os.environ.get(QUICK_ENV) == "1"
    recipe = TrainConfig(batch_size=128, learning_rate=1e-3, precision="float32", **changes)
    if quick:
        return dataclasses.replace(recipe, train_size=2000, epochs=1), Path(f"runs/{name}-quick")
    return recipe, Path(f"runs/{name}")
