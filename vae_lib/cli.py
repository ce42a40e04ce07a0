"""The command line: ``python -m vae_lib train`` and ``python -m vae_lib evaluate``.

``train --out DIR`` trains (resuming DIR if it holds part of the same run) and
writes into DIR: ``checkpoints/``, ``history.csv``, ``epoch_NNNN.png`` (one per
epoch), ``progress.gif``, ``training_curves.png``, ``samples.png``,
``reconstructions.png``, for a 2-D latent space ``latent_manifold.png`` and
``latent_scatter.png``, and ``metrics.json``.

``evaluate DIR`` reports the test ELBO and the importance-weighted bound of
the run's latest checkpoint and adds them to ``DIR/metrics.json``.

Exit status: 0 done, 1 a named error (bad data, NaN loss, other settings in
DIR), 2 a bad argument, 130 interrupted (run the same command to resume).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import get_args

import matplotlib.pyplot as plt
import numpy as np
import tensorflow as tf

from vae_lib import plots
from vae_lib.data import Binarization, DataError, Mnist, binarize_static, load_mnist
from vae_lib.evaluate import evaluate, evaluate_iw_bound
from vae_lib.losses import KlEstimator
from vae_lib.model import CVAE, Precision
from vae_lib.train import (
    ConfigMismatchError,
    History,
    NonFiniteLossError,
    TrainConfig,
    load_run,
    train,
)

DEFAULTS = TrainConfig()


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not positive")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0.0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"{value} is not a positive finite number")
    return value


def _filters(text: str) -> tuple[int, int]:
    parts = text.split(",")
    if len(parts) != 2:
        raise argparse.ArgumentTypeError(f"{text!r} is not two channel counts like 32,64")
    first, second = (_positive_int(p) for p in parts)
    return first, second


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m vae_lib", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)

    tr = commands.add_parser("train", help="train a CVAE on MNIST and write its results")
    tr.add_argument("--out", required=True, type=Path, help="output folder (resumed if it holds this run)")
    tr.add_argument("--latent-dim", type=_positive_int, default=DEFAULTS.latent_dim)
    tr.add_argument("--epochs", type=_positive_int, default=DEFAULTS.epochs)
    tr.add_argument("--batch-size", type=_positive_int, default=DEFAULTS.batch_size)
    tr.add_argument("--learning-rate", type=_positive_float, default=DEFAULTS.learning_rate)
    tr.add_argument(
        "--train-size", type=_positive_int, default=None, help="first N training images (default: all)"
    )
    tr.add_argument("--seed", type=int, default=DEFAULTS.seed)
    tr.add_argument("--binarization", choices=get_args(Binarization), default=DEFAULTS.binarization)
    tr.add_argument(
        "--kl",
        choices=get_args(KlEstimator),
        default=DEFAULTS.kl,
        help="KL estimator of the training loss (default: the tutorial's one-sample estimate)",
    )
    tr.add_argument("--filters", type=_filters, default=DEFAULTS.filters, help="conv channels, e.g. 32,64")
    tr.add_argument(
        "--precision",
        choices=get_args(Precision),
        default=DEFAULTS.precision,
        help="mixed_bfloat16: faster where the hardware has bfloat16 units",
    )
    tr.add_argument("--xla", action="store_true", help="compile each step with XLA (measure first)")
    tr.add_argument(
        "--lr-half-life",
        type=_positive_float,
        default=None,
        help="epochs after which the learning rate has halved (default: constant)",
    )
    tr.add_argument(
        "--multi-device",
        action="store_true",
        help="spread each batch over all visible GPUs (tf.distribute.MirroredStrategy)",
    )
    tr.add_argument("--data-dir", type=Path, default=None, help="MNIST IDX folder (default: $VAE_DATA_DIR)")
    tr.add_argument("--quiet", action="store_true", help="no progress bar")

    ev = commands.add_parser("evaluate", help="test ELBO and importance-weighted bound of a trained run")
    ev.add_argument("run_dir", type=Path)
    ev.add_argument("--iw-samples", type=_positive_int, default=100, help="k of the bound L_k (default 100)")
    ev.add_argument(
        "--iw-images",
        type=_positive_int,
        default=None,
        help="bound on the first N test images only (default: all 10,000)",
    )
    ev.add_argument("--data-dir", type=Path, default=None)
    ev.add_argument("--quiet", action="store_true")
    return parser


def _save(fig: plt.Figure, path: Path) -> None:
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)


def write_figures(
    out: Path, model: CVAE, history: History, mnist: Mnist, config: TrainConfig, frames: list[Path]
) -> None:
    """The report figures of a finished run, into ``out``; ``frames`` are its per-epoch images."""
    test = binarize_static(mnist.test_images)
    plots.save_gif(frames, out / "progress.gif")
    _save(plots.plot_history(history), out / "training_curves.png")
    _save(plots.plot_samples(model, seed=config.seed), out / "samples.png")
    _save(plots.plot_reconstructions(model, test[:12]), out / "reconstructions.png")
    if config.latent_dim == 2:
        _save(plots.plot_latent_manifold(model), out / "latent_manifold.png")
        _save(plots.plot_latent_scatter(model, test, mnist.test_labels), out / "latent_scatter.png")


def update_metrics(out: Path, values: dict) -> dict:
    path = out / "metrics.json"
    metrics = json.loads(path.read_text()) if path.exists() else {}
    metrics.update(values)
    path.write_text(json.dumps(metrics, indent=2) + "\n")
    return metrics


def run_train(args: argparse.Namespace) -> int:
    config = TrainConfig(
        latent_dim=args.latent_dim,
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        train_size=args.train_size,
        seed=args.seed,
        binarization=args.binarization,
        kl=args.kl,
        filters=args.filters,
        precision=args.precision,
        xla=args.xla,
        lr_half_life=args.lr_half_life,
    )
    mnist = load_mnist(args.data_dir)
    hook = plots.EpochImages(args.out, config.latent_dim, seed=config.seed)
    strategy = tf.distribute.MirroredStrategy() if args.multi_device else None
    model, history = train(config, args.out, mnist, hooks=[hook], progress=not args.quiet, strategy=strategy)
    write_figures(args.out, model, history, mnist, config, hook.frames())
    last = history[-1]
    metrics = update_metrics(
        args.out,
        {
            "test_elbo": last["test_elbo"],
            "test_reconstruction": last["test_reconstruction"],
            "test_kl": last["test_kl"],
            "epochs": int(last["epoch"]),
            "seconds_per_epoch": float(np.mean([row["seconds"] for row in history])),
            "config": config.to_json(),
        },
    )
    print(
        f"test ELBO after {metrics['epochs']} epochs: {metrics['test_elbo']:.2f} nats "
        f"({metrics['seconds_per_epoch']:.1f} s per epoch); results in {args.out}"
    )
    return 0


def run_evaluate(args: argparse.Namespace) -> int:
    _, model, _ = load_run(args.run_dir)
    test = binarize_static(load_mnist(args.data_dir).test_images)
    elbo = evaluate(model, tf.data.Dataset.from_tensor_slices(test).batch(500))
    images = test[: args.iw_images]
    # The ELBO of the same images as the bound, so that the two can be compared.
    if len(images) == len(test):
        subset_elbo = elbo["test_elbo"]
    else:
        subset_elbo = evaluate(model, tf.data.Dataset.from_tensor_slices(images).batch(500))["test_elbo"]
    bound = evaluate_iw_bound(model, images, args.iw_samples, progress=not args.quiet)
    update_metrics(
        args.run_dir,
        {
            **elbo,
            "test_iw_bound": bound,
            "iw_samples": args.iw_samples,
            "iw_images": len(images),
            "iw_images_elbo": subset_elbo,
        },
    )
    n = len(test)
    print(f"test ELBO: {elbo['test_elbo']:.2f} nats ({n:,} test images)")
    print(
        f"on the first {len(images):,} of them: ELBO {subset_elbo:.2f} nats, "
        f"L_{args.iw_samples} {bound:.2f} nats (a tighter bound on log p(x))"
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return run_train(args) if args.command == "train" else run_evaluate(args)
    except (DataError, ConfigMismatchError, NonFiniteLossError, FileNotFoundError) as err:
        print(f"python -m vae_lib: error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(
            "\ninterrupted: run the same command again to continue from the last finished epoch",
            file=sys.stderr,
        )
        return 130
