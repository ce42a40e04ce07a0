from __future__ import annotations

import gzip
import hashlib
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from conftest import write_idx, write_md5sums

from vae_lib import data, streams
from vae_lib.config import TrainConfig
from vae_lib.data import (
    FILES,
    VALIDATION_SIZE,
    DataError,
    LabelledImages,
    binarize_dynamic,
    binarize_static,
    binary_test_images,
    held_out_images,
    load_dataset,
    load_idx_folder,
    make_pipelines,
    with_validation_split,
)


def test_real_mnist_has_its_known_shapes_and_labels(mnist: LabelledImages) -> None:
    assert mnist.train_images.shape == (60000, 28, 28)
    assert mnist.test_images.shape == (10000, 28, 28)
    assert mnist.train_images.dtype == np.uint8
    assert set(np.unique(mnist.train_labels)) == set(range(10))
    assert mnist.train_images.max() == 255


@pytest.mark.skipif(
    "VAE_DATA_DIR" not in os.environ,
    reason="checks the official files of $VAE_DATA_DIR",
)
def test_official_folder_is_checked_against_the_official_md5s() -> None:
    folder = Path(os.environ["VAE_DATA_DIR"])
    for name, digest in data.MNIST_MD5.items():
        assert hashlib.md5((folder / name).read_bytes()).hexdigest() == digest


@pytest.fixture
def genuine_folder(tmp_path: Path) -> Path:
    """$VAE_DATA_DIR's MNIST files without MD5SUMS, the train labels re-compressed."""
    if "VAE_DATA_DIR" not in os.environ:
        pytest.skip("needs the official files in $VAE_DATA_DIR")
    for name in data.FILES.values():
        (tmp_path / name).symlink_to(Path(os.environ["VAE_DATA_DIR"], name).resolve())
    labels = tmp_path / data.FILES["train_labels"]
    content = gzip.decompress(labels.read_bytes())
    labels.unlink()
    labels.write_bytes(gzip.compress(content, compresslevel=1, mtime=0))
    return tmp_path


def test_genuine_copy_loads_however_it_was_compressed(genuine_folder: Path, mnist: LabelledImages) -> None:
    labels = genuine_folder / data.FILES["train_labels"]
    assert hashlib.md5(labels.read_bytes()).hexdigest() != data.MNIST_MD5[labels.name]
    loaded = load_dataset(data_dir=genuine_folder)
    np.testing.assert_array_equal(loaded.train_labels, mnist.train_labels)


def test_damaged_copy_is_refused_though_it_is_well_formed(genuine_folder: Path) -> None:
    labels = genuine_folder / data.FILES["train_labels"]
    content = bytearray(gzip.decompress(labels.read_bytes()))
    content[-1] = (content[-1] + 1) % 10  # one label changed: valid gzip, valid IDX
    labels.write_bytes(gzip.compress(bytes(content)))
    with pytest.raises(
        DataError,
        match=r"train-labels-idx1-ubyte.gz is a well-formed IDX file, but not MNIST's",
    ):
        load_dataset(data_dir=genuine_folder)


def test_mnist_asked_for_as_fashion_mnist_is_named(genuine_folder: Path) -> None:
    with pytest.raises(DataError, match=r"is MNIST's, not Fashion-MNIST's: .* --dataset mnist"):
        load_dataset("fashion_mnist", genuine_folder)


DEBIAN_FASHION = Path("/usr/share/datasets/fashion-mnist")  # apt-get install dataset-fashion-mnist


@pytest.mark.skipif(
    not DEBIAN_FASHION.is_dir(),
    reason="Debian's dataset-fashion-mnist is not installed",
)
def test_debian_fashion_mnist_loads_by_name_and_is_not_taken_for_mnist() -> None:
    # Debian re-compressed the files: their gz md5s are not the published ones, their
    # contents are.
    fashion = load_dataset("fashion_mnist", DEBIAN_FASHION)
    assert fashion.train_images.shape == (
        60000,
        28,
        28,
    ) and fashion.test_images.shape == (10000, 28, 28)
    assert np.bincount(fashion.test_labels).tolist() == [1000] * 10
    with pytest.raises(DataError, match=r"is Fashion-MNIST's, not MNIST's: .* --dataset fashion_mnist"):
        load_dataset(data_dir=DEBIAN_FASHION)


def test_fashion_mnist_comes_from_its_own_keras_download(
    monkeypatch: pytest.MonkeyPatch, mnist: LabelledImages
) -> None:
    split = (
        (mnist.train_images[:10], mnist.train_labels[:10]),
        (mnist.test_images[:5], mnist.test_labels[:5]),
    )
    monkeypatch.setattr(tf.keras.datasets.fashion_mnist, "load_data", lambda: split)
    monkeypatch.delenv(data.DATA_DIR_ENV, raising=False)
    monkeypatch.delenv(data.FASHION_DATA_DIR_ENV, raising=False)
    assert len(load_dataset("fashion_mnist").train_images) == 10
    assert data.DATASETS["fashion_mnist"].class_names[9] == "Ankle boot"


def test_folder_loads_like_any_idx_data_set(idx_folder: Path, mnist: LabelledImages) -> None:
    loaded = load_dataset(data_dir=idx_folder)
    np.testing.assert_array_equal(loaded.train_images, mnist.train_images[:100])
    np.testing.assert_array_equal(loaded.test_labels, mnist.test_labels[:50])


def rewrite(key: str, array: np.ndarray) -> Callable[[Path], None]:
    """Damage: the file ``key`` holds ``array``, and MD5SUMS says so."""

    def damage(folder: Path) -> None:
        write_idx(folder / FILES[key], array)
        write_md5sums(folder)

    return damage


def repack(key: str, change: Callable[[bytes], bytes], listed: bool = True) -> Callable[[Path], None]:
    """Damage: the gz file ``key``'s bytes changed; MD5SUMS updated if ``listed``."""

    def damage(folder: Path) -> None:
        path = folder / FILES[key]
        path.write_bytes(change(path.read_bytes()))
        if listed:
            write_md5sums(folder)

    return damage


def replace_by_folder(folder: Path) -> None:
    (folder / FILES["test_images"]).unlink()
    (folder / FILES["test_images"]).mkdir()


def edit_md5sums(change: Callable[[list[str]], list[str]]) -> Callable[[Path], None]:
    def damage(folder: Path) -> None:
        sums = folder / "MD5SUMS"
        sums.write_text("\n".join(change(sums.read_text().splitlines())) + "\n")

    return damage


def flip_middle_byte(packed: bytes) -> bytes:
    middle = len(packed) // 2
    return packed[:middle] + bytes([packed[middle] ^ 0xFF]) + packed[middle + 1 :]


# Each damage to a folder of IDX files (conftest.idx_folder), and the words (one or more parts)
# the loader's DataError names it in, ``{data}`` standing for the folder. test_bad_inputs.py takes
# one of them through the command line.
DAMAGED_DATA = {
    "missing file": (
        lambda f: (f / FILES["test_labels"]).unlink(),
        "missing data file {data}/t10k-labels-idx1-ubyte.gz",
    ),
    "a folder for a file": (
        replace_by_folder,
        "t10k-images-idx3-ubyte.gz: Is a directory",
    ),
    "MD5SUMS line malformed": (
        edit_md5sums(lambda lines: [*lines, "d41d8cd9 train-images"]),
        "MD5SUMS line 5 is not an md5 and a file name, as md5sum writes: 'd41d8cd9 train-images'",
    ),
    "MD5SUMS lacks a file": (
        edit_md5sums(lambda lines: lines[:-1]),
        "MD5SUMS lists no md5 for t10k-labels-idx1-ubyte.gz",
    ),
    "md5 not MD5SUMS's": (
        repack("train_images", lambda b: b[:-10], listed=False),
        (
            "train-images-idx3-ubyte.gz has md5 ",
            "(MD5SUMS): the file is corrupt, or MD5SUMS is out of date",
        ),
    ),
    "damaged byte in a gz file": (
        repack("train_images", flip_middle_byte),
        "train-images-idx3-ubyte.gz is not a readable gzip file",
    ),
    "gz file cut short": (
        repack("train_images", lambda b: b[: len(b) // 2]),
        "train-images-idx3-ubyte.gz is not a readable gzip file",
    ),
    "not gzip": (
        repack("train_labels", lambda b: b"labels"),
        "train-labels-idx1-ubyte.gz is not a readable gzip file",
    ),
    "IDX content cut short": (
        repack("train_images", lambda b: gzip.compress(gzip.decompress(b)[:-100])),
        "train-images-idx3-ubyte.gz holds 78300 values, expected 78400",
    ),
    "wrong IDX rank": (
        rewrite("train_labels", np.zeros((100, 1, 1), np.uint8)),
        "train-labels-idx1-ubyte.gz has IDX magic 0x00000803, expected 0x00000801",
    ),
    "images not 28×28": (
        rewrite("test_images", np.zeros((50, 28, 27), np.uint8)),
        "test images have shape (50, 28, 27), expected (N, 28, 28)",
    ),
    "fewer labels than images": (
        rewrite("test_labels", np.zeros(49, np.uint8)),
        "test labels have shape (49,), expected (50,)",
    ),
    "no training images": (
        lambda f: (
            rewrite("train_images", np.zeros((0, 28, 28)))(f),
            rewrite("train_labels", np.zeros(0))(f),
        ),
        "the train set holds no images",
    ),
    "IDX files of another data set, no MD5SUMS": (
        lambda f: (f / "MD5SUMS").unlink(),
        (
            "train-images-idx3-ubyte.gz is a well-formed IDX file, but not MNIST's: "
            "the md5 of its content is ",
            "list its files' md5s in {data}/MD5SUMS (md5sum *.gz > MD5SUMS)",
        ),
    ),
}


@pytest.mark.parametrize("case", DAMAGED_DATA)
def test_damaged_data_folder_is_refused_by_name(idx_folder: Path, case: str) -> None:
    damage, message = DAMAGED_DATA[case]
    damage(idx_folder)
    with pytest.raises(DataError) as refused:
        load_dataset(data_dir=idx_folder)
    for part in (message,) if isinstance(message, str) else message:
        assert part.replace("{data}", str(idx_folder)) in str(refused.value)


def test_idx_files_of_no_known_data_set_are_refused_as_the_one_asked_for(idx_folder: Path) -> None:
    (idx_folder / "MD5SUMS").unlink()
    message = r"train-images-idx3-ubyte.gz is a well-formed IDX file, but not Fashion-MNIST's"
    with pytest.raises(DataError, match=message):
        load_dataset("fashion_mnist", idx_folder)


def test_environment_variable_names_the_folder(idx_folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(data.DATA_DIR_ENV, str(idx_folder))
    assert len(load_dataset().train_images) == 100


def test_without_folder_the_keras_download_is_used(
    monkeypatch: pytest.MonkeyPatch, mnist: LabelledImages
) -> None:
    split = (
        (mnist.train_images[:10], mnist.train_labels[:10]),
        (mnist.test_images[:5], mnist.test_labels[:5]),
    )
    monkeypatch.setattr(tf.keras.datasets.mnist, "load_data", lambda: split)
    monkeypatch.delenv(data.DATA_DIR_ENV, raising=False)
    monkeypatch.delenv(data.FASHION_DATA_DIR_ENV, raising=False)
    assert load_dataset().test_images.shape == (5, 28, 28)


def test_failed_download_says_how_to_work_offline(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def offline() -> None:
        raise OSError("network is unreachable")

    monkeypatch.setattr(tf.keras.datasets.mnist, "load_data", offline)
    monkeypatch.delenv(data.DATA_DIR_ENV, raising=False)
    monkeypatch.delenv(data.FASHION_DATA_DIR_ENV, raising=False)
    with pytest.raises(DataError, match=r"could not download MNIST .*set \$VAE_DATA_DIR"):
        load_dataset()


def test_static_binarization_thresholds_at_half() -> None:
    grey = np.array([[[0, 127, 128, 255]]], np.uint8)
    np.testing.assert_array_equal(binarize_static(grey)[0, 0, :, 0], [0.0, 0.0, 1.0, 1.0])
    assert binarize_static(grey).shape == (1, 1, 4, 1)


def test_dynamic_binarization_samples_the_grey_level() -> None:
    grey = tf.fill([200, 28, 28, 1], 0.3)
    first = binarize_dynamic(grey, tf.constant([1, 2], tf.int64))
    again = binarize_dynamic(grey, tf.constant([1, 2], tf.int64))
    other = binarize_dynamic(grey, tf.constant([1, 3], tf.int64))
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)
    assert set(np.unique(first)) == {0.0, 1.0}
    assert abs(float(tf.reduce_mean(first)) - 0.3) < 0.01


def test_train_batches_are_a_seeded_permutation(small_mnist: LabelledImages) -> None:
    pipes = make_pipelines(small_mnist, batch_size=100, seed=7)
    epoch1 = np.concatenate(list(pipes.train_dataset(1).as_numpy_iterator()))
    epoch1_again = np.concatenate(list(pipes.train_dataset(1).as_numpy_iterator()))
    epoch2 = np.concatenate(list(pipes.train_dataset(2).as_numpy_iterator()))
    assert epoch1.shape == (512, 28, 28, 1)
    np.testing.assert_array_equal(epoch1, epoch1_again)
    assert not np.array_equal(epoch1, epoch2)
    # Every image exactly once: the sorted pixel sums agree.
    np.testing.assert_array_equal(
        np.sort(epoch1.sum(axis=(1, 2, 3))),
        np.sort(pipes.train_images.sum(axis=(1, 2, 3))),
    )


def test_batches_with_labels_pair_each_image_with_its_own_label(small_mnist: LabelledImages) -> None:
    pipes = make_pipelines(small_mnist, batch_size=100, seed=7)
    images, labels = (np.concatenate(part) for part in zip(*pipes.train_dataset(1, labels=True), strict=True))
    np.testing.assert_array_equal(images, np.concatenate(list(pipes.train_dataset(1))))
    # Each image's label is the label of the training image with exactly those pixels.
    by_pixels = {
        binarize_static(small_mnist.train_images[i : i + 1]).tobytes(): label
        for i, label in enumerate(small_mnist.train_labels)
    }
    assert [by_pixels[image[None].tobytes()] for image in images] == labels.tolist()


def test_dynamic_pipeline_draws_new_pixels_each_epoch(small_mnist: LabelledImages) -> None:
    pipes = make_pipelines(small_mnist, batch_size=512, binarization="dynamic")
    one = next(iter(pipes.train_dataset(1))).numpy()
    assert set(np.unique(one)) <= {0.0, 1.0}
    assert set(np.unique(pipes.test_images)) == {0.0, 1.0}


def test_train_size_keeps_the_first_images(small_mnist: LabelledImages) -> None:
    pipes = make_pipelines(small_mnist, batch_size=32, train_size=100)
    assert pipes.train_images.shape == (100, 28, 28, 1)
    assert [int(b.shape[0]) for b in pipes.train_dataset(1)] == [32, 32, 32, 4]
    assert pipes.test_images.shape == (500, 28, 28, 1)


def test_validation_split_holds_out_the_last_training_images(mnist: LabelledImages) -> None:
    split = with_validation_split(mnist)
    assert len(split.train_images) == 50_000 and len(split.test_images) == VALIDATION_SIZE
    np.testing.assert_array_equal(split.test_images, mnist.train_images[50_000:])
    np.testing.assert_array_equal(split.test_labels, mnist.train_labels[50_000:])
    np.testing.assert_array_equal(split.train_images, mnist.train_images[:50_000])


def test_validation_split_of_too_small_a_set_is_named(small_mnist: LabelledImages) -> None:
    with pytest.raises(
        DataError,
        match="a validation split needs more than 10,000 training images, the data holds 512",
    ):
        with_validation_split(small_mnist)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"batch_size": 0}, "batch_size must be positive"),
        ({"train_size": 513}, "train_size: 513 is not in 1..512"),
        ({"binarization": "fuzzy"}, "binarization must be one of static, dynamic, none"),
    ],
)
def test_bad_pipeline_arguments_are_named(small_mnist: LabelledImages, kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make_pipelines(small_mnist, **kwargs)


def test_held_out_images_are_the_runs_protocol(small_mnist: LabelledImages) -> None:
    for binarization in ("static", "dynamic"):
        images, labels = held_out_images(small_mnist, TrainConfig(binarization=binarization))
        np.testing.assert_array_equal(images, binary_test_images(small_mnist, binarization))
        np.testing.assert_array_equal(labels, small_mnist.test_labels)
    # The stochastic twin is one fixed sample: the same images every time, not the
    # thresholded ones.
    dynamic = binary_test_images(small_mnist, "dynamic")
    np.testing.assert_array_equal(dynamic, binary_test_images(small_mnist, "dynamic"))
    assert not np.array_equal(dynamic, binary_test_images(small_mnist, "static"))
    assert set(np.unique(dynamic)) == {0.0, 1.0}


def test_eight_bit_pixels_reach_the_model_as_their_levels(small_mnist: LabelledImages) -> None:
    data = make_pipelines(small_mnist, batch_size=16, binarization="none")
    batch = next(iter(data.train_dataset(epoch=1)))
    order = streams.numpy_rng(0, streams.Stream.SHUFFLE, 1).permutation(512)[:16]
    np.testing.assert_array_equal(batch.numpy() * 255.0, small_mnist.train_images[order][..., None])
    images, _ = held_out_images(small_mnist, TrainConfig(binarization="none", likelihood="logistic"))
    np.testing.assert_array_equal(images, data.test_images)
    assert len(np.unique(images)) > 2 and images.max() == 1.0
    with pytest.raises(ValueError, match="keeps grey levels: use test_inputs"):
        binary_test_images(small_mnist, "none")


def test_colour_images_keep_their_channels() -> None:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (6, 32, 32, 3), dtype=np.uint8)
    colour = LabelledImages(images, np.arange(6, dtype=np.uint8), images[:2], np.arange(2, dtype=np.uint8))
    assert colour.image_shape == (32, 32, 3)
    batch = next(iter(make_pipelines(colour, batch_size=6, binarization="none").train_dataset(epoch=1)))
    assert batch.shape == (6, 32, 32, 3)
    np.testing.assert_allclose(
        np.sort(batch.numpy(), axis=None), np.sort(images / 255.0, axis=None), rtol=1e-6
    )
    with pytest.raises(DataError, match=r"training images are \(32, 32, 3\), test images \(32, 32\)"):
        LabelledImages(images, np.arange(6, dtype=np.uint8), images[:2, ..., 0], np.arange(2, dtype=np.uint8))


def test_cifar10_is_not_read_as_idx(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"cifar10 is not in MNIST's IDX format: load it with load_dataset"):
        load_idx_folder(tmp_path, "cifar10")
