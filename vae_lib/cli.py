"""The command line: ``python -m vae_lib train`` and ``python -m vae_lib evaluate``.

``train --out DIR`` trains (resuming DIR if it holds part of the same run) and
writes into DIR (:mod:`vae_lib.run`): ``checkpoints/``, ``history.csv``,
``epoch_NNNN.png`` (one per epoch), ``progress.gif``, ``training_curves.png``,
``samples.png``, ``reconstructions.png``, for a 2-D latent space
``latent_manifold.png`` and ``latent_scatter.png``, and ``metrics.json``.
Its options are :class:`~vae_lib.config.TrainConfig`'s fields.

``evaluate DIR`` reports the test ELBO and the importance-weighted bound L_k of
the run's latest checkpoint, with the protocol they were measured under, and
writes them with the run's other numbers to ``DIR/metrics.json`` (a run that
stopped early is evaluated as far as it got). Each image's bound is kept in DIR
as it is computed, so that an evaluation interrupted resumes (hours, at k = 5000
for all 10,000 test images on a CPU).

One process writes into a run folder at a time; another is refused, naming the
first's process id (:meth:`~vae_lib.run.RunFolder.lock`).

Exit status: 0 done, 1 a named error (bad or missing data, a damaged file in DIR,
other settings in DIR, DIR in use, a full disk, NaN loss), 2 a bad argument,
130 interrupted (run the same command to resume). An error is one line that
names the file or setting and what is wrong with it.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

from vae_lib.config import ConfigError, TrainConfig, field_types, is_optional
from vae_lib.data import DATASETS, VALIDATION_SIZE, DataError, load_dataset
from vae_lib.evaluate import evaluate_run
from vae_lib.likelihoods import bits_per_dim
from vae_lib.run import Metrics, RunFolderError
from vae_lib.train import NonFiniteLossError, train


def _number(kind: type) -> Callable[[str], Any]:
    noun = "a whole number" if kind is int else "a number"

    def parse(text: str) -> Any:
        try:
            return kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {noun}") from None

    return parse


def _channels(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not channel counts like 32,64") from None


def _positive_int(text: str) -> int:
    value = _number(int)(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not positive")
    return value


def add_config_options(parser: argparse.ArgumentParser) -> None:
    """One option per :class:`TrainConfig` field: ``--latent-dim`` for ``latent_dim``, and so on."""
    defaults = TrainConfig()
    for spec in dataclasses.fields(TrainConfig):
        flag, kind = "--" + spec.name.replace("_", "-"), field_types()[spec.name]
        default = getattr(defaults, spec.name)
        help_text = spec.metadata["help"]
        if kind is bool:
            parser.add_argument(flag, action="store_true", help=help_text)
            continue
        if is_optional(kind):
            kind = next(arg for arg in get_args(kind) if arg is not type(None))
        if get_origin(kind) is Literal:
            options: dict[str, Any] = {"choices": get_args(kind)}
        elif get_origin(kind) is tuple:
            options = {"type": _channels, "metavar": "A,B"}
            default = ",".join(map(str, default))
        else:
            options = {"type": _number(kind)}
        shown = "" if default is None else f" (default: {default})"
        parser.add_argument(flag, default=getattr(defaults, spec.name), help=help_text + shown, **options)


def config_from(args: argparse.Namespace, parser: argparse.ArgumentParser) -> TrainConfig:
    """The :class:`TrainConfig` of parsed ``args``; a value it refuses is a usage error (exit 2)."""
    try:
        return TrainConfig(**{f.name: getattr(args, f.name) for f in dataclasses.fields(TrainConfig)})
    except ConfigError as err:
        parser.error(f"argument --{err.name.replace('_', '-')}: {err.problem}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m vae_lib", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)

    tr = commands.add_parser(
        "train", help="train a CVAE on MNIST, Fashion-MNIST or CIFAR-10 and write its results"
    )
    tr.add_argument(
        "--out",
        required=True,
        type=Path,
        metavar="RUN_FOLDER",
        help="the run folder (resumed if it holds this run)",
    )
    add_config_options(tr)
    tr.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="folder of the data set's files (default: $VAE_DATA_DIR, $VAE_FASHION_DATA_DIR or "
        "$VAE_CIFAR10_DATA_DIR, by --dataset)",
    )
    tr.add_argument("--quiet", action="store_true", help="no progress bar")

    ev = commands.add_parser("evaluate", help="test ELBO and importance-weighted bound of a trained run")
    ev.add_argument("run_folder", type=Path, metavar="RUN_FOLDER", help="a run folder that `train` wrote")
    ev.add_argument(
        "--iw-samples", type=_positive_int, default=5000, help="k of the bound L_k (default: 5000, as papers)"
    )
    ev.add_argument(
        "--iw-images",
        type=_positive_int,
        default=None,
        help="bound on a fixed random subset of N test images, all of them if N is their number or more "
        "(default: all on a GPU, 1,000 on a CPU)",
    )
    ev.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="folder of the IDX files of the run's data set (default: $VAE_DATA_DIR)",
    )
    ev.add_argument("--quiet", action="store_true")
    return parser


def run_train(args: argparse.Namespace, config: TrainConfig) -> int:
    mnist = load_dataset(config.dataset, args.data_dir)
    trained = train(config, args.out, mnist, progress=not args.quiet)
    metrics = Metrics.of_history(trained.history, trained.config)
    print(
        f"{trained.config.judged_on} ELBO after {metrics.epochs} epochs: {metrics.test_elbo:.2f} nats"
        f"{_in_bits(metrics.test_elbo, trained.config)} "
        f"({metrics.seconds_per_epoch:.1f} s per epoch, {trained.config.precision}); results in {args.out}"
    )
    return 0


PROTOCOLS = {
    "static": "images thresholded at 0.5 (the tutorial's protocol)",
    "dynamic": "images binarized stochastically once, fixed seed (the papers' protocol)",
    "none": "8-bit images as published, undithered",
}


def _in_bits(nats: float, config: TrainConfig) -> str:
    """`` = 1.234 bits/dim`` for a run on 8-bit images (the unit they are compared in), else nothing."""
    if config.binarization != "none":
        return ""
    return f" = {bits_per_dim(nats, math.prod(DATASETS[config.dataset].image_shape)):.3f} bits/dim"


def run_evaluate(args: argparse.Namespace) -> int:
    metrics = evaluate_run(
        args.run_folder, args.iw_samples, args.iw_images, args.data_dir, progress=not args.quiet
    )
    config, bound = TrainConfig.from_json(metrics.config), metrics.bound
    assert bound is not None  # evaluate_run always bounds
    if metrics.epochs < config.epochs:
        print(f"the run has finished {metrics.epochs} of its {config.epochs} epochs: evaluated those")
    n_images = bound.total
    print(f"protocol: {PROTOCOLS[config.binarization]}")
    last_training = f", the last {VALIDATION_SIZE:,} training images" if config.validation else ""
    print(
        f"ELBO: {metrics.test_elbo:.2f} nats{_in_bits(metrics.test_elbo, config)} "
        f"({n_images:,} {config.judged_on} images{last_training})"
    )
    subset = "all" if bound.subset_seed is None else f"random, seed {bound.subset_seed}"
    print(
        f"L_{bound.k}: {bound.mean:.2f} ± {bound.stderr:.2f} nats (standard error)"
        f"{_in_bits(bound.mean, config)} "
        f"on {bound.images:,} "
        f"of them ({subset}), whose ELBO is {bound.elbo:.2f}; {bound.seconds:.0f} s"
    )
    if bound.subset_seed is not None:
        print(
            f"L_{bound.k} of all {n_images:,}, estimated: "
            f"{bound.estimate:.2f} ± {bound.estimate_stderr:.2f} nats{_in_bits(bound.estimate, config)} "
            f"(their ELBO {metrics.test_elbo:.2f} + the subset's mean gap, bound − ELBO)"
        )
    return 0


def describe(err: Exception) -> str:
    """``err`` as one line that names the setting or file and what is wrong with it."""
    if isinstance(err, ConfigError):
        text = f"--{err.name.replace('_', '-')}: {err.problem}"
    elif isinstance(err, OSError) and err.filename and err.strerror:
        text = f"{err.filename}: {err.strerror}"
    else:
        text = str(err)
    return " ".join(text.split())


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    config = config_from(args, parser) if args.command == "train" else None
    try:
        return run_train(args, config) if config is not None else run_evaluate(args)
    # OSError: what the file system says (a full disk, no permission) where no message names it better.
    except (DataError, ConfigError, RunFolderError, NonFiniteLossError, OSError) as err:
        print(f"python -m vae_lib: error: {describe(err)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        kept = "the last finished epoch" if config is not None else "the images not yet bounded"
        print(f"\ninterrupted: run the same command again to continue from {kept}", file=sys.stderr)
        return 130
