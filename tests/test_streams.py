"""Random streams: one seed per (seed, stream, indices), distinct, reproducible, batch-
free.
"""

from __future__ import annotations

import itertools

import numpy as np
import tensorflow as tf

from vae_lib.streams import Stream, image_seeds, normal, numpy_rng, tf_seed


def test_seeds_are_reproducible_and_distinct_per_stream_and_index() -> None:
    names = [
        (seed, stream, *index) for seed in (0, 1) for stream in Stream for index in [(), (0,), (1,), (0, 1)]
    ]
    keys = [tuple(tf_seed(*name).numpy()) for name in names]
    assert len(set(keys)) == len(names)
    assert keys == [tuple(tf_seed(*name).numpy()) for name in names]
    # An index may be a tensor, as inside a compiled training step: the same seed.
    np.testing.assert_array_equal(tf_seed(0, Stream.NOISE, tf.constant(7)), tf_seed(0, Stream.NOISE, 7))


def test_draws_differ_between_streams_and_repeat_within_one() -> None:
    draws = {stream: normal((3, 4), tf_seed(0, stream, 2)).numpy() for stream in Stream}
    for a, b in itertools.combinations(draws.values(), 2):
        assert not np.array_equal(a, b)
    np.testing.assert_array_equal(normal((3, 4), tf_seed(0, Stream.PRIOR, 2)), draws[Stream.PRIOR])


def test_an_images_noise_depends_on_its_index_alone() -> None:
    seeds = image_seeds(0, Stream.EVALUATION, tf.range(6))
    np.testing.assert_array_equal(seeds[4], tf_seed(0, Stream.EVALUATION, 4))
    rows = normal(tf.constant([6, 5]), seeds).numpy()
    # Rows 2..3 drawn in a batch of their own are the same numbers.
    np.testing.assert_array_equal(normal(tf.constant([2, 5]), seeds[2:4]), rows[2:4])
    np.testing.assert_array_equal(rows[4], tf.random.stateless_normal([5], seeds[4]))
    assert len({tuple(row) for row in rows}) == 6


def test_numpy_generators_are_named_like_tensorflow_seeds() -> None:
    first = numpy_rng(0, Stream.SHUFFLE, 1).permutation(100)
    np.testing.assert_array_equal(numpy_rng(0, Stream.SHUFFLE, 1).permutation(100), first)
    for other in [
        numpy_rng(0, Stream.SHUFFLE, 2),
        numpy_rng(1, Stream.SHUFFLE, 1),
        numpy_rng(0, Stream.BINARIZE, 1),
    ]:
        assert not np.array_equal(other.permutation(100), first)
