"""The run folder: where a training run keeps everything it writes, and the one module that knows the layout.

::

    DIR/config.json            the TrainConfig, so that a restart can check it is the same run
    DIR/checkpoints/epoch-N.*  weights, optimizer state and history after epoch N, a tf.train.Checkpoint
                               matched by name (:mod:`vae_lib.checkpoints`; the last two kept)
    DIR/checkpoints/checkpoint the complete ones, newest last (tf.train.CheckpointManager's list)
    DIR/checkpoints/latest     the name of the newest complete one (``epoch-N``), for people and Colab
    DIR/history.csv            one row per finished epoch
    DIR/metrics.json           the final figures (:class:`Metrics`)
    DIR/bounds-epoch-N-kK.csv  each held-out image's L_K under checkpoint epoch-N, as far as it got
                               (:meth:`RunFolder.read_bounds`), so that an evaluation resumes
    DIR/epoch_NNNN.png, DIR/<figure>.png, DIR/progress.gif
    DIR/.lock                  while a process writes into DIR: its process id (:meth:`RunFolder.lock`)

Every file is written completely under another name and then renamed, so a run
killed at any moment leaves the previous complete state readable; a checkpoint
damaged later (a power loss, a full disk) leaves the one before it to fall back to.
A file that cannot be read or written raises :class:`RunFolderError`, naming it
and saying what is left.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import fcntl
import io
import json
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np

from vae_lib import checkpoints
from vae_lib.config import TrainConfig
from vae_lib.model import CVAE, model_for

HISTORY_FIELDS = ("epoch", "train_loss", "test_elbo", "test_reconstruction", "test_kl", "seconds")
# A held-out image's index, its L_k in nats, and its share of the seconds its batch took.
BOUND_FIELDS = ("image", "bound", "seconds")
History = list[dict[str, float]]


class RunFolderError(ValueError):
    """A run folder, or a file in it, cannot be used: the message names it and says what is left."""


class ConfigMismatchError(RunFolderError):
    """An output folder holds a different run than the one asked for."""


@dataclass(frozen=True)
class BoundSummary:
    """An importance-weighted bound L_k of a run's held-out images, in nats per image.

    Built by :func:`vae_lib.evaluate.bound_summary`: the bound of all the images, or of
    a random subset of them, from which the mean over all is estimated.
    """

    k: int  # samples per image
    images: int  # how many images were bounded
    total: int  # how many held-out images there are
    subset_seed: int | None  # None: all of them; else a random subset (vae_lib.evaluate.random_subset)
    mean: float  # the mean bound over those images
    stderr: float  # its standard error across them
    elbo: float  # the ELBO of the same images
    estimate: float  # the mean over all images (the same as ``mean`` when all were bounded)
    estimate_stderr: float
    seconds: float  # wall time the bounds took, summed over every session that computed some


@dataclass(frozen=True)
class Metrics:
    """``metrics.json``: the figures of a run's final weights, in nats per image.

    Measured on the run's held-out images under its own protocol (its ``config``'s
    ``binarization`` and ``validation``); ``bound`` is added by
    :func:`vae_lib.evaluate.evaluate_run`.
    """

    test_elbo: float
    test_reconstruction: float
    test_kl: float
    epochs: int
    seconds_per_epoch: float
    config: dict = field(default_factory=dict)
    bound: BoundSummary | None = None

    @classmethod
    def of_history(cls, history: History, config: TrainConfig) -> Metrics:
        """The figures of the last epoch of ``history``, a run of ``config``."""
        last = history[-1]
        return cls(
            test_elbo=last["test_elbo"],
            test_reconstruction=last["test_reconstruction"],
            test_kl=last["test_kl"],
            epochs=int(last["epoch"]),
            seconds_per_epoch=float(np.mean([row["seconds"] for row in history])),
            config=config.to_json(),
        )

    @classmethod
    def from_json(cls, fields: dict) -> Metrics:
        bound = fields.get("bound")
        return cls(**{**fields, "bound": None if bound is None else BoundSummary(**bound)})


# What reading a damaged file raises: h5py and the OS (OSError), json, keras and numpy
# (ValueError), a JSON value of the wrong shape (TypeError, KeyError).
_DAMAGE = (OSError, ValueError, TypeError, KeyError)


@contextlib.contextmanager
def _reading(path: Path) -> Iterator[Path]:
    """Turn any failure to read ``path`` into a :class:`RunFolderError` that names it."""
    try:
        yield path
    except FileNotFoundError:
        raise RunFolderError(f"{path} is missing") from None
    except json.JSONDecodeError as err:
        raise RunFolderError(f"{path} is damaged (not JSON: {checkpoints.reason(err)})") from None
    except _DAMAGE as err:
        raise RunFolderError(f"{path} is damaged ({checkpoints.reason(err)})") from None


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.write_text(text)
        os.replace(tmp, path)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        kept = "; its previous version is intact" if path.exists() else ""
        raise RunFolderError(f"could not write {path}: {checkpoints.reason(err)}{kept}") from err


@dataclass(frozen=True)
class RunFolder:
    """The files of one training run in ``path``."""

    path: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", Path(self.path))

    @property
    def checkpoints(self) -> Path:
        return self.path / "checkpoints"

    def figure(self, name: str) -> Path:
        """Where the figure ``name`` (e.g. ``"samples.png"``) of this run goes."""
        return self.path / name

    def epoch_image(self, epoch: int) -> Path:
        return self.path / f"epoch_{epoch:04d}.png"

    def epoch_images(self) -> list[Path]:
        return sorted(self.path.glob("epoch_*.png"))

    def create(self) -> None:
        """Make the folder, or say why it cannot be one."""
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except FileExistsError:
            raise RunFolderError(f"{self.path} exists and is not a folder") from None
        except OSError as err:
            reason = checkpoints.reason(err)
            raise RunFolderError(f"cannot create the run folder {self.path}: {reason}") from None

    # --- one writer -------------------------------------------------------------------------

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold ``DIR/.lock`` while writing into the folder: a second writer is refused at once.

        The lock is ``flock`` on that file, which the kernel releases when its
        process ends however it ends (SIGKILL, power loss), so a stale file never
        blocks. The file holds the holder's process id, for the refusal to name.
        It is removed on release, and so is a folder the lock created that stayed
        empty (a run refused before writing anything). :func:`vae_lib.train.train` and
        :func:`vae_lib.evaluate.evaluate_run` take it; nothing else writes into a run folder.
        """
        created = not self.path.exists()
        self.create()
        path = self.path / ".lock"
        while True:
            file = path.open("a+")
            try:
                fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                file.seek(0)
                holder = file.read(20).strip() or "unknown"
                file.close()
                raise RunFolderError(
                    f"{self.path} is in use by process {holder}, which is writing into it: "
                    "wait for it to finish or stop it"
                ) from None
            # The holder before us may have removed the file between our open and our flock:
            # then we hold the lock of a file nobody else can see, and must take the new one.
            if path.exists() and os.path.samestat(os.fstat(file.fileno()), path.stat()):
                break
            file.close()
        try:
            file.truncate(0)
            file.write(f"{os.getpid()}\n")
            file.flush()
            yield
        finally:
            path.unlink(missing_ok=True)
            file.close()
            if created:
                with contextlib.suppress(OSError):
                    self.path.rmdir()  # only if empty

    # --- config -----------------------------------------------------------------------------

    def has_config(self) -> bool:
        return (self.path / "config.json").exists()

    def read_config(self) -> TrainConfig:
        path = self.path / "config.json"
        if not path.exists():
            raise FileNotFoundError(f"{self.path} holds no training run (no config.json)")
        with _reading(path):
            return TrainConfig.from_json(json.loads(path.read_text()))

    def claim(self, config: TrainConfig) -> None:
        """Make this folder ``config``'s: refuse one that holds a run with other settings.

        Only ``epochs`` may differ: a finished run may be given more.
        """
        self.create()
        if self.has_config():
            diff = self.read_config().differences(config)
            if diff:
                raise ConfigMismatchError(
                    f"{self.path} holds a run with other settings (saved, asked): {diff}; "
                    "use another output folder or the same settings"
                )
        _write_atomic(self.path / "config.json", json.dumps(config.to_json(), indent=2))

    # --- checkpoints ------------------------------------------------------------------------

    def checkpoint_folders(self) -> list[Path]:
        """The complete checkpoints, newest first: prefixes ``DIR/checkpoints/epoch-N`` of their files.

        A folder of vae_lib 0.1 (a checkpoint per folder ``epoch-NNNN/``) is refused rather
        than taken for an empty one, which training would start afresh over it.
        """
        if old := sorted(self.checkpoints.glob("epoch-[0-9][0-9][0-9][0-9]/model.weights.h5")):
            raise RunFolderError(
                f"{old[-1].parent} is a checkpoint of vae_lib 0.1, which this version does not read: "
                "train into another folder, or delete it to start over"
            )
        try:
            return checkpoints.kept(self.checkpoints)
        except checkpoints.CheckpointError as err:
            raise RunFolderError(str(err)) from None

    def latest_checkpoint(self) -> Path | None:
        folders = self.checkpoint_folders()
        return folders[0] if folders else None

    def save_checkpoint(
        self, epoch: int, model: CVAE, optimizer: keras.optimizers.Optimizer, history: History
    ) -> None:
        """Write epoch ``epoch``'s checkpoint completely, then list it, point ``latest`` at it, and prune.

        The previous checkpoint is kept beside it, for :meth:`restore` to fall back
        to should this one be damaged later. A write that fails (a full disk)
        raises :class:`RunFolderError` and leaves the complete checkpoints as they were.
        """
        try:
            prefix = checkpoints.save(self.checkpoints, epoch, model, optimizer, history)
        except checkpoints.CheckpointError as err:
            latest = self.latest_checkpoint()
            kept = f"the previous checkpoint {latest} is intact" if latest else "none was written before"
            name = self.checkpoints / f"{checkpoints.NAME}-{epoch}"
            raise RunFolderError(f"could not write checkpoint {name}: {err}; {kept}") from None
        _write_atomic(self.checkpoints / "latest", prefix.name)

    def restore(
        self, model: CVAE, optimizer: keras.optimizers.Optimizer | None = None, fallback: bool = False
    ) -> History:
        """Load the latest checkpoint into ``model`` (and ``optimizer``); return its history.

        One that does not load raises :class:`RunFolderError` naming the file and
        what is left; with ``fallback`` (resuming training) the older one is loaded
        instead, saying so on stderr: the epochs after it are trained again, to
        the same numbers.
        """
        folders = self.checkpoint_folders()
        if not folders:
            raise FileNotFoundError(f"no checkpoint in {self.checkpoints}")
        problems = []
        for folder in folders if fallback else folders[:1]:
            try:
                history = _load_checkpoint(folder, model, optimizer)
            except RunFolderError as err:
                problems.append(str(err))
                continue
            if problems:
                print(f"warning: {'; '.join(problems)}; falling back to {folder.name}", file=sys.stderr)
            return history
        left = folders[len(problems) :]
        advice = (
            f"the older checkpoint {left[0].name} is kept: train with the same settings to resume from it"
            if left
            else f"no older checkpoint is kept: delete {self.checkpoints} to start over"
        )
        raise RunFolderError(f"{'; '.join(problems)}; {advice}")

    def load(self) -> tuple[TrainConfig, CVAE, History]:
        """The config, trained model (latest checkpoint) and history of a finished or stopped run.

        The model computes in float32, whatever precision the run trained in: its weights
        are float32 either way, and a loaded model is for measuring, where float32 is exact.
        """
        config = self.read_config()
        model = model_for(config)
        return config, model, self.restore(model)

    # --- history and metrics ----------------------------------------------------------------

    def write_history(self, history: History) -> None:
        """``history.csv``: one row per epoch, columns :data:`HISTORY_FIELDS`."""
        lines = io.StringIO()
        writer = csv.DictWriter(lines, fieldnames=HISTORY_FIELDS)
        writer.writeheader()
        writer.writerows(history)
        _write_atomic(self.path / "history.csv", lines.getvalue())

    def read_history(self) -> History:
        path = self.path / "history.csv"
        with _reading(path), path.open(newline="") as f:
            reader = csv.DictReader(f)
            if tuple(reader.fieldnames or ()) != HISTORY_FIELDS:
                raise ValueError(f"its columns are {reader.fieldnames}, not {list(HISTORY_FIELDS)}")
            return [{k: float(row[k]) for k in HISTORY_FIELDS} for row in reader]

    # --- per-image bounds -------------------------------------------------------------------

    def bounds_path(self, k: int) -> Path:
        """Where the latest checkpoint's per-image L_k are kept (``DIR/bounds-epoch-N-kK.csv``)."""
        latest = self.latest_checkpoint()
        if latest is None:
            raise FileNotFoundError(f"no checkpoint in {self.checkpoints}")
        return self.path / f"bounds-{latest.name}-k{k}.csv"

    def read_bounds(self, k: int) -> dict[int, tuple[float, float]]:
        """The images bounded so far: index → (L_k in nats, seconds), from :meth:`bounds_path`.

        A row is complete only once its newline is written: a last line cut short by a
        kill is not read (and :meth:`append_bounds` drops it).
        """
        path = self.bounds_path(k)
        if not path.exists():
            return {}
        with _reading(path):
            *rows, _unfinished = path.read_text().split("\n")
            if rows and rows[0] != ",".join(BOUND_FIELDS):
                raise ValueError(f"its header is {rows[0]!r}, not {','.join(BOUND_FIELDS)!r}")
            known = {}
            for number, row in enumerate(rows[1:], start=2):
                try:
                    image, bound, seconds = row.split(",")
                    known[int(image)] = (float(bound), float(seconds))
                except ValueError:
                    problem = f"line {number} is {row[:40]!r}: delete the file to bound again"
                    raise ValueError(problem) from None
            return known

    def append_bounds(self, k: int, images: np.ndarray, bounds: np.ndarray, seconds: float) -> None:
        """Add the L_k of ``images`` (indices ``[B]``, bounds ``[B]`` nats) to :meth:`bounds_path`.

        ``seconds``, the batch's time, is shared among its images. Written and synced before
        returning, so that a kill afterwards loses nothing.
        """
        path = self.bounds_path(k)
        share = seconds / len(images)
        pairs = zip(images.tolist(), bounds.tolist(), strict=True)
        rows = "".join(f"{i},{b!r},{share!r}\n" for i, b in pairs)
        try:
            with path.open("a+b") as f:
                size = f.seek(0, os.SEEK_END)
                if size and (f.seek(size - 1), f.read(1))[1] != b"\n":  # a last line a kill cut short
                    f.seek(0)
                    size = f.truncate(f.read().rfind(b"\n") + 1)
                header = "" if size else ",".join(BOUND_FIELDS) + "\n"
                f.write((header + rows).encode())
                f.flush()
                os.fsync(f.fileno())
        except OSError as err:
            raise RunFolderError(
                f"could not write {path}: {checkpoints.reason(err)}; the bounds written before are kept"
            ) from err

    def read_metrics(self) -> Metrics:
        path = self.path / "metrics.json"
        if not path.exists():
            raise FileNotFoundError(f"{self.path} has no metrics.json: the run has not finished")
        with _reading(path):
            return Metrics.from_json(json.loads(path.read_text()))

    def write_metrics(self, metrics: Metrics) -> None:
        _write_atomic(self.path / "metrics.json", json.dumps(dataclasses.asdict(metrics), indent=2) + "\n")


def _load_checkpoint(prefix: Path, model: CVAE, optimizer: keras.optimizers.Optimizer | None) -> History:
    """Load one checkpoint; a file that does not load raises :class:`RunFolderError` naming it."""
    try:
        history = checkpoints.load(prefix, model, optimizer)
    except checkpoints.CheckpointError as err:
        raise RunFolderError(str(err)) from None
    if not isinstance(history, list) or not all(
        isinstance(row, dict) and set(HISTORY_FIELDS) <= set(row) for row in history
    ):
        raise RunFolderError(f"the history in {prefix} is damaged (it is not a training history)")
    return history


# Where a clone-less reader (Colab) fetches the committed results from: the repository of
# _config.yml, whose main branch holds them.
RESULTS_URL = "https://raw.githubusercontent.com/vae-book/cvae-mnist-tf/main/results/"


def committed_run(name: str, weights: bool = True) -> RunFolder:
    """The committed run ``results/NAME`` (e.g. ``"latent50"``), wherever a chapter runs.

    In a clone it is found from the top folder or from ``notebooks/``. Elsewhere (Colab)
    the files needed to use it, its config, history, metrics and (with ``weights``) its
    latest checkpoint, a few MB of weights, are downloaded into ``results/NAME`` first.
    Runs committed for their figures alone, without checkpoints, need ``weights=False``.
    A download that fails raises :class:`RunFolderError` naming its address.
    """
    for base in (Path("results"), Path("../results")):
        if (base / name / "config.json").exists():
            return RunFolder(base / name)
    run = RunFolder(Path("results") / name)

    def fetch(relative: str) -> None:
        _download(f"{name}/{relative}")

    if weights:
        fetch("checkpoints/latest")
        prefix = (run.checkpoints / "latest").read_text().strip()
        for relative in (f"{prefix}.index", f"{prefix}{checkpoints.DATA}", "checkpoint"):
            fetch(f"checkpoints/{relative}")
    for relative in ("history.csv", "metrics.json"):
        fetch(relative)
    fetch("config.json")  # last: a folder with a config.json is complete
    return run


def committed_file(name: str) -> Path:
    """The committed file ``results/NAME`` (e.g. ``"step_costs.json"``), downloaded as a run's files are."""
    for base in (Path("results"), Path("../results")):
        if (base / name).exists():
            return base / name
    return _download(name)


def _download(relative: str) -> Path:
    """Fetch ``results/RELATIVE`` from :data:`RESULTS_URL` into ``results/``; a failure names the address."""
    import urllib.error
    import urllib.request

    url, path = f"{RESULTS_URL}{relative}", Path("results") / relative
    tmp = path.with_name(path.name + ".tmp")  # a download cut short must not pass for the file
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        urllib.request.urlretrieve(url, tmp)
        os.replace(tmp, path)
    except OSError as err:  # urllib.error.URLError and HTTPError are OSErrors
        tmp.unlink(missing_ok=True)
        reason = err.reason if type(err) is urllib.error.URLError else checkpoints.reason(err)
        raise RunFolderError(
            f"could not download {url} ({reason}): check the network, or clone the repository "
            "and run the chapter in it"
        ) from None
    return path
