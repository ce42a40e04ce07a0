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
stopped early is evaluated as far as it got).

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
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

import imageio.v2 as imageio
import matplotlib.pyplot as plt
import numpy as np
import tensorflow as tf

from vae_lib import plots
from vae_lib.config import ConfigError, TrainConfig, field_types, is_optional
from vae_lib.data import VALIDATION_SIZE, DataError, Mnist, binary_test_images, held_out, load_mnist
from vae_lib.evaluate import (
    IW_SUBSET_SEED,
    elbo_means,
    elbo_per_image,
    estimate_from_subset,
    evaluate_iw_bound,
    random_subset,
)
from vae_lib.model import CVAE
from vae_lib.run import History, Metrics, RunFolder, RunFolderError
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

    tr = commands.add_parser("train", help="train a CVAE on MNIST or Fashion-MNIST and write its results")
    tr.add_argument("--out", required=True, type=Path, help="output folder (resumed if it holds this run)")
    add_config_options(tr)
    tr.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="folder of the data set's IDX files (default: $VAE_DATA_DIR)",
    )
    tr.add_argument("--quiet", action="store_true", help="no progress bar")

    ev = commands.add_parser("evaluate", help="test ELBO and importance-weighted bound of a trained run")
    ev.add_argument("run_dir", type=Path)
    ev.add_argument(
        "--iw-samples", type=_positive_int, default=5000, help="k of the bound L_k (default: 5000, as papers)"
    )
    ev.add_argument(
        "--iw-images",
        type=_positive_int,
        default=None,
        help="bound on a fixed random subset of N test images (default: all on a GPU, 1,000 on a CPU)",
    )
    ev.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="folder of the IDX files of the run's data set (default: $VAE_DATA_DIR)",
    )
    ev.add_argument("--quiet", action="store_true")
    return parser


def _save(fig: plt.Figure, path: Path) -> None:
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)


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


def write_figures(run: RunFolder, model: CVAE, history: History, mnist: Mnist, config: TrainConfig) -> None:
    """The report figures of a finished run, into its folder."""
    mnist = held_out(mnist, config.validation)
    test = binary_test_images(mnist, config.binarization)
    plots.save_gif(readable_frames(run), run.figure("progress.gif"))
    _save(plots.plot_history(history), run.figure("training_curves.png"))
    _save(plots.plot_samples(model, seed=config.seed, dataset=config.dataset), run.figure("samples.png"))
    _save(plots.plot_reconstructions(model, test[:12]), run.figure("reconstructions.png"))
    if config.latent_dim == 2:
        _save(plots.plot_latent_manifold(model, dataset=config.dataset), run.figure("latent_manifold.png"))
        scatter = plots.plot_latent_scatter(model, test, mnist.test_labels, dataset=config.dataset)
        _save(scatter, run.figure("latent_scatter.png"))


def _saved_metrics_epochs(run: RunFolder) -> int | None:
    """The epoch count of ``run``'s readable metrics.json, or None."""
    try:
        return run.read_metrics().epochs
    except (FileNotFoundError, RunFolderError):
        return None


def run_train(args: argparse.Namespace, config: TrainConfig) -> int:
    run = RunFolder(args.out)
    # Locked before anything else, so that a second process is refused at once.
    with run.lock():
        mnist = load_mnist(args.data_dir, config.dataset)
        hook = plots.EpochImages(run.path, config.latent_dim, seed=config.seed)
        model, history = train(config, run.path, mnist, hooks=[hook], progress=not args.quiet)
        config = run.read_config()  # as trained: its precision resolved
        write_figures(run, model, history, mnist, config)
        metrics = Metrics.of_history(history, config)
        if _saved_metrics_epochs(run) != metrics.epochs:
            run.write_metrics(metrics)
        # else: nothing was trained, and metrics.json may hold evaluate's figures: keep them.
    print(
        f"{config.judged_on} ELBO after {metrics.epochs} epochs: {metrics.test_elbo:.2f} nats "
        f"({metrics.seconds_per_epoch:.1f} s per epoch, {config.precision}); results in {run.path}"
    )
    return 0


PROTOCOLS = {
    "static": "images thresholded at 0.5 (the tutorial's protocol)",
    "dynamic": "images binarized stochastically once, fixed seed (the papers' protocol)",
}


def run_evaluate(args: argparse.Namespace) -> int:
    run = RunFolder(args.run_dir)
    run.read_config()  # refuses a folder without a run before the lock would create it
    with run.lock():
        return evaluate_run(run, args)


def evaluate_run(run: RunFolder, args: argparse.Namespace) -> int:
    # float32 whatever the run trained in: the weights are float32, the figures exact.
    config, model, history = run.load(precision="float32")
    if len(history) < config.epochs:
        print(f"the run has finished {len(history)} of its {config.epochs} epochs: evaluating those")
    test = binary_test_images(
        held_out(load_mnist(args.data_dir, config.dataset), config.validation), config.binarization
    )
    per_image = elbo_per_image(model, test)
    elbo = elbo_means(per_image)
    n = args.iw_images or (len(test) if tf.config.list_physical_devices("GPU") else 1000)
    if n >= len(test):
        chosen, subset = np.arange(len(test)), "all"
    else:
        chosen, subset = random_subset(len(test), n), f"random, seed {IW_SUBSET_SEED}"
    bound = evaluate_iw_bound(model, test[chosen], args.iw_samples, progress=not args.quiet)
    subset_elbo = float(per_image[chosen, 0].mean())
    estimate, estimate_stderr = estimate_from_subset(bound.bounds, per_image[chosen, 0], per_image[:, 0])
    # Everything but the bound follows from the checkpoint's history: a metrics.json
    # that is missing (a run stopped early) or damaged is written afresh.
    metrics = dataclasses.replace(
        Metrics.of_history(history, config),
        **elbo,
        protocol=config.binarization,
        iw_samples=bound.k,
        iw_images=bound.images,
        iw_subset=subset,
        test_iw_bound=bound.mean,
        iw_stderr=bound.stderr,
        iw_images_elbo=subset_elbo,
        iw_seconds=bound.seconds,
        test_iw_estimate=estimate,
        iw_estimate_stderr=estimate_stderr,
    )
    run.write_metrics(metrics)
    print(f"protocol: {PROTOCOLS[config.binarization]}")
    last_training = f", the last {VALIDATION_SIZE:,} training images" if config.validation else ""
    print(f"ELBO: {elbo['test_elbo']:.2f} nats ({len(test):,} {config.judged_on} images{last_training})")
    print(
        f"L_{bound.k}: {bound.mean:.2f} ± {bound.stderr:.2f} nats (standard error) on {bound.images:,} "
        f"of them ({subset}), whose ELBO is {subset_elbo:.2f}; {bound.seconds:.0f} s"
    )
    if bound.images < len(test):
        print(
            f"L_{bound.k} of all {len(test):,}, estimated: {estimate:.2f} ± {estimate_stderr:.2f} nats "
            f"(their ELBO {elbo['test_elbo']:.2f} + the subset's mean gap, bound − ELBO)"
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
        print(
            "\ninterrupted: run the same command again to continue from the last finished epoch",
            file=sys.stderr,
        )
        return 130
