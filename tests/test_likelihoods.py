"""The likelihoods: each a distribution (masses add up to 1, densities integrate to 1), its mean
and its sampler agree with it, and shapes with one or three channels and leading [k, B] axes."""

from __future__ import annotations

import math

import numpy as np
import pytest
import tensorflow as tf

from vae_lib.likelihoods import (
    LEVELS,
    LIKELIHOODS,
    Bernoulli,
    Categorical,
    ContinuousBernoulli,
    DiscretizedLogistic,
    LikelihoodError,
    bits_per_dim,
    continuous_bernoulli_log_normalizer,
    continuous_bernoulli_quantile,
)

LEVEL_VALUES = np.arange(LEVELS, dtype=np.float32) / (LEVELS - 1)
SEED = tf.constant([1, 2])


def every_level_log_prob(likelihood: DiscretizedLogistic | Categorical, outputs: np.ndarray) -> np.ndarray:
    """log P of each of the 256 levels for single-pixel outputs ``[n, 1, 1, m]``: ``[n, 256]``."""
    x = tf.constant(np.broadcast_to(LEVEL_VALUES[:, None, None, None, None], (LEVELS, len(outputs), 1, 1, 1)))
    return likelihood.log_prob(x, tf.constant(outputs)).numpy().T  # x broadcasts along a leading axis


def logistic_outputs() -> np.ndarray:
    """Centres and log-scales for one pixel each ``[n, 1, 1, 2]``: extremes, then random ones."""
    centre = [0.0, 1.0, 0.5, -3.0, 4.0, 0.3, 0.7, 0.5, 0.002, 0.998, 1e4, -1e4]
    log_scale = [-7.0, -7.0, -20.0, 0.0, 1.0, -3.0, -5.0, 12.0, -6.0, -6.0, -7.0, 3.0]
    rng = np.random.default_rng(0)  # the same outputs in every test that asks
    centre = np.concatenate([centre, rng.uniform(-0.5, 1.5, 40)])
    log_scale = np.concatenate([log_scale, rng.uniform(-9.0, 3.0, 40)])
    return np.stack([centre, log_scale], axis=-1).astype(np.float32)[:, None, None, :]


def categorical_outputs() -> np.ndarray:
    """256 logits for one pixel each ``[n, 1, 1, 256]``: random, one level certain, all but one impossible."""
    logits = np.random.default_rng(0).normal(0.0, 5.0, (8, LEVELS))
    logits[0] = -1e4
    logits[0, 17] = 1e4
    logits[1, 255] = -1e4
    logits[2] = 0.0
    return logits.astype(np.float32)[:, None, None, :]


@pytest.mark.parametrize(
    "likelihood, outputs",
    [(DiscretizedLogistic(), logistic_outputs()), (Categorical(), categorical_outputs())],
)
def test_the_256_levels_have_masses_that_add_up_to_one(likelihood, outputs: np.ndarray) -> None:
    log_p = every_level_log_prob(likelihood, outputs)
    # Finite at every level, the edge ones (x = 0 and 1) included, even for outputs near certainty.
    assert np.isfinite(log_p).all() and (log_p <= 1e-6).all()
    np.testing.assert_allclose(np.exp(log_p).sum(axis=1), 1.0, atol=2e-5)
    # The mean is the expectation over those levels, and a grey level.
    mean = likelihood.mean(tf.constant(outputs)).numpy().reshape(-1)
    np.testing.assert_allclose(mean, np.exp(log_p) @ LEVEL_VALUES, atol=2e-5)
    assert ((mean >= 0.0) & (mean <= 1.0)).all()


def test_logistic_log_prob_is_the_bins_mass_computed_in_float64() -> None:
    """Against σ differences in float64, where the mass is not too small to compute there, tails included."""
    outputs = logistic_outputs()[:, 0, 0, :].astype(np.float64)
    centre, scale = outputs[:, :1], np.exp(np.maximum(outputs[:, 1:], DiscretizedLogistic.MIN_LOG_SCALE))
    edges = np.concatenate([[-np.inf], (LEVEL_VALUES[:-1] + LEVEL_VALUES[1:]) / 2.0, [np.inf]])

    def cdf(a: np.ndarray) -> np.ndarray:
        return 0.5 * (1.0 + np.tanh(a / 2.0))  # σ(a), without overflow warnings

    upper, lower = (edges[1:] - centre) / scale, (edges[:-1] - centre) / scale
    mass = np.where(upper + lower > 0, cdf(-lower) - cdf(-upper), cdf(upper) - cdf(lower))
    log_p = every_level_log_prob(DiscretizedLogistic(), outputs[:, None, None, :].astype(np.float32))
    computable = mass > 1e-4
    np.testing.assert_allclose(log_p[computable], np.log(mass[computable]), rtol=1e-4, atol=2e-4)


def test_logistic_and_categorical_score_edge_levels_and_extreme_outputs_finitely_with_gradients() -> None:
    far_and_flat = tf.constant([[[[-50.0, -20.0]]], [[[50.0, -20.0]]], [[[0.5, 30.0]]], [[[0.5, -30.0]]]])
    spiky = tf.constant(categorical_outputs()[:4])
    for likelihood, outputs in ((DiscretizedLogistic(), far_and_flat), (Categorical(), spiky)):
        for level in (0.0, 1.0, 0.5):
            with tf.GradientTape() as tape:
                tape.watch(outputs)
                log_p = likelihood.log_prob(tf.fill([4, 1, 1, 1], level), outputs)
            assert np.isfinite(log_p.numpy()).all() and (log_p.numpy() <= 1e-6).all()
            assert np.isfinite(tape.gradient(log_p, outputs).numpy()).all()


@pytest.mark.parametrize(
    "likelihood, outputs",
    [
        (DiscretizedLogistic(), np.array([0.42, -5.0], np.float32)),
        (DiscretizedLogistic(), np.array([0.003, -4.0], np.float32)),  # much of it in level 0's tail
        (Categorical(), np.random.default_rng(1).normal(0, 2, LEVELS).astype(np.float32)),
    ],
)
def test_samples_follow_the_distribution(likelihood, outputs: np.ndarray) -> None:
    draws = 20_000
    tiled = tf.constant(np.broadcast_to(outputs, (draws, 1, 1, len(outputs))))
    sample = likelihood.sample(tiled, SEED).numpy().reshape(-1)
    levels = np.round(sample * (LEVELS - 1))
    np.testing.assert_allclose(sample, levels / (LEVELS - 1), atol=1e-7)  # on the 8-bit grid
    counts = np.bincount(levels.astype(int), minlength=LEVELS)
    expected = np.exp(every_level_log_prob(likelihood, outputs[None, None, None, :]))[0]
    total_variation = 0.5 * np.abs(counts / draws - expected).sum()
    assert total_variation < 0.03  # a sampler one level off scores about 0.14 on the first


@pytest.mark.parametrize("name", sorted(LIKELIHOODS))
@pytest.mark.parametrize("channels", [1, 3])
def test_shapes_for_grey_and_colour_with_leading_axes(name: str, channels: int) -> None:
    likelihood = LIKELIHOODS[name]()
    outputs = tf.random.stateless_normal([4, 2, 8, 8, channels * likelihood.outputs_per_pixel], SEED)
    x = tf.fill([2, 8, 8, channels], 0.4)
    assert likelihood.log_prob(x, outputs).shape == (4, 2)
    mean, sample = likelihood.mean(outputs), likelihood.sample(outputs, SEED)
    assert mean.shape == sample.shape == (4, 2, 8, 8, channels)
    assert ((sample.numpy() >= 0.0) & (sample.numpy() <= 1.0)).all()


def test_colour_channels_are_scored_separately() -> None:
    """Channel c of an image is scored by block j's channel c, so scoring channels one by one adds up."""
    x = tf.random.stateless_uniform([2, 4, 4, 3], SEED)
    for likelihood in (DiscretizedLogistic(), Categorical()):
        m = likelihood.outputs_per_pixel
        outputs = tf.random.stateless_normal([2, 4, 4, 3 * m], SEED)  # block j holds 3 channels
        whole = likelihood.log_prob(x, outputs)
        by_channel = sum(
            likelihood.log_prob(x[..., c : c + 1], tf.gather(outputs, [3 * j + c for j in range(m)], axis=-1))
            for c in range(3)
        )
        np.testing.assert_allclose(whole, by_channel, rtol=1e-5)


def test_outputs_that_are_not_whole_blocks_are_a_named_error() -> None:
    with pytest.raises(LikelihoodError, match="C·2 entries, got 3"):
        DiscretizedLogistic().log_prob(tf.zeros([1, 2, 2, 1]), tf.zeros([1, 2, 2, 3]))


def test_bernoulli_samples_are_binary_with_the_right_mean() -> None:
    outputs = tf.fill([20_000, 1, 1, 1], math.log(0.3 / 0.7))
    sample = Bernoulli().sample(outputs, SEED).numpy()
    assert set(np.unique(sample)) == {0.0, 1.0}
    assert abs(sample.mean() - 0.3) < 0.01


LOGITS = [0.0, 1e-4, -1e-4, 0.05, 5.0, -5.0, 30.0, -30.0]


def continuous_bernoulli_cdf(x: np.ndarray, logit: float) -> np.ndarray:
    """F(x) = (e^(ℓx) − 1)/(e^ℓ − 1) in float64, written to neither overflow nor cancel."""
    if logit == 0.0:
        return x
    if logit < 0.0:
        return np.expm1(logit * x) / np.expm1(logit)
    return np.exp(logit * (x - 1.0)) * np.expm1(-logit * x) / np.expm1(-logit)


def test_continuous_bernoulli_is_a_density_with_its_mean_and_sampler() -> None:
    x = (np.arange(200_000, dtype=np.float64) + 0.5) / 200_000  # midpoint rule on [0, 1]
    for logit in LOGITS:
        outputs = tf.constant(np.full((1, 1, 1, 1), logit, np.float32))
        log_c = float(continuous_bernoulli_log_normalizer(tf.constant(logit)))
        # log λ = −softplus(−ℓ) and log(1 − λ) = −softplus(ℓ): 1 − σ(30) would lose its digits in float64.
        log_lam, log_one_minus_lam = -np.logaddexp(0.0, -logit), -np.logaddexp(0.0, logit)
        density = np.exp(log_c + x * log_lam + (1 - x) * log_one_minus_lam)
        assert density.mean() == pytest.approx(1.0, abs=1e-5), logit
        mean = float(ContinuousBernoulli().mean(outputs).numpy().squeeze())
        assert mean == pytest.approx((x * density).mean(), abs=1e-5), logit
        # log_prob at one grey level is the same density.
        at_03 = float(ContinuousBernoulli().log_prob(tf.fill([1, 1, 1, 1], 0.3), outputs)[0])
        assert at_03 == pytest.approx(log_c + 0.3 * log_lam + 0.7 * log_one_minus_lam, rel=1e-5, abs=1e-6)
        draws = ContinuousBernoulli().sample(tf.fill([50_000, 1, 1, 1], float(logit)), SEED).numpy()
        assert ((draws >= 0.0) & (draws <= 1.0)).all()
        assert draws.mean() == pytest.approx(mean, abs=0.005), logit
        # Kolmogorov–Smirnov: 0.0087 is the 0.1% critical value at 50k draws; the sampler of −ℓ
        # instead of ℓ would be 0.0125 off already at ℓ = 0.05.
        empirical = np.arange(1, len(draws) + 1) / len(draws)
        cdf = continuous_bernoulli_cdf(np.sort(draws.reshape(-1)).astype(np.float64), logit)
        assert np.abs(cdf - empirical).max() < 0.0087, logit


@pytest.mark.parametrize("logit", [*LOGITS, 1e-7, 0.01, -0.01, 100.0, -100.0])
def test_continuous_bernoulli_quantile_inverts_the_cdf(logit: float) -> None:
    u = np.linspace(0.0, 1.0, 1001, endpoint=False, dtype=np.float32)
    x = continuous_bernoulli_quantile(tf.constant(u), tf.fill(u.shape, logit)).numpy()
    assert ((x >= 0.0) & (x <= 1.0)).all()
    # A float32 x near 1 is off by up to 6e-8, which moves F by F′(x) · 6e-8, and F′ reaches |ℓ|.
    tolerance = 1e-6 + 6e-8 * abs(logit)
    np.testing.assert_allclose(continuous_bernoulli_cdf(x.astype(np.float64), logit), u, atol=tolerance)


def test_continuous_bernoulli_mean_is_the_formula_through_zero() -> None:
    logits = np.linspace(-3.0, 3.0, 6001)
    with np.errstate(divide="ignore", invalid="ignore"):
        exact = np.where(logits == 0.0, 0.5, -1.0 / np.expm1(-logits) - 1.0 / logits)  # float64
    mean = ContinuousBernoulli().mean(tf.constant(logits, tf.float32)).numpy()
    np.testing.assert_allclose(mean, exact, atol=2e-6)


def test_continuous_bernoulli_normalizer_is_the_formula_and_smooth_through_zero() -> None:
    logits = np.array([-20.0, -2.0, -0.5, 0.5, 2.0, 20.0])
    lam = 1.0 / (1.0 + np.exp(-logits))
    direct = np.log(2.0 * np.arctanh(1.0 - 2.0 * lam) / (1.0 - 2.0 * lam))
    np.testing.assert_allclose(
        continuous_bernoulli_log_normalizer(tf.constant(logits)).numpy(), direct, rtol=1e-6
    )
    near = tf.constant(np.linspace(-0.03, 0.03, 61, dtype=np.float32))
    with tf.GradientTape() as tape:
        tape.watch(near)
        values = continuous_bernoulli_log_normalizer(near)
    gradient = tape.gradient(values, near).numpy()
    values = values.numpy()
    assert values.min() == pytest.approx(math.log(2.0), abs=1e-6)
    series = np.log(
        2.0 + near.numpy().astype(np.float64) ** 2 / 6.0 - near.numpy().astype(np.float64) ** 4 / 360.0
    )
    np.testing.assert_allclose(values, series, atol=1e-6)
    assert np.abs(np.diff(values)).max() < 1e-4  # no jump where the series takes over
    # d log C / dℓ ≈ ℓ/6 near 0, both sides of the switch at |ℓ| = 0.01, and not NaN at 0.
    np.testing.assert_allclose(gradient, near.numpy() / 6.0, atol=1e-4)


def test_bits_per_dim_converts_nats_per_image() -> None:
    assert bits_per_dim(-784 * math.log(2.0), 784) == pytest.approx(1.0)
    assert bits_per_dim(-3072 * 8 * math.log(2.0), 3072) == pytest.approx(8.0)
