"""CIFAR-10's 32×32 colour photographs, from its "python version" files or Keras's download.

As for MNIST (:mod:`vae_lib.data`), two ways in, never mixed: ``$VAE_CIFAR10_DATA_DIR`` (or
``data_dir=``) names a folder holding the files as the data set's page distributes them
(``cifar-10-batches-py/``: ``data_batch_1`` … ``data_batch_5`` and ``test_batch``), or, with
no folder configured, ``tf.keras.datasets.cifar10`` downloads them. A configured folder that
is broken raises :class:`~vae_lib.data.DataError` naming the file and what is wrong.
"""

from __future__ import annotations

import io
import os
import pickle
from pathlib import Path

import numpy as np
import tensorflow as tf

from vae_lib.data import DataError, LabelledImages

CIFAR10_DATA_DIR_ENV = "VAE_CIFAR10_DATA_DIR"
BATCHES = "cifar-10-batches-py"
TRAIN_FILES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_FILE = "test_batch"
# The globals a genuine batch needs: its "data" is a NumPy uint8 array, which pickle rebuilds
# through these (named numpy.core in the published files, numpy._core in NumPy 2's pickles).
# Nothing else is let through (see _BatchUnpickler).
_ARRAY_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
}


class _BatchUnpickler(pickle.Unpickler):
    """A pickle reader that can rebuild dicts, lists, bytes, numbers and NumPy arrays, and nothing else.

    A pickle names functions to call while it is read; one from anywhere else could run any
    code, so every other global is refused and the file is reported as not a CIFAR-10 batch.
    """

    def find_class(self, module: str, name: str) -> object:
        if (module, name) in _ARRAY_GLOBALS:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"it asks for {module}.{name}, which no CIFAR-10 batch holds")


def _read_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """One batch file → images ``uint8 [n, 32, 32, 3]`` and labels ``uint8 [n]``."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"missing data file {path}") from None
    except OSError as err:
        raise DataError(f"cannot read {path}: {err.strerror}") from None
    try:
        # encoding="bytes", as the data set's page advises: the files were written by Python 2,
        # whose strings (the dict's keys, the array's raw pixels) must stay bytes.
        batch = _BatchUnpickler(io.BytesIO(raw), encoding="bytes").load()
    except Exception as err:  # a damaged pickle raises many kinds; each means "not a batch"
        raise DataError(f"{path} is not a readable CIFAR-10 batch: {err}") from None
    if not isinstance(batch, dict) or not {b"data", b"labels"} <= batch.keys():
        raise DataError(f"{path} is not a CIFAR-10 batch: it has no 'data' and 'labels'")
    try:
        images, labels = np.asarray(batch[b"data"]), np.asarray(batch[b"labels"])
    except ValueError as err:  # ragged lists
        raise DataError(f"{path} holds 'data' or 'labels' that are not arrays: {err}") from None
    if images.dtype != np.uint8 or images.ndim != 2 or images.shape[1] != 3 * 32 * 32:
        raise DataError(f"{path} holds data {images.dtype} {images.shape}, expected uint8 (n, 3072)")
    if labels.shape != (len(images),):
        raise DataError(f"{path} holds labels of shape {labels.shape} for {len(images)} images")
    if labels.dtype.kind not in "iu":
        raise DataError(f"{path} holds labels of type {labels.dtype}, expected integers 0..9")
    if len(wrong := np.unique(labels[(labels < 0) | (labels > 9)])):
        raise DataError(f"{path} holds labels outside 0..9: {', '.join(map(str, wrong[:5]))}")
    # Each row is the red plane, then green, then blue, each 32 rows of 32 pixels.
    return images.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), labels.astype(np.uint8)


def load_cifar10_folder(folder: str | os.PathLike[str]) -> LabelledImages:
    """CIFAR-10 from ``folder``: ``cifar-10-batches-py`` itself, or a folder that holds it.

    Training images ``uint8 [N, 32, 32, 3]`` (the five ``data_batch_*`` in order; 50,000 in the
    genuine files), test images likewise from ``test_batch``, labels ``uint8 [N]`` in 0..9.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"data folder {folder} {'is not a folder' if folder.exists() else 'does not exist'}")
    if (folder / BATCHES).is_dir():
        folder = folder / BATCHES
    train = [_read_batch(folder / name) for name in TRAIN_FILES]
    test_images, test_labels = _read_batch(folder / TEST_FILE)
    return LabelledImages(
        np.concatenate([images for images, _ in train]),
        np.concatenate([labels for _, labels in train]),
        test_images,
        test_labels,
    )


def load_cifar10(data_dir: str | os.PathLike[str] | None = None) -> LabelledImages:
    """CIFAR-10 from ``data_dir``, else ``$VAE_CIFAR10_DATA_DIR``, else Keras's download.

    Shapes as :func:`load_cifar10_folder` gives them. A configured folder that is broken raises
    :class:`~vae_lib.data.DataError` (never a download); so does a download that fails.
    """
    if data_dir:
        return load_cifar10_folder(data_dir)
    if folder := os.environ.get(CIFAR10_DATA_DIR_ENV):
        try:
            return load_cifar10_folder(folder)
        except DataError as err:
            raise DataError(f"${CIFAR10_DATA_DIR_ENV}: {err}") from None
    try:
        # Looked up now, so that tests can stand in for it.
        (x_train, y_train), (x_test, y_test) = tf.keras.datasets.cifar10.load_data()
    except Exception as err:  # the download raises several kinds, all mean "no data"
        raise DataError(
            f"could not download CIFAR-10 ({err}); offline, set ${CIFAR10_DATA_DIR_ENV} or --data-dir "
            f"to a folder holding {BATCHES}"
        ) from err
    # Keras gives the labels as a column, [N, 1].
    return LabelledImages(
        x_train, y_train.reshape(-1).astype(np.uint8), x_test, y_test.reshape(-1).astype(np.uint8)
    )
