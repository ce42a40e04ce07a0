"""Shared fixtures: real MNIST from $VAE_DATA_DIR (or Keras's download), loaded once."""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import numpy as np
import pytest

from vae_lib.data import FILES, LabelledImages, binarize_static, load_dataset
from vae_lib.model import CVAE


@pytest.fixture(scope="session")
def mnist() -> LabelledImages:
    return load_dataset()


@pytest.fixture(scope="session")
def small_mnist(mnist: LabelledImages) -> LabelledImages:
    """The first 512 training and 500 test images: enough to learn something, quick to
    train on.
    """
    return LabelledImages(
        mnist.train_images[:512],
        mnist.train_labels[:512],
        mnist.test_images[:500],
        mnist.test_labels[:500],
    )


@pytest.fixture(scope="session")
def binary_test_images(mnist: LabelledImages) -> np.ndarray:
    """The first 300 test images, statically binarized, ``[300, 28, 28, 1]``."""
    return binarize_static(mnist.test_images[:300])


@pytest.fixture(scope="session")
def untrained_model() -> CVAE:
    """A CVAE with a 3-D latent space and seeded random weights (tests must not change
    them).
    """
    import keras

    keras.utils.set_random_seed(1)
    return CVAE(latent_dim=3)


def write_idx(path: Path, array: np.ndarray) -> None:
    """Write ``array`` (uint8) as a gzipped IDX file: magic 0x0000_08_rank, big-endian
    sizes, bytes.
    """
    header = bytes([0, 0, 8, array.ndim]) + b"".join(n.to_bytes(4, "big") for n in array.shape)
    path.write_bytes(gzip.compress(header + array.astype(np.uint8).tobytes()))


def write_md5sums(folder: Path) -> None:
    lines = [f"{hashlib.md5((folder / n).read_bytes()).hexdigest()}  {n}" for n in FILES.values()]
    (folder / "MD5SUMS").write_text("\n".join(lines) + "\n")


def write_idx_folder(folder: Path, mnist: LabelledImages) -> Path:
    """Small IDX gz files of MNIST (100 train, 50 test images) in ``folder``, with their
    MD5SUMS.
    """
    arrays = {
        "train_images": mnist.train_images[:100],
        "train_labels": mnist.train_labels[:100],
        "test_images": mnist.test_images[:50],
        "test_labels": mnist.test_labels[:50],
    }
    for key, name in FILES.items():
        write_idx(folder / name, arrays[key])
    write_md5sums(folder)
    return folder


@pytest.fixture
def idx_folder(tmp_path: Path, mnist: LabelledImages) -> Path:
    """A folder of small IDX gz files with its MD5SUMS, for a test to damage."""
    return write_idx_folder(tmp_path, mnist)
