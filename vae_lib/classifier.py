"""A small CNN that names the class of an image, to judge generated images by.

A generative model's samples have no labels, so the chapters ask a classifier: what
fraction of a conditional VAE's samples it assigns to the label they were generated for
(:func:`label_agreement`), and how many it assigns to *some* class with confidence
(:func:`confident_fraction`). Both are proxies: the classifier has only ever seen real
digits (or clothes), and what it says of an image unlike any of them is not a verdict on
its quality.

:func:`train_classifier` trains it (about 99 % test accuracy on MNIST in three epochs)
and, with an output folder, saves it there and loads it on the next call.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np

from vae_lib.checkpoints import reason
from vae_lib.config import QUICK_ENV, ConfigError
from vae_lib.data import IMAGE_SHAPE, LabelledImages, binarize_static

WEIGHTS_FILE = "classifier.weights.h5"  # Keras insists on the .weights.h5 ending
SETTINGS_FILE = "classifier.json"
BATCH_SIZE = 128
# Adam's learning rate starts here and falls to 0 along a cosine over the run: in three epochs
# it reaches 99.0 % on MNIST's test set, where a constant 1e-3 reaches 98.6 %.
PEAK_LEARNING_RATE = 3e-3
# What reading a damaged file raises: h5py and the OS (OSError), json and keras (ValueError),
# a JSON value of the wrong shape (TypeError, KeyError).
_DAMAGE = (OSError, ValueError, TypeError, KeyError)


class ClassifierError(RuntimeError):
    """A file of a saved classifier is missing or damaged."""


def build_classifier(classes: int = 10) -> keras.Sequential:
    """Images ``[B, 28, 28, 1]`` in [0, 1] → class probabilities ``[B, classes]``.

    Two convolutions, each followed by max-pooling, then a dense layer, dropout and the
    softmax layer: about 225,000 weights.
    """
    return keras.Sequential(
        [
            keras.Input(shape=IMAGE_SHAPE),
            keras.layers.Conv2D(32, 3, activation="relu"),  # → 26×26
            keras.layers.MaxPooling2D(2),  # → 13×13
            keras.layers.Conv2D(64, 3, activation="relu"),  # → 11×11
            keras.layers.MaxPooling2D(2),  # → 5×5
            keras.layers.Flatten(),
            keras.layers.Dense(128, activation="relu"),
            keras.layers.Dropout(0.5),
            keras.layers.Dense(classes, activation="softmax"),
        ],
        name="classifier",
    )


def _check_images(images: np.ndarray) -> np.ndarray:
    """``images`` as ``float32 [N, 28, 28, 1]`` in [0, 1], or a ValueError saying what they are."""
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[1:] != IMAGE_SHAPE:
        raise ValueError(f"images have shape {images.shape}, expected (N, 28, 28, 1)")
    if not np.issubdtype(images.dtype, np.floating):
        raise ValueError(f"images are {images.dtype}, expected floats in [0, 1] (see vae_lib.data)")
    if images.size and not (images.min() >= 0.0 and images.max() <= 1.0):  # also refuses NaN
        raise ValueError(f"pixels must be in [0, 1], got values in [{images.min()}, {images.max()}]")
    return images.astype(np.float32, copy=False)


def _check_labels(labels: np.ndarray, images: np.ndarray, name: str) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.shape != images.shape[:1]:
        raise ValueError(f"{name} have shape {labels.shape}, expected ({len(images)},), one per image")
    return labels


@dataclass(frozen=True)
class Classifier:
    """A trained classifier and its accuracy on the binarized test set (a fraction in [0, 1])."""

    model: keras.Sequential
    test_accuracy: float

    def predict(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Images ``float [N, 28, 28, 1]`` in [0, 1] → (labels ``int64 [N]``, confidence ``float32 [N]``).

        The confidence is the largest softmax probability, the one of the label given.
        """
        images = _check_images(images)
        if not len(images):
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        probabilities = self.model.predict(images, batch_size=1000, verbose=0)
        return probabilities.argmax(axis=1), probabilities.max(axis=1)

    def accuracy(self, images: np.ndarray, labels: np.ndarray) -> float:
        """The fraction of ``images`` whose predicted label is ``labels`` ``[N]``."""
        return label_agreement(self, images, labels)


def label_agreement(classifier: Classifier, images: np.ndarray, intended_labels: np.ndarray) -> float:
    """The fraction of ``images`` the classifier assigns to the label each was generated for.

    For a conditional model's samples ``[N, 28, 28, 1]`` (pixel probabilities or binary)
    and the labels ``[N]`` they were asked for: does the model draw the class it was told
    to? It can exceed the classifier's test accuracy (typical, smooth samples are easier
    than real digits' odd ones), and it rewards any image the classifier takes for that
    class, however little it looks like one to a reader.
    """
    images = _check_images(images)
    intended_labels = _check_labels(intended_labels, images, "intended labels")
    if not len(images):
        raise ValueError("no images to judge")
    predicted, _ = classifier.predict(images)
    return float(np.mean(predicted == intended_labels))


def confident_fraction(classifier: Classifier, images: np.ndarray, threshold: float = 0.9) -> float:
    """The fraction of ``images`` the classifier assigns to *some* class with confidence ≥ ``threshold``.

    How many samples ``[N, 28, 28, 1]`` look like any digit at all. A softmax is often
    confident about images that are no digit (a network never trained to say "none of
    these" must pick one), so this counts images the classifier is sure of, which is a
    proxy for recognizable ones, not a judge of quality.
    """
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold must be a probability in [0, 1], got {threshold}")
    images = _check_images(images)
    if not len(images):
        raise ValueError("no images to judge")
    _, confidence = classifier.predict(images)
    return float(np.mean(confidence >= threshold))


def _training_data_md5(images: np.ndarray, labels: np.ndarray) -> str:
    """The md5 of the training images and labels: tells MNIST from Fashion-MNIST of the same size."""
    digest = hashlib.md5(np.ascontiguousarray(images).tobytes())
    digest.update(np.ascontiguousarray(labels).tobytes())
    return digest.hexdigest()


def _replace_atomically(path: Path, write: Callable[[Path], None]) -> None:
    """``write(temporary path)``, then rename it to ``path``: an interrupted write leaves no half file."""
    # Keras saves weights only to a name ending in .weights.h5, so the temporary name keeps the ending.
    tmp = path.with_name(f".partial-{path.name}")
    try:
        write(tmp)
        os.replace(tmp, path)
    except OSError as err:
        raise ClassifierError(f"could not write {path}: {reason(err)}") from None
    finally:
        tmp.unlink(missing_ok=True)


def _load(folder: Path, settings: dict, classes: int) -> Classifier | None:
    """The classifier saved in ``folder`` with these ``settings``, or None if it holds none yet.

    Raises ValueError naming the first setting that differs, and :class:`ClassifierError`
    naming a file that is damaged.
    """
    settings_path, weights_path = folder / SETTINGS_FILE, folder / WEIGHTS_FILE
    if not settings_path.exists():  # the settings are written last: without them, nothing was finished
        return None
    try:
        saved = json.loads(settings_path.read_text())
        test_accuracy = float(saved["test_accuracy"])
    except _DAMAGE as err:
        raise ClassifierError(f"{settings_path} is damaged ({reason(err)})") from None
    for name, value in settings.items():
        if saved.get(name) != value:
            raise ValueError(
                f"{folder} holds a classifier trained with {name}={saved.get(name)!r}, not {value!r}"
                f"{' (other training images)' if name == 'training_data_md5' else ''}: "
                "pass the same settings, or another folder"
            )
    model = build_classifier(classes)
    try:
        model.load_weights(weights_path)
    except FileNotFoundError:
        raise ClassifierError(f"{weights_path} is missing (it is written before {SETTINGS_FILE})") from None
    except _DAMAGE as err:
        raise ClassifierError(f"{weights_path} is damaged ({reason(err)})") from None
    return Classifier(model, test_accuracy)


def train_classifier(
    mnist: LabelledImages,
    run_folder: Path | str | None = None,
    epochs: int = 3,
    train_size: int | None = None,
    seed: int = 0,
    progress: bool = True,
) -> Classifier:
    """Train a classifier on ``mnist``'s first ``train_size`` training images (default: all).

    It trains on binarized images (:func:`~vae_lib.data.binarize_static`), as the
    book's VAEs do: the images it judges are a VAE's samples, binary or nearly so
    (pixel probabilities close to 0 or 1), and grey images are another distribution,
    whose soft strokes it would learn to rely on. Adam (:data:`PEAK_LEARNING_RATE`),
    batches of 128, weights and shuffles seeded by ``seed``; ``progress`` prints one line
    per epoch.

    With ``run_folder``, saves the weights and its settings there (``classifier.weights.h5``
    and ``classifier.json``, each written whole or not at all), and a later call with the
    same settings and training data loads them instead of training. Raises ValueError if
    the folder holds a classifier of other settings, naming the one that differs, and
    :class:`ClassifierError` naming a saved file that is damaged.
    """
    if epochs < 1:
        raise ConfigError("epochs", f"{epochs} is not positive")
    n_train = len(mnist.train_images)
    if train_size is not None and not 1 <= train_size <= n_train:
        raise ConfigError(
            "train_size", f"{train_size} is not in 1..{n_train} (the data holds {n_train} training images)"
        )
    images, labels = mnist.train_images[:train_size], mnist.train_labels[:train_size]
    classes = 10  # MNIST's digits and Fashion-MNIST's clothes alike
    if (largest := max(labels.max(), mnist.test_labels.max())) >= classes:
        raise ValueError(f"labels must be in 0..{classes - 1}, the data holds label {largest}")
    settings = {
        "epochs": epochs,
        "train_size": train_size,
        "seed": seed,
        "train_images": n_train,
        "test_images": len(mnist.test_images),
        "training_data_md5": _training_data_md5(images, labels),
    }
    folder = Path(run_folder) if run_folder is not None else None
    if folder is not None and (loaded := _load(folder, settings, classes)) is not None:
        return loaded

    keras.utils.set_random_seed(seed)
    model = build_classifier(classes)
    steps = epochs * math.ceil(len(images) / BATCH_SIZE)
    model.compile(
        optimizer=keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(PEAK_LEARNING_RATE, steps)),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    start = time.perf_counter()
    model.fit(
        binarize_static(images),
        labels.astype(np.int32),
        batch_size=BATCH_SIZE,
        epochs=epochs,
        verbose=2 if progress else 0,
    )
    seconds_per_epoch = (time.perf_counter() - start) / epochs
    # Measuring needs only the model: the accuracy it is made with is not read.
    unmeasured = Classifier(model, test_accuracy=math.nan)
    classifier = Classifier(model, unmeasured.accuracy(binarize_static(mnist.test_images), mnist.test_labels))
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
        _replace_atomically(folder / WEIGHTS_FILE, model.save_weights)
        record = {
            **settings,
            "test_accuracy": classifier.test_accuracy,
            "seconds_per_epoch": seconds_per_epoch,
        }
        _replace_atomically(
            folder / SETTINGS_FILE, lambda path: path.write_text(json.dumps(record, indent=2) + "\n")
        )
    return classifier


def book_classifier(mnist: LabelledImages, quick: bool | None = None) -> Classifier:
    """The classifier the chapters share, trained once into ``runs/classifier`` and loaded after.

    ``quick`` (default: ``$VAE_QUICK`` is ``1``) trains on the first 2,000 training images
    instead, in ``runs/classifier-quick``, as the reduced runs of :mod:`vae_lib.config` do.
    """
    if quick is None:
        quick = os.environ.get(QUICK_ENV) == "1"
    folder = "runs/classifier-quick" if quick else "runs/classifier"
    return train_classifier(mnist, run_folder=folder, train_size=2000 if quick else None, progress=False)
