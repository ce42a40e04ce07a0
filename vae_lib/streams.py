"""Random numbers, one convention: every draw is stateless and named by (seed, stream, index, ...).

A draw's seed says what it is for and where it falls (epoch 3's shuffle, step 1200's ε,
test image 17's ε), never how the work was cut up: so a run resumed after a kill sees the
numbers it would have seen, and an evaluation gives the same figures whatever its batch size.
TensorFlow draws take :func:`tf_seed`; NumPy draws take :func:`numpy_rng`, from the same names.

Two fixed samples are data, not streams, and keep seeds of their own: the stochastically
binarized test set (:data:`vae_lib.data.STOCHASTIC_TEST_SEED`) and the random test subset
that an importance-weighted bound averages (:data:`vae_lib.evaluate.SUBSET_SEED`).
"""

from __future__ import annotations

import enum

import numpy as np
import tensorflow as tf


class Stream(enum.IntEnum):
    """What a random draw is for; the indices that follow it in a seed are in brackets."""

    SHUFFLE = 1  # the order of the training images in an epoch [epoch]
    BINARIZE = 2  # the pixels of a dynamically binarized batch [epoch, step in the epoch]
    NOISE = 3  # ε of a training step [step of the optimizer]
    EVALUATION = 4  # ε of evaluating a held-out image [image's index in its set]
    PRIOR = 5  # z ~ p(z) for the figures of samples []


def tf_seed(seed: int, stream: Stream, *indices: int | tf.Tensor) -> tf.Tensor:
    """The stateless seed ``int64 [2]`` of draw ``(seed, stream, *indices)``; indices may be tensors."""
    key = tf.constant([seed, int(stream)], tf.int64)
    for index in indices:
        key = tf.random.experimental.stateless_fold_in(key, tf.cast(index, tf.int64))
    return key


def image_seeds(seed: int, stream: Stream, indices: tf.Tensor) -> tf.Tensor:
    """One seed per image, ``int64 [B, 2]``: :func:`tf_seed` of each index in ``indices`` ``[B]``."""
    return tf.map_fn(lambda i: tf_seed(seed, stream, i), tf.cast(indices, tf.int64))


def normal(shape: tf.Tensor | tuple[int, ...], seed: tf.Tensor) -> tf.Tensor:
    """Standard normal noise of ``shape`` ``[B, ...]``.

    From one seed ``[2]``; or, given one seed per row ``[B, 2]``, row b from ``seed[b]``
    alone, so that an image's noise does not depend on the batch it came in.
    """
    seed = tf.cast(seed, tf.int64)  # a seed of Python ints or int32 is as good
    if seed.shape.rank == 1:
        return tf.random.stateless_normal(shape, seed)
    row = tf.convert_to_tensor(shape)[1:]
    return tf.map_fn(lambda s: tf.random.stateless_normal(row, s), seed, fn_output_signature=tf.float32)


def numpy_rng(seed: int, stream: Stream, *indices: int) -> np.random.Generator:
    """A NumPy generator for draw ``(seed, stream, *indices)``."""
    return np.random.default_rng([seed, int(stream), *indices])
