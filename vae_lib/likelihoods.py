"""The likelihood p(x|z): how the decoder's outputs score an image; another likelihood is one class.

A likelihood says how many numbers the decoder outputs per pixel (``outputs_per_pixel``),
scores images under them (``log_prob``) and turns them into the image they expect (``mean``).
"""

from __future__ import annotations

from typing import Protocol

import tensorflow as tf


class Likelihood(Protocol):
    outputs_per_pixel: int

    def log_prob(self, x: tf.Tensor, outputs: tf.Tensor) -> tf.Tensor:
        """log p(x|z) of images ``[..., 28, 28, 1]`` under decoder ``outputs``, nats ``[...]``."""
        ...

    def mean(self, outputs: tf.Tensor) -> tf.Tensor:
        """The expected image E[x|z] ``[..., 28, 28, 1]`` in [0, 1]."""
        ...


class Bernoulli:
    """Each pixel on with probability σ(ℓ), ℓ the decoder's logit: a model of binary images."""

    outputs_per_pixel = 1

    def log_prob(self, x: tf.Tensor, outputs: tf.Tensor) -> tf.Tensor:
        """Σ over pixels of x log σ(ℓ) + (1 − x) log(1 − σ(ℓ)); ``x`` broadcasts against ``outputs``.

        ``sigmoid_cross_entropy_with_logits`` is minus that per pixel, computed without
        overflow for large |ℓ|.
        """
        labels = tf.broadcast_to(x, tf.shape(outputs))
        cross_entropy = tf.nn.sigmoid_cross_entropy_with_logits(labels=labels, logits=outputs)
        return -tf.reduce_sum(cross_entropy, axis=[-3, -2, -1])

    def mean(self, outputs: tf.Tensor) -> tf.Tensor:
        return tf.sigmoid(outputs)
