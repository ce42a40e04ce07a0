"""MNIST and Fashion-MNIST (and CIFAR-10, read by :mod:`vae_lib.cifar10`) as arrays and `tf.data` pipelines.

MNIST and Fashion-MNIST come in the same IDX format, with 28×28 grey images in ten classes
(:data:`DATASETS`); :func:`load_dataset` loads any of the three. Two ways in, never mixed:

* ``VAE_DATA_DIR`` (or ``data_dir=``) names a folder holding the four IDX gz
  files. Each file's *content*, its decompressed bytes, must have the md5 of the
  genuine file of the data set asked for (:data:`DATASETS`). Checking the content,
  not the gz file, accepts a genuine copy however it was compressed (Debian, for
  one, re-compresses Fashion-MNIST, so its gz files do not have the published
  md5s; gzip's own CRC catches a damaged gz file) and refuses a damaged copy or
  another data set, saying which it is. A folder with an ``MD5SUMS`` file
  (``md5sum *.gz > MD5SUMS``) is checked against it instead: that is how any
  other data set in the same format loads (only MNIST or Fashion-MNIST asked
  for by the other's name is still refused).
* With no folder configured, the data set's Keras download is used.

A folder that is configured but broken raises :class:`DataError`; it never
falls back to downloading other data.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import math
import os
import re
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import get_args

import numpy as np
import tensorflow as tf

from vae_lib import streams
from vae_lib.config import Binarization, ConfigError, Dataset, TrainConfig

DATA_DIR_ENV = "VAE_DATA_DIR"  # MNIST's folder
FASHION_DATA_DIR_ENV = "VAE_FASHION_DATA_DIR"  # Fashion-MNIST's (Debian: /usr/share/datasets/fashion-mnist)
IMAGE_SHAPE = (
    28,
    28,
    1,
)  # MNIST's and Fashion-MNIST's; a model takes its data's (LabelledImages.image_shape)

FILES = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}
# The published md5s of MNIST's gz files, for reference: a folder holding these files is
# genuine, and so is any re-compression of them, which is why loading checks the content.
MNIST_MD5 = {
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}
# IDX magic numbers: 0x0000 then type code 0x08 (unsigned byte) then rank.
_IDX_MAGIC = {1: 0x00000801, 3: 0x00000803}


@dataclass(frozen=True)
class DatasetInfo:
    """What the library knows of a data set in MNIST's format."""

    name: str  # as figure titles and messages name it
    class_names: tuple[str, ...]  # label i is class_names[i]
    # gz file name → md5 of its decompressed bytes: those of the files the data set's authors
    # publish (for Fashion-MNIST the same as Debian's re-compressed copies hold); empty for
    # a data set in another format.
    content_md5: dict[str, str]
    image_shape: tuple[int, int, int] = IMAGE_SHAPE  # (height, width, channels)


DATASETS: dict[Dataset, DatasetInfo] = {
    "mnist": DatasetInfo(
        "MNIST",
        tuple("0123456789"),
        {
            "train-images-idx3-ubyte.gz": "6bbc9ace898e44ae57da46a324031adb",
            "train-labels-idx1-ubyte.gz": "a25bea736e30d166cdddb491f175f624",
            "t10k-images-idx3-ubyte.gz": "2646ac647ad5339dbf082846283269ea",
            "t10k-labels-idx1-ubyte.gz": "27ae3e4e09519cfbb04c329615203637",
        },
    ),
    "fashion_mnist": DatasetInfo(
        "Fashion-MNIST",
        (
            "T-shirt/top",
            "Trouser",
            "Pullover",
            "Dress",
            "Coat",
            "Sandal",
            "Shirt",
            "Sneaker",
            "Bag",
            "Ankle boot",
        ),
        {
            "train-images-idx3-ubyte.gz": "f4a8712d7a061bf5bd6d2ca38dc4d50a",
            "train-labels-idx1-ubyte.gz": "9018921c3c673c538a1fc5bad174d6f9",
            "t10k-images-idx3-ubyte.gz": "8181f5470baa50b63fa0f6fddb340f0a",
            "t10k-labels-idx1-ubyte.gz": "15d484375f8d13e6eb1aabb0c3f46965",
        },
    ),
    # Not in IDX format: vae_lib.cifar10 reads its own files.
    "cifar10": DatasetInfo(
        "CIFAR-10",
        ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"),
        {},
        (32, 32, 3),
    ),
}


class DataError(RuntimeError):
    """A data file is missing, corrupt, or not what it should be."""


@dataclass(frozen=True)
class LabelledImages:
    """Raw images in 0..255 and labels ``uint8 [N]``: MNIST's or Fashion-MNIST's grey ``uint8 [N, 28, 28]``,
    or colour ``uint8 [N, H, W, C]`` (CIFAR-10's ``[N, 32, 32, 3]``, :mod:`vae_lib.cifar10`).

    The training and test images have one shape; the model takes it from :attr:`image_shape`.
    """

    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray

    def __post_init__(self) -> None:
        for split in ("train", "test"):
            images = getattr(self, f"{split}_images")
            labels = getattr(self, f"{split}_labels")
            if images.ndim not in (3, 4):
                raise DataError(
                    f"{split} images have shape {images.shape}, expected (N, H, W) or (N, H, W, C)"
                )
            if labels.shape != images.shape[:1]:
                raise DataError(f"{split} labels have shape {labels.shape}, expected ({images.shape[0]},)")
            if len(images) == 0:
                raise DataError(f"the {split} set holds no images")
        if self.train_images.shape[1:] != self.test_images.shape[1:]:
            raise DataError(
                f"training images are {self.train_images.shape[1:]}, "
                f"test images {self.test_images.shape[1:]}: "
                "one data set has one image shape"
            )

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """(height, width, channels) of one image as a model sees it: ``(28, 28, 1)`` for MNIST."""
        height, width, *channels = self.train_images.shape[1:]
        return height, width, channels[0] if channels else 1


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"missing data file {path}") from None
    except OSError as err:
        raise DataError(f"cannot read {path}: {err.strerror}") from None


def _md5sums(folder: Path) -> dict[str, str] | None:
    """The folder's ``MD5SUMS`` as {file name: md5}, or None if it has none."""
    path = folder / "MD5SUMS"
    if not path.exists():
        return None
    sums = {}
    for number, line in enumerate(_read(path).decode(errors="replace").splitlines(), 1):
        fields = line.split(maxsplit=1)
        if not fields:
            continue
        if len(fields) != 2 or not re.fullmatch(r"[0-9a-fA-F]{32}", fields[0]):
            raise DataError(f"{path} line {number} is not an md5 and a file name, as md5sum writes: {line!r}")
        sums[fields[1].strip().lstrip("*")] = fields[0].lower()
    if missing := [name for name in FILES.values() if name not in sums]:
        raise DataError(f"{path} lists no md5 for {', '.join(missing)}")
    return sums


def _check_content(path: Path, content: bytes, dataset: Dataset, listed: bool) -> None:
    """Refuse a file whose content is another known data set's, or, unless ``listed`` in MD5SUMS,
    is not ``dataset``'s genuine file of its name; say what it is."""
    actual, info = hashlib.md5(content).hexdigest(), DATASETS[dataset]
    if actual == info.content_md5[path.name]:
        return
    for other, known in DATASETS.items():
        if actual == known.content_md5.get(path.name):
            raise DataError(
                f"{path} is {known.name}'s, not {info.name}'s: give {info.name}'s files, "
                f"or train on {known.name} with --dataset {other}"
            )
    if listed:
        return
    raise DataError(
        f"{path} is a well-formed IDX file, but not {info.name}'s: the md5 of its content is {actual}, "
        f"{info.name}'s is {info.content_md5[path.name]}. To load another data set in this format, "
        f"list its files' md5s in {path.parent / 'MD5SUMS'} (md5sum *.gz > MD5SUMS)"
    )


def read_idx(
    path: Path, rank: int, expected_md5: str | None = None, dataset: Dataset | None = None
) -> np.ndarray:
    """Read one gzipped IDX file of unsigned bytes with ``rank`` dimensions.

    ``expected_md5`` (from MD5SUMS) checks the gz file as it is. ``dataset`` checks
    its content against that data set's genuine file of the same name; a file
    vouched for by ``expected_md5`` may hold other data, but not another known
    data set's. Raises :class:`DataError` naming the file if it is missing or
    unreadable, fails a check, is not gzip, has the wrong header, or is truncated.
    """
    packed = _read(path)
    if expected_md5 is not None and (actual := hashlib.md5(packed).hexdigest()) != expected_md5:
        raise DataError(
            f"{path} has md5 {actual}, expected {expected_md5} (MD5SUMS): the file is corrupt, "
            "or MD5SUMS is out of date"
        )
    try:
        raw = gzip.decompress(packed)
    except (OSError, EOFError, zlib.error) as err:
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
    if body.size != math.prod(shape):
        raise DataError(f"{path} holds {body.size} values, expected {math.prod(shape)} for shape {shape}")
    if dataset is not None:
        _check_content(path, raw, dataset, listed=expected_md5 is not None)
    return body.reshape(shape)


def load_idx_folder(folder: str | os.PathLike[str], dataset: Dataset = "mnist") -> LabelledImages:
    """The four IDX gz files of ``dataset`` (MNIST or Fashion-MNIST) in ``folder``, checked as above."""
    if not DATASETS[dataset].content_md5:
        raise DataError(f"{dataset} is not in MNIST's IDX format: load it with load_dataset({dataset!r})")
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"data folder {folder} {'is not a folder' if folder.exists() else 'does not exist'}")
    sums = _md5sums(folder)
    arrays = {
        key: read_idx(
            folder / name,
            3 if key.endswith("images") else 1,
            expected_md5=sums[name] if sums else None,
            dataset=dataset,
        )
        for key, name in FILES.items()
    }
    return _idx_format(**arrays)


def _idx_format(**arrays: np.ndarray) -> LabelledImages:
    """The arrays as :class:`LabelledImages` if their images are 28×28, as in IDX files; else a DataError."""
    for split in ("train", "test"):
        shape = arrays[f"{split}_images"].shape
        if shape[1:] != IMAGE_SHAPE[:2]:
            raise DataError(f"{split} images have shape {shape}, expected (N, 28, 28)")
    return LabelledImages(**arrays)


def load_dataset(
    dataset: Dataset = "mnist", data_dir: str | os.PathLike[str] | None = None
) -> LabelledImages:
    """``dataset`` (MNIST by default) from ``data_dir``, else its folder variable, else its Keras download.

    The variable is ``$VAE_DATA_DIR`` for MNIST and ``$VAE_FASHION_DATA_DIR`` for Fashion-MNIST;
    CIFAR-10, in a format of its own, is loaded by :mod:`vae_lib.cifar10`.
    """
    if dataset == "cifar10":
        from vae_lib.cifar10 import load_cifar10  # its own file format; imported only when asked for

        return load_cifar10(data_dir)
    if data_dir:
        return load_idx_folder(data_dir, dataset)
    variable = FASHION_DATA_DIR_ENV if dataset == "fashion_mnist" else DATA_DIR_ENV
    if folder := os.environ.get(variable):
        try:
            return load_idx_folder(folder, dataset)
        except DataError as err:
            raise DataError(f"${variable}: {err}") from None
    info = DATASETS[dataset]
    try:
        # tf.keras.datasets.mnist or .fashion_mnist, looked up now so that tests can stand in for it.
        (x_train, y_train), (x_test, y_test) = getattr(tf.keras.datasets, dataset).load_data()
    except Exception as err:  # the download raises several kinds, all mean "no data"
        raise DataError(
            f"could not download {info.name} ({err}); offline, set ${variable} or --data-dir "
            f"to a folder holding {', '.join(FILES.values())}"
        ) from err
    return _idx_format(train_images=x_train, train_labels=y_train, test_images=x_test, test_labels=y_test)


def to_unit_interval(images: np.ndarray) -> np.ndarray:
    """``uint8 [N, 28, 28]`` → ``float32 [N, 28, 28, 1]``, levels k/255 in [0, 1]; ``[N, H, W, C]`` keep C."""
    unit = images.astype(np.float32) / 255.0
    return unit[..., np.newaxis] if images.ndim == 3 else unit


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


def binary_test_images(mnist: LabelledImages, binarization: Binarization = "static") -> np.ndarray:
    """The test set as a model of binary pixels sees it, ``float32 [10000, 28, 28, 1]``.

    ``"static"`` thresholds it (the tutorial's protocol); ``"dynamic"`` gives its
    stochastic twin, binarized once from :data:`STOCHASTIC_TEST_SEED` (the papers'
    protocol, for models trained on dynamically binarized images).
    """
    if binarization == "static":
        return binarize_static(mnist.test_images)
    if binarization == "dynamic":
        return binarize_stochastic(mnist.test_images)
    raise ValueError(f"binarization={binarization!r} keeps grey levels: use test_inputs for those")


def test_inputs(mnist: LabelledImages, binarization: Binarization) -> np.ndarray:
    """The test set as a run of ``binarization`` sees it: binary (:func:`binary_test_images`), or with
    ``"none"`` the 8-bit levels k/255 themselves, ``float32 [N, H, W, C]``."""
    if binarization == "none":
        return to_unit_interval(mnist.test_images)
    return binary_test_images(mnist, binarization)


VALIDATION_SIZE = 10_000


def with_validation_split(mnist: LabelledImages) -> LabelledImages:
    """``mnist`` with its last :data:`VALIDATION_SIZE` training images in place of the test set.

    For choosing settings, as papers do: a model trains on the first 50,000
    images and is judged on the 10,000 it never saw, so the test set is used
    once, for the final model, and never to pick one.
    """
    n_train = len(mnist.train_images) - VALIDATION_SIZE
    if n_train < 1:
        raise DataError(
            f"a validation split needs more than {VALIDATION_SIZE:,} training images, the data holds "
            f"{len(mnist.train_images):,}"
        )
    return LabelledImages(
        mnist.train_images[:n_train],
        mnist.train_labels[:n_train],
        mnist.train_images[n_train:],
        mnist.train_labels[n_train:],
    )


def held_out(mnist: LabelledImages, validation: bool) -> LabelledImages:
    """``mnist`` as a run uses it: itself, or with ``validation`` :func:`with_validation_split`'s."""
    return with_validation_split(mnist) if validation else mnist


def held_out_images(mnist: LabelledImages, config: TrainConfig) -> tuple[np.ndarray, np.ndarray]:
    """The images a run of ``config`` is judged on, ``float32 [N, H, W, C]``, and their labels.

    The test set (or with ``validation`` the last training images), binarized as the
    run's protocol says, or kept grey (:func:`test_inputs`).
    """
    images = held_out(mnist, config.validation)
    return test_inputs(images, config.binarization), images.test_labels


def binarize_dynamic(grey: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
    """Draw each pixel from Bernoulli(grey level), afresh for every ``seed``."""
    uniform = tf.random.stateless_uniform(tf.shape(grey), seed=seed)
    return tf.cast(uniform < grey, tf.float32)


@dataclass(frozen=True)
class Pipelines:
    """Training and test images ready to batch.

    The training set stays in memory as its raw bytes (``uint8 [N, 28, 28]``,
    47 MB for MNIST instead of 188 MB as float32), and each batch is converted
    as it is drawn: thresholded (static), sampled afresh from its grey levels
    every epoch (dynamic), or kept as its levels k/255 (none). The test set is
    converted once, as :func:`test_inputs` does for the same ``binarization``, so
    that test numbers are comparable between epochs.
    """

    train_bytes: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray  # float32 [N, H, W, C], binary or k/255
    test_labels: np.ndarray
    batch_size: int
    seed: int
    binarization: Binarization

    @property
    def train_images(self) -> np.ndarray:
        """The training images as a batch holds them before sampling, ``float32 [N, 28, 28, 1]``.

        Binary (static) or grey levels in [0, 1] (dynamic, none); made on demand, for looking at.
        """
        if self.binarization == "static":
            return binarize_static(self.train_bytes)
        return to_unit_interval(self.train_bytes)

    @functools.cached_property
    def _train_bytes_tensor(self) -> tf.Tensor:
        return tf.constant(self.train_bytes)

    def train_dataset(self, epoch: int, labels: bool = False) -> tf.data.Dataset:
        """Batches ``float32 [B, H, W, C]`` for ``epoch``, in an order fixed by (seed, SHUFFLE, epoch).

        Deterministic: a resumed run sees exactly the batches it would have seen. With
        ``labels``, (images, labels ``int32 [B]``) pairs, for a conditional model.
        """
        order = streams.numpy_rng(self.seed, streams.Stream.SHUFFLE, epoch).permutation(len(self.train_bytes))
        images = self._train_bytes_tensor
        dataset = tf.data.Dataset.from_tensor_slices(order).batch(self.batch_size)

        def grey(idx: tf.Tensor) -> tf.Tensor:
            batch = tf.cast(tf.gather(images, idx), tf.float32) / 255.0
            return batch[..., tf.newaxis] if self.train_bytes.ndim == 3 else batch

        if self.binarization == "dynamic":
            batches = dataset.enumerate().map(
                lambda step, idx: binarize_dynamic(
                    grey(idx), streams.tf_seed(self.seed, streams.Stream.BINARIZE, epoch, step)
                )
            )
        elif self.binarization == "static":
            # The same threshold as binarize_static: grey level > 0.5.
            batches = dataset.map(lambda idx: tf.cast(grey(idx) > 0.5, tf.float32))
        else:
            batches = dataset.map(grey)
        if labels:
            classes = tf.constant(self.train_labels, tf.int32)
            batches = tf.data.Dataset.zip(batches, dataset.map(lambda idx: tf.gather(classes, idx)))
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
    mnist: LabelledImages,
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
        raise ConfigError(
            "train_size", f"{train_size} is not in 1..{n_train} (the data holds {n_train} training images)"
        )
    if binarization not in get_args(Binarization):
        raise ValueError(
            f"binarization must be one of {', '.join(get_args(Binarization))}, got {binarization!r}"
        )
    keep = slice(0, train_size)
    return Pipelines(
        train_bytes=mnist.train_images[keep],
        train_labels=mnist.train_labels[keep],
        test_images=test_inputs(mnist, binarization),
        test_labels=mnist.test_labels,
        batch_size=batch_size,
        seed=seed,
        binarization=binarization,
    )
