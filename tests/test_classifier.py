"""The classifier that judges generated images: training, saving and loading, and its two measures."""

from __future__ import annotations

import dataclasses
import json
import math
import shutil
from pathlib import Path

import keras
import numpy as np
import pytest

from vae_lib.classifier import (
    SETTINGS_FILE,
    WEIGHTS_FILE,
    Classifier,
    ClassifierError,
    _replace_atomically,
    book_classifier,
    confident_fraction,
    label_agreement,
    train_classifier,
)
from vae_lib.config import ConfigError
from vae_lib.data import IMAGE_SHAPE, LabelledImages, binarize_static

# 512 images make 4 steps an epoch: five epochs lift the accuracy well above chance, in seconds.
EPOCHS = 5


@pytest.fixture(scope="module")
def trained(small_mnist: LabelledImages, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Classifier]:
    folder = tmp_path_factory.mktemp("classifier")
    return folder, train_classifier(small_mnist, folder, epochs=EPOCHS, progress=False)


def copy_of(folder: Path, tmp_path: Path) -> Path:
    """A copy of the trained classifier's folder, for a test to change."""
    return Path(shutil.copytree(folder, tmp_path / "copy"))


def test_training_learns_and_saves_what_it_measured(
    trained: tuple[Path, Classifier], small_mnist: LabelledImages
):
    folder, classifier = trained
    held_out = binarize_static(small_mnist.test_images)
    assert classifier.test_accuracy > 0.5  # chance is 0.1
    assert classifier.test_accuracy == classifier.accuracy(held_out, small_mnist.test_labels)
    saved = json.loads((folder / SETTINGS_FILE).read_text())
    assert saved["test_accuracy"] == classifier.test_accuracy
    assert (saved["epochs"], saved["train_size"], saved["seed"]) == (EPOCHS, None, 0)
    assert (saved["train_images"], saved["test_images"]) == (512, 500)
    assert sorted(p.name for p in folder.iterdir()) == sorted([SETTINGS_FILE, WEIGHTS_FILE])  # no temp files


def test_predict_gives_a_label_and_its_probability(
    trained: tuple[Path, Classifier], small_mnist: LabelledImages
):
    _, classifier = trained
    labels, confidence = classifier.predict(binarize_static(small_mnist.test_images[:20]))
    assert labels.shape == confidence.shape == (20,)
    assert np.issubdtype(labels.dtype, np.integer) and labels.min() >= 0 and labels.max() <= 9
    assert np.all((confidence >= 0.1) & (confidence <= 1.0))  # the largest of ten probabilities


def test_a_second_call_loads_the_same_classifier(
    trained: tuple[Path, Classifier], small_mnist: LabelledImages, monkeypatch: pytest.MonkeyPatch
):
    folder, classifier = trained

    def no_training(*args, **kwargs):
        raise AssertionError("a saved classifier was trained again")

    monkeypatch.setattr(keras.Model, "fit", no_training)
    loaded = train_classifier(small_mnist, folder, epochs=EPOCHS, progress=False)
    grey = small_mnist.test_images[:50, :, :, None] / 255.0  # pixel probabilities, not only binary images
    for images in (binarize_static(small_mnist.test_images), grey):
        np.testing.assert_array_equal(
            loaded.model.predict(images, verbose=0), classifier.model.predict(images, verbose=0)
        )
    assert loaded.test_accuracy == classifier.test_accuracy


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"epochs": EPOCHS + 1}, "epochs=5, not 6"),
        ({"seed": 1}, "seed=0, not 1"),
        ({"train_size": 100}, "train_size=None, not 100"),
    ],
)
def test_a_folder_of_other_settings_is_refused(
    trained: tuple[Path, Classifier], small_mnist: LabelledImages, change: dict, named: str
):
    folder, _ = trained
    settings = {"epochs": EPOCHS, "progress": False, **change}
    with pytest.raises(ValueError, match=named):
        train_classifier(small_mnist, folder, **settings)


def test_a_folder_trained_on_other_images_is_refused(
    trained: tuple[Path, Classifier], small_mnist: LabelledImages
):
    folder, _ = trained
    inverted = dataclasses.replace(small_mnist, train_images=255 - small_mnist.train_images)  # same sizes
    with pytest.raises(ValueError, match="other training images"):
        train_classifier(inverted, folder, epochs=EPOCHS, progress=False)


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_a_damaged_weights_file_is_named_in_one_line(
    trained: tuple[Path, Classifier], small_mnist: LabelledImages, tmp_path: Path, damage: str
):
    folder = copy_of(trained[0], tmp_path)
    weights = folder / WEIGHTS_FILE
    weights.write_bytes(b"not HDF5" if damage == "garbage" else weights.read_bytes()[:5000])
    with pytest.raises(ClassifierError, match=WEIGHTS_FILE) as raised:
        train_classifier(small_mnist, folder, epochs=EPOCHS, progress=False)
    assert "\n" not in str(raised.value)
    assert raised.value.__cause__ is None and raised.value.__suppress_context__  # no h5py traceback


def test_a_damaged_settings_file_is_named(
    trained: tuple[Path, Classifier], small_mnist: LabelledImages, tmp_path: Path
):
    folder = copy_of(trained[0], tmp_path)
    (folder / SETTINGS_FILE).write_text('{"epochs": 5, "test_acc')
    with pytest.raises(ClassifierError, match=f"{SETTINGS_FILE} is damaged"):
        train_classifier(small_mnist, folder, epochs=EPOCHS, progress=False)


def test_an_interrupted_write_leaves_no_file(tmp_path: Path):
    path = tmp_path / WEIGHTS_FILE

    def write_half(tmp: Path) -> None:
        tmp.write_bytes(b"half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _replace_atomically(path, write_half)
    assert list(tmp_path.iterdir()) == []


def test_bad_training_settings_are_refused(small_mnist: LabelledImages):
    with pytest.raises(ConfigError, match=r"train_size: 513 is not in 1\.\.512"):
        train_classifier(small_mnist, train_size=513, progress=False)
    with pytest.raises(ConfigError, match="epochs: 0 is not positive"):
        train_classifier(small_mnist, epochs=0, progress=False)


# A hand-made classifier: class k's logit is WEIGHT × the pixel (0, k), so an image lit at (0, k) alone is
# class k, confidently when the pixel is 1 (softmax 0.9995) and not when it is 0.1 (0.23).
WEIGHT = 10.0


def one_pixel_classifier() -> Classifier:
    dense = keras.layers.Dense(10, activation="softmax")
    model = keras.Sequential([keras.Input(shape=IMAGE_SHAPE), keras.layers.Flatten(), dense])
    kernel = np.zeros((28 * 28, 10), np.float32)
    kernel[np.arange(10), np.arange(10)] = WEIGHT  # pixel (0, k) is flat index k
    dense.set_weights([kernel, np.zeros(10, np.float32)])
    return Classifier(model, test_accuracy=math.nan)


def lit(pixels: list[tuple[int, float]]) -> np.ndarray:
    """One image per (class, brightness): blank but for that class's pixel."""
    images = np.zeros((len(pixels), *IMAGE_SHAPE), np.float32)
    for i, (k, brightness) in enumerate(pixels):
        images[i, 0, k, 0] = brightness
    return images


def test_label_agreement_counts_images_of_the_intended_class():
    classifier = one_pixel_classifier()
    images = lit([(3, 1.0), (5, 1.0), (7, 0.1), (2, 1.0)])
    assert label_agreement(classifier, images, np.array([3, 4, 7, 2])) == 0.75  # the 5 was meant as a 4
    assert label_agreement(classifier, images, np.array([0, 4, 1, 9])) == 0.0
    assert classifier.accuracy(images, np.array([3, 5, 7, 2])) == 1.0


def test_confident_fraction_counts_images_of_any_class_above_the_threshold():
    classifier = one_pixel_classifier()
    images = lit([(3, 1.0), (5, 1.0), (7, 0.1), (2, 0.1)])
    _, confidence = classifier.predict(images)
    np.testing.assert_allclose(confidence[2], math.exp(1) / (math.exp(1) + 9), rtol=1e-5)
    assert confident_fraction(classifier, images) == 0.5  # the two faint ones are below 0.9
    assert confident_fraction(classifier, images, threshold=0.2) == 1.0
    assert confident_fraction(classifier, images, threshold=1.0) == 0.0


@pytest.mark.parametrize(
    ("images", "problem"),
    [
        (np.zeros((4, 28, 28), np.float32), r"shape \(4, 28, 28\), expected \(N, 28, 28, 1\)"),
        (np.zeros((4, 28, 28, 3), np.float32), r"shape \(4, 28, 28, 3\)"),
        (np.zeros((4, 32, 32, 1), np.float32), r"shape \(4, 32, 32, 1\)"),
        (np.zeros((4, 28, 28, 1), np.uint8), "uint8, expected floats"),
        (np.full((4, 28, 28, 1), 255.0, np.float32), r"pixels must be in \[0, 1\]"),
        (np.full((4, 28, 28, 1), np.nan, np.float32), r"pixels must be in \[0, 1\]"),
    ],
)
def test_images_of_the_wrong_kind_are_refused(images: np.ndarray, problem: str):
    classifier = one_pixel_classifier()
    for measure in (
        classifier.predict,
        lambda x: label_agreement(classifier, x, np.zeros(4, int)),
        lambda x: confident_fraction(classifier, x),
    ):
        with pytest.raises(ValueError, match=problem):
            measure(images)


def test_labels_of_the_wrong_shape_and_bad_thresholds_are_refused():
    classifier = one_pixel_classifier()
    images = lit([(3, 1.0), (5, 1.0)])
    with pytest.raises(ValueError, match=r"intended labels have shape \(3,\), expected \(2,\)"):
        label_agreement(classifier, images, np.array([3, 5, 7]))
    with pytest.raises(ValueError, match="threshold must be a probability"):
        confident_fraction(classifier, images, threshold=90)
    with pytest.raises(ValueError, match="no images"):
        confident_fraction(classifier, images[:0])


def test_book_classifier_is_trained_once_per_mode_in_its_own_folder(
    mnist: LabelledImages, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    first = book_classifier(mnist, quick=True)
    settings = json.loads((tmp_path / "runs/classifier-quick" / SETTINGS_FILE).read_text())
    assert settings["train_size"] == 2000
    assert not (tmp_path / "runs/classifier").exists()
    assert book_classifier(mnist, quick=True).test_accuracy == first.test_accuracy  # loaded, not retrained
