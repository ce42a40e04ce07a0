"""The likelihood p(x|z): how the decoder's outputs score an image; another likelihood is one class.

A likelihood says how many numbers the decoder outputs per pixel and channel
(``outputs_per_pixel``), scores images under them (``log_prob``), turns them into the image
they expect (``mean``) and draws one (``sample``). Images are ``[..., H, W, C]`` in [0, 1]:
binary pixels, or 8-bit levels k/255. The decoder's last axis holds ``outputs_per_pixel``
blocks of C channels (block j is ``outputs[..., j·C:(j+1)·C]``), so C = 1 or 3 alike.
"""

from __future__ import annotations

import math
from typing import Protocol

import tensorflow as tf

LEVELS = 256  # values of an 8-bit pixel, k/255 for k = 0..255


class Likelihood(Protocol):
    outputs_per_pixel: int

    def log_prob(self, x: tf.Tensor, outputs: tf.Tensor) -> tf.Tensor:
        """log p(x|z) of images ``[..., H, W, C]`` under decoder ``outputs``, nats ``[...]``."""
        ...

    def mean(self, outputs: tf.Tensor) -> tf.Tensor:
        """The expected image E[x|z] ``[..., H, W, C]`` in [0, 1]."""
        ...

    def sample(self, outputs: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
        """One image drawn from p(x|z) ``[..., H, W, C]`` with a stateless ``seed`` ``[2]``."""
        ...


class LikelihoodError(ValueError):
    """Decoder outputs that do not fit the likelihood: their last axis is not ``outputs_per_pixel`` blocks."""


def _blocks(outputs: tf.Tensor, n: int) -> list[tf.Tensor]:
    """The ``n`` blocks of C channels each that the decoder's last axis holds."""
    width = outputs.shape[-1]
    if width is None or width % n:
        raise LikelihoodError(f"decoder outputs need a last axis of C·{n} entries, got {width}")
    return tf.split(outputs, n, axis=-1)


def _sum_pixels(values: tf.Tensor) -> tf.Tensor:
    return tf.reduce_sum(values, axis=[-3, -2, -1])


def bits_per_dim(nats: float, dims: int) -> float:
    """A log-likelihood (or a bound on it, such as the ELBO) in nats per image as bits per dimension.

    bits/dim = −nats / (dims · ln 2): ``dims`` is the number of values an image holds,
    H·W·C (784 for MNIST, 3072 for CIFAR-10); 1 nat = 1/ln 2 bits, so −nats/ln 2 is the
    code length of the image in bits, and dividing by ``dims`` shares it among the values.
    8 bits/dim is what a model pays that gives all 256 levels the same probability.
    """
    return -nats / (dims * math.log(2.0))


class Bernoulli:
    """Binary pixels: each on with probability σ(ℓ), ℓ the decoder's logit."""

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

    def sample(self, outputs: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
        uniform = tf.random.stateless_uniform(tf.shape(outputs), seed)
        return tf.cast(uniform < tf.sigmoid(outputs), tf.float32)


class DiscretizedLogistic:
    """8-bit pixels: the mass of a logistic(μ, s) over each level's bin (Kingma et al. 2016).

    The decoder outputs a centre μ and a log-scale log s per pixel and channel. Level
    x = k/255 gets σ((x + h − μ)/s) − σ((x − h − μ)/s), h = 1/510 half a bin; level 0
    takes the whole left tail and level 255 the right one, so the 256 masses add up to 1.
    Salimans et al. (2017) use a mixture of such components; this is one.
    """

    outputs_per_pixel = 2
    # Without a floor, a pixel the decoder gets right rewards s → 0 without end, and 1/s (hence the
    # gradient with respect to μ) grows until it overflows. At s = e^-7 a level at the centre already
    # holds 79% of the mass (half a bin is 2.1 s), so the floor costs at most 0.24 nats per value.
    # PixelCNN++ uses the same floor.
    MIN_LOG_SCALE = -7.0

    def _centre_and_inverse_scale(self, outputs: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        centre, log_scale = _blocks(outputs, 2)
        log_scale = tf.maximum(log_scale, self.MIN_LOG_SCALE)
        return centre, log_scale, tf.exp(-log_scale)

    def log_prob(self, x: tf.Tensor, outputs: tf.Tensor) -> tf.Tensor:
        """Σ over pixels of log P(x | μ, s), nats ``[...]``; ``x`` broadcasts against ``outputs``.

        As PixelCNN++ does: the edge levels in log space, log σ(a) = a − softplus(a) and
        log(1 − σ(b)) = −softplus(b); an interior bin whose mass underflows (a small scale
        far from the level) is scored by the logistic's density at the level times the
        bin's width 1/255.
        """
        centre, log_scale, inverse_scale = self._centre_and_inverse_scale(outputs)
        half_bin = 0.5 / (LEVELS - 1)
        upper = inverse_scale * (x - centre + half_bin)
        lower = inverse_scale * (x - centre - half_bin)
        log_cdf_upper = upper - tf.nn.softplus(upper)  # level 0: everything below its bin's top
        log_survival_lower = -tf.nn.softplus(lower)  # level 255: everything above its bottom
        middle = inverse_scale * (x - centre)
        # σ(u) − σ(l) = σ(−l) − σ(−u): take the side where both are small, not both near 1, so the
        # subtraction keeps its digits in the right tail too.
        mass = tf.where(
            middle > 0.0, tf.sigmoid(-lower) - tf.sigmoid(-upper), tf.sigmoid(upper) - tf.sigmoid(lower)
        )
        log_density = middle - log_scale - 2.0 * tf.nn.softplus(middle)
        log_mass = tf.where(
            mass > 1e-5,
            tf.math.log(tf.maximum(mass, 1e-12)),
            log_density - math.log(LEVELS - 1),
        )
        per_pixel = tf.where(
            x < half_bin, log_cdf_upper, tf.where(x > 1.0 - half_bin, log_survival_lower, log_mass)
        )
        return _sum_pixels(per_pixel)

    def level_probabilities(self, outputs: tf.Tensor) -> tf.Tensor:
        """P(x = k/255) for every level k, ``[..., H, W, C, 256]``: the distribution written out."""
        levels = tf.linspace(0.0, 1.0, LEVELS)
        centre, _, inverse_scale = self._centre_and_inverse_scale(outputs)
        edges = tf.concat([[-math.inf], (levels[:-1] + levels[1:]) / 2.0, [math.inf]], axis=0)
        cdf = tf.sigmoid(inverse_scale[..., None] * (edges - centre[..., None]))
        return cdf[..., 1:] - cdf[..., :-1]

    def mean(self, outputs: tf.Tensor) -> tf.Tensor:
        """E[x|z] = Σ_k (k/255) P(k), exactly (the centre μ would ignore the clipped tails)."""
        return tf.reduce_sum(self.level_probabilities(outputs) * tf.linspace(0.0, 1.0, LEVELS), axis=-1)

    def sample(self, outputs: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
        """A logistic draw μ + s·log(u / (1 − u)) (its inverse CDF) rounded to the nearest level.

        Rounding to the nearest level is what the bins of :meth:`log_prob` are, and clipping to
        [0, 1] hands the tails to the edge levels, so the draw has exactly P(x). u = 0 draws
        −∞, which the clipping makes level 0.
        """
        centre, log_scale, _ = self._centre_and_inverse_scale(outputs)
        u = tf.random.stateless_uniform(tf.shape(centre), seed)
        draw = centre + tf.exp(log_scale) * (tf.math.log(u) - tf.math.log1p(-u))
        return tf.clip_by_value(tf.round(draw * (LEVELS - 1)), 0.0, LEVELS - 1) / (LEVELS - 1)


class Categorical:
    """8-bit pixels: a free probability for each of the 256 levels, from 256 logits per channel."""

    outputs_per_pixel = LEVELS

    def _logits(self, outputs: tf.Tensor) -> tf.Tensor:
        """The decoder's 256 blocks of C channels as ``[..., H, W, C, 256]`` logits."""
        return tf.stack(_blocks(outputs, LEVELS), axis=-1)

    def log_prob(self, x: tf.Tensor, outputs: tf.Tensor) -> tf.Tensor:
        """Σ over pixels of log softmax(logits)[255·x], nats ``[...]``."""
        log_p = tf.nn.log_softmax(self._logits(outputs), axis=-1)
        level = tf.one_hot(tf.cast(tf.round(x * (LEVELS - 1)), tf.int32), LEVELS)  # broadcasts like x
        return _sum_pixels(tf.reduce_sum(level * log_p, axis=-1))

    def mean(self, outputs: tf.Tensor) -> tf.Tensor:
        # Not tf.nn.softmax: oneDNN's CPU kernel refuses rank > 5, and [k, B, H, W, C, 256] is 6.
        probabilities = tf.exp(tf.nn.log_softmax(self._logits(outputs), axis=-1))
        return tf.reduce_sum(probabilities * tf.linspace(0.0, 1.0, LEVELS), axis=-1)

    def sample(self, outputs: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
        logits = self._logits(outputs)
        flat = tf.reshape(logits, [-1, LEVELS])
        draws = tf.random.stateless_categorical(flat, 1, seed)
        return tf.reshape(tf.cast(draws, tf.float32), tf.shape(logits)[:-1]) / (LEVELS - 1)


def _split_at_zero(logits: tf.Tensor, radius: float) -> tuple[tf.Tensor, tf.Tensor]:
    """Where |ℓ| < ``radius``, and ℓ with 1 put there, for formulas that are 0/0 at ℓ = 0.

    A series stands in near 0; the exact branch is fed the 1s so that neither its value nor
    its gradient, which ``tf.where`` multiplies by 0 but still computes, becomes NaN.
    """
    near_zero = tf.abs(logits) < radius
    return near_zero, tf.where(near_zero, tf.ones_like(logits), logits)


def continuous_bernoulli_log_normalizer(logits: tf.Tensor) -> tf.Tensor:
    """log C(λ) of the continuous Bernoulli, λ = σ(ℓ), elementwise, nats.

    C = 2 artanh(1 − 2λ) / (1 − 2λ) = ℓ / tanh(ℓ/2): 2 at ℓ = 0, about |ℓ| for large |ℓ|.
    In terms of ℓ there is no cancellation, only 0/0 at ℓ = 0: for |ℓ| < 0.01 the series
    2 + ℓ²/6 (next term −ℓ⁴/360, below 3·10⁻¹¹) stands in.
    """
    near_zero, safe = _split_at_zero(logits, 1e-2)
    exact = tf.math.log(tf.abs(safe)) - tf.math.log(tf.abs(tf.tanh(safe / 2.0)))
    return tf.where(near_zero, tf.math.log(2.0 + tf.square(logits) / 6.0), exact)


def continuous_bernoulli_quantile(u: tf.Tensor, logits: tf.Tensor) -> tf.Tensor:
    """The inverse CDF F⁻¹(u) of the continuous Bernoulli at u in [0, 1), elementwise, in [0, 1].

    The density is C(λ)(1 − λ) e^(ℓx) with C(λ)(1 − λ) = ℓ / (e^ℓ − 1), so
    F(x) = (e^(ℓx) − 1) / (e^ℓ − 1) and F⁻¹(u) = log1p(u·expm1(ℓ)) / ℓ (u itself at ℓ = 0).
    That form keeps its digits for small |ℓ| but overflows for large positive ℓ, so it is
    evaluated at −|ℓ| only: x ↦ 1 − x turns ℓ into −ℓ, hence F⁻¹_ℓ(u) = 1 − F⁻¹_−ℓ(1 − u).
    """
    near_zero, safe = _split_at_zero(logits, 1e-6)  # there F⁻¹(u) − u is at most |ℓ|/8
    negative = -tf.abs(safe)
    v = tf.where(safe > 0.0, 1.0 - u, u)
    x = tf.math.log1p(v * tf.math.expm1(negative)) / negative
    return tf.where(near_zero, u, tf.clip_by_value(tf.where(safe > 0.0, 1.0 - x, x), 0.0, 1.0))


class ContinuousBernoulli:
    """Grey pixels as real numbers in [0, 1]: the density C(λ) λ^x (1 − λ)^(1 − x), λ = σ(ℓ).

    Loaiza-Ganem & Cunningham (2019). The binary cross-entropy that keras.io's VAE example
    puts on MNIST's grey pixels is this log-density without log C(λ), the term that makes
    it integrate to 1. Its log p is a log *density* on [0, 1]^D, not the probability of
    8-bit values: its nats are not comparable with the discrete likelihoods' (Bernoulli,
    logistic, categorical) without dequantization, and can be positive.
    """

    outputs_per_pixel = 1

    def log_prob(self, x: tf.Tensor, outputs: tf.Tensor) -> tf.Tensor:
        """Σ over pixels of x log λ + (1 − x) log(1 − λ) + log C(λ), nats ``[...]``.

        The first two terms are minus the binary cross-entropy, :class:`Bernoulli`'s log_prob.
        """
        return Bernoulli().log_prob(x, outputs) + _sum_pixels(continuous_bernoulli_log_normalizer(outputs))

    def mean(self, outputs: tf.Tensor) -> tf.Tensor:
        """E[x] = λ/(2λ − 1) + 1/(2 artanh(1 − 2λ)) = 1/(1 − e^−ℓ) − 1/ℓ, ``[..., H, W, C]``.

        The two terms are each about 1/ℓ and cancel near ℓ = 0 (λ = 1/2), so for |ℓ| < 0.3 the
        series 1/2 + ℓ/12 − ℓ³/720 stands in (next term ℓ⁵/30240, below 10⁻⁷).
        """
        near_zero, safe = _split_at_zero(outputs, 0.3)
        exact = -1.0 / tf.math.expm1(-safe) - 1.0 / safe
        return tf.where(near_zero, 0.5 + outputs / 12.0 - outputs**3 / 720.0, exact)

    def sample(self, outputs: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
        """One image by the inverse CDF at uniform draws (:func:`continuous_bernoulli_quantile`)."""
        return continuous_bernoulli_quantile(tf.random.stateless_uniform(tf.shape(outputs), seed), outputs)


LIKELIHOODS: dict[str, type[Likelihood]] = {
    "bernoulli": Bernoulli,
    "logistic": DiscretizedLogistic,
    "categorical": Categorical,
    "continuous_bernoulli": ContinuousBernoulli,
}
