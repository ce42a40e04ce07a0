"""MNIST as arrays and as `tf.data` pipelines.

Two ways in, never mixed:

* ``VAE_DATA_DIR`` (or ``data_dir=``) names a folder holding the four original
  IDX gz files. Every file is md5-checked against the folder's ``MD5SUMS`` if it
  has one (so any data set in the same IDX format loads the same way), else
  against the official MNIST checksums.
* With no folder configured, the standard Keras download is used.

A folder that is configured but broken raises :class:`DataError`; it never
falls back to downloading other data.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import get_args

import numpy as np
import tensorflow as tf

from vae_lib.config import Binarization

DATA_DIR_ENV = "VAE_DATA_DIR"
IMAGE_SHAPE = (28, 28, 1)

FILES = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}
MNIST_MD5 = {
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}
# IDX magic numbers: 0x0000 then type code 0x08 (unsigned byte) then rank.
_IDX_MAGIC = {1: 0x00000801, 3: 0x00000803}



class DataError(RuntimeError):
    """A data file is missing, corrupt, or not what it should be."""


@dataclass(frozen=True)
class Mnist:
    """Raw MNIST: images ``uint8 [N, 28, 28]`` in 0..255, labels ``uint8 [N]``."""

    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray

    def __post_init__(self) -> None:
        for split in ("train", "test"):
            images = getattr(self, f"{split}_images")
            labels = getattr(self, f"{split}_labels")
            if images.ndim != 3 or images.shape[1:] != IMAGE_SHAPE[:2]:
                raise DataError(f"{split} images have shape {images.shape}, expected (N, 28, 28)")
            if labels.shape != images.shape[:1]:
                raise DataError(f"{split} labels have shape {labels.shape}, expected ({images.shape[0]},)")


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def _expected_md5s(folder: Path) -> dict[str, str]:
    sums = folder / "MD5SUMS"
    if not sums.exists():
        return MNIST_MD5
    expected = {}
    for line in sums.read_text().splitlines():
        if line.strip():
            digest, name = line.split()
            expected[name.lstrip("*")] = digest
    return expected


def read_idx(path: Path, rank: int, expected_md5: str | None = None) -> np.ndarray:
    """Read one gzipped IDX file of unsigned bytes with ``rank`` dimensions.

    Raises :class:`DataError` naming the file if it is missing, fails its md5
    check, is not gzip, has the wrong header, or is truncated.
    """
    if not path.is_file():
        raise DataError(f"missing data file {path}")
    if expected_md5 is not None and (actual := _md5(path)) != expected_md5:
        raise DataError(f"{path} has md5 {actual}, expected {expected_md5}: the file is corrupt")
    try:
        raw = gzip.decompress(path.read_bytes())
    except (OSError, EOFError) as err:
        raise DataError(f"{path} is not a readable gzip file: {err}") from err
    header_size = 4 + 4 * rank
    if len(raw) < header_size:
        raise DataError(f"{path} is truncated: {len(raw)} bytes, shorter than its IDX header")
    magic = int.from_bytes(raw[:4], "big")
    if magic != _IDX_MAGIC[rank]:
        raise DataError(
            f"{path} has IDX magic {magic:#010x}, expected {_IDX_MAGIC[rank]:#010x} "
            f"(unsigned bytes, rank {rank})"
        )
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(rank))
    body = np.frombuffer(raw, dtype=np.uint8, offset=header_size)
    if body.size != int(np.prod(shape)):
        raise DataError(f"{path} holds {body.size} values, expected {int(np.prod(shape))} for shape {shape}")
    return body.reshape(shape)


def load_mnist_folder(folder: str | os.PathLike[str]) -> Mnist:
    """Load the four IDX gz files from ``folder`` (checked, see module doc)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"data folder {folder} does not exist (set by ${DATA_DIR_ENV}?)")
    expected = _expected_md5s(folder)
    arrays = {
        key: read_idx(folder / name, 3 if key.endswith("images") else 1, expected.get(name))
        for key, name in FILES.items()
    }
    return Mnist(**arrays)


def load_mnist(data_dir: str | os.PathLike[str] | None = None) -> Mnist:
    """MNIST from ``data_dir``, else ``$VAE_DATA_DIR``, else the Keras download."""
    folder = data_dir or os.environ.get(DATA_DIR_ENV)
    if folder:
        return load_mnist_folder(folder)
    try:
        (x_train, y_train), (x_test, y_test) = tf.keras.datasets.mnist.load_data()
    except Exception as err:  # the download raises several kinds, all mean "no data"
        raise DataError(
            f"could not download MNIST ({err}); offline, set ${DATA_DIR_ENV} to a folder "
            f"holding {', '.join(FILES.values())}"
        ) from err
    return Mnist(x_train, y_train, x_test, y_test)


def to_unit_interval(images: np.ndarray) -> np.ndarray:
    """``uint8 [N, 28, 28]`` → ``float32 [N, 28, 28, 1]`` grey levels in [0, 1]."""
    return (images.astype(np.float32) / 255.0)[..., np.newaxis]


def binarize_static(images: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """Threshold ``uint8`` images once: pixel → 1.0 if grey level > threshold, else 0.0."""
    return (to_unit_interval(images) > threshold).astype(np.float32)


# The seed of the one stochastic binarization of the test set: fixed, so that every figure
# measured on it, in this book or elsewhere with this library, is on the same binary images.
STOCHASTIC_TEST_SEED = 20160101


def binarize_stochastic(images: np.ndarray, seed: int = STOCHASTIC_TEST_SEED) -> np.ndarray:
    """Draw each pixel of ``uint8`` images once from Bernoulli(grey level): ``float32 [N, 28, 28, 1]``.

    The papers' test protocol (e.g. Burda et al. 2016): one fixed sample, so that a
    number measured on it is the same on every machine.
    """
    grey = to_unit_interval(images)
    return (np.random.default_rng(seed).random(grey.shape, dtype=np.float32) < grey).astype(np.float32)


def binary_test_images(mnist: Mnist, binarization: Binarization = "static") -> np.ndarray:
    """The test set as a model sees it, ``float32 [10000, 28, 28, 1]``.

    ``"static"`` thresholds it (the tutorial's protocol); ``"dynamic"`` gives its
    stochastic twin, binarized once from :data:`STOCHASTIC_TEST_SEED` (the papers'
    protocol, for models trained on dynamically binarized images).
    """
    if binarization == "static":
        return binarize_static(mnist.test_images)
    return binarize_stochastic(mnist.test_images)


def binarize_dynamic(grey: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
    """Draw each pixel from Bernoulli(grey level), afresh for every ``seed``."""
    uniform = tf.random.stateless_uniform(tf.shape(grey), seed=seed)
    return tf.cast(uniform < grey, tf.float32)


@dataclass(frozen=True)
class Pipelines:
    """Training and test images ready to batch.

    The training set stays in memory as its raw bytes (``uint8 [N, 28, 28]``,
    47 MB for MNIST instead of 188 MB as float32), and each batch is converted
    as it is drawn: thresholded (static), or sampled afresh from its grey levels
    every epoch (dynamic). The test set is binarized once, as
    :func:`binary_test_images` does for the same ``binarization``, so that test
    numbers are comparable between epochs.
    """

    train_bytes: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray  # float32 [N, 28, 28, 1], binary
    test_labels: np.ndarray
    batch_size: int
    seed: int
    binarization: Binarization

    @property
    def train_images(self) -> np.ndarray:
        """The training images as a batch holds them before sampling, ``float32 [N, 28, 28, 1]``.

        Binary (static) or grey levels in [0, 1] (dynamic); made on demand, for looking at.
        """
        if self.binarization == "static":
            return binarize_static(self.train_bytes)
        return to_unit_interval(self.train_bytes)

    @functools.cached_property
    def _train_bytes_tensor(self) -> tf.Tensor:
        return tf.constant(self.train_bytes)

    def train_dataset(self, epoch: int) -> tf.data.Dataset:
        """Batches ``float32 [B, 28, 28, 1]`` for ``epoch``, shuffled by a permutation fixed by (seed, epoch).

        Deterministic: a resumed run sees exactly the batches it would have seen.
        """
        order = np.random.default_rng([self.seed, epoch]).permutation(len(self.train_bytes))
        images = self._train_bytes_tensor
        dataset = tf.data.Dataset.from_tensor_slices(order).batch(self.batch_size)

        def grey(idx: tf.Tensor) -> tf.Tensor:
            return tf.cast(tf.gather(images, idx), tf.float32)[..., tf.newaxis] / 255.0

        if self.binarization == "dynamic":
            batches = dataset.enumerate().map(
                lambda step, idx: binarize_dynamic(grey(idx), tf.stack([self.seed + 1_000_003 * epoch, step]))
            )
        else:
            # The same threshold as binarize_static: grey level > 0.5.
            batches = dataset.map(lambda idx: tf.cast(grey(idx) > 0.5, tf.float32))
        return _lean(batches)


def _lean(batches: tf.data.Dataset) -> tf.data.Dataset:
    """Prefetch two batches on one private thread, with tf.data's autotuner off.

    A batch is one gather from memory, so one thread keeps any device fed; the
    autotuner's threads would instead compete with the training step for the
    CPU cores (see bench/README.md).
    """
    options = tf.data.Options()
    options.autotune.enabled = False
    options.threading.private_threadpool_size = 1
    return batches.prefetch(2).with_options(options)


def make_pipelines(
    mnist: Mnist,
    batch_size: int = 32,
    seed: int = 0,
    train_size: int | None = None,
    binarization: Binarization = "static",
) -> Pipelines:
    """Binarize ``mnist`` and wrap it for training.

    ``train_size`` keeps the first N training images (a quick run); the test
    set is always whole.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    n_train = len(mnist.train_images)
    if train_size is not None and not 1 <= train_size <= n_train:
        raise ValueError(f"train_size must be in 1..{n_train}, got {train_size}")
    if binarization not in get_args(Binarization):
        raise ValueError(f"binarization must be 'static' or 'dynamic', got {binarization!r}")
    keep = slice(0, train_size)
    return Pipelines(
        train_bytes=mnist.train_images[keep],
        train_labels=mnist.train_labels[keep],
        test_images=binary_test_images(mnist, binarization),
        test_labels=mnist.test_labels,
        batch_size=batch_size,
        seed=seed,
        binarization=binarization,
    )
