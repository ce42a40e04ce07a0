# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 12. A conditional VAE: digits on demand
#
# The VAE of [chapter 6](06_generation.ipynb) makes digits, but not the digit one asks
# for: a code from the prior decodes to whatever class lives at that place of the latent
# plane, and some classes are hard to find at all. A *conditional* VAE
# {cite:p}`sohn2015,kingma2014semi` is told the label. Its encoder sees the image and its
# label, its decoder the code and the label, and the code is left to carry what the label
# does not say: the *style* of the digit, its slant, width and stroke. This chapter trains
# one, asks it for every digit in one style and for a test digit's style in the other nine
# classes, and then measures what the pictures only suggest: how often a classifier reads
# the digit that was asked for, and how many nats the label is worth.
#
# :::{note}
# The name clash of [chapter 2](02_encoder_decoder.ipynb), once more: `CVAE` is the
# tutorial's class, a *convolutional* VAE; in papers "CVAE" means a *conditional* VAE
# {cite:p}`sohn2015`. In this chapter the conditional models are `CVAE(classes=10)`,
# convolutional and conditional at once, and we call them conditional VAEs.
# :::

# %% tags=["hide-cell"]
import sys

if "google.colab" in sys.modules:  # Colab: fetch the companion library; keep Colab's TensorFlow
    import subprocess
    from importlib.metadata import version

    # tf-keras is released in step with TensorFlow: ask for the one that matches Colab's
    # TensorFlow (tf-keras 2.19.x for TensorFlow 2.19), or pip would take the newest
    # tf-keras and upgrade TensorFlow to suit it.
    major, minor = version("tensorflow").split(".")[:2]
    tf_keras = f"tf-keras~={major}.{minor}.0"
    library = "git+https://github.com/vae-book/cvae-mnist-tf@main"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", library, tf_keras], check=True)

# %%
import math
import os

import matplotlib.pyplot as plt
import numpy as np

from vae_lib import data, plots
from vae_lib.book import glue, show_source, table
from vae_lib.classifier import book_classifier, confident_fraction, label_agreement
from vae_lib.config import QUICK_ENV, family_run
from vae_lib.evaluate import elbo_per_image, iw_bounds, posterior_means, stderr
from vae_lib.model import CVAE
from vae_lib.train import train

# %% [markdown]
# ## The conditional bound
#
# A conditional VAE models the digits of each class, $p_\theta(x \mid y)$, with the code
# drawn from the same prior $p(z) = \mathcal{N}(0, I)$ whatever the label, and a decoder
# $p_\theta(x \mid z, y)$ that is given both. The encoder $q_\phi(z \mid x, y)$ sees the
# label too. The derivation of [chapter 4](04_elbo.ipynb) goes through with $y$ carried
# along in every density, and gives a lower bound on the log-likelihood of an image
# *given its label*:
#
# $$
# \log p_\theta(x \mid y) \;\ge\;
# \mathbb{E}_{q_\phi(z \mid x, y)}\bigl[\log p_\theta(x \mid z, y)\bigr]
# \;-\; \mathrm{KL}\bigl(q_\phi(z \mid x, y) \,\big\|\, p(z)\bigr).
# $$ (eq-12-elbo)
#
# Training maximizes it on (image, label) pairs, exactly as
# [chapter 5](05_training.ipynb) maximized the ELBO on images. The KL term is what makes
# the code a *style*: the decoder is told the class for free, so any nat of class
# information in $z$ would be paid for in KL and bought nothing. The label reaches the
# networks as a one-hot vector: the encoder gets it as ten constant image planes stacked
# on the digit, the decoder as ten more inputs next to $z$.

# %% tags=["nbval-ignore-output", "remove-input"]
show_source(CVAE.encode, CVAE.decode)

# %% [markdown]
# ## Three models
#
# We train two conditional VAEs with the recipe that chapters [9](09_autoencoder_vs_vae.ipynb) to [12](12_conditional_vae.ipynb) share
# (`family_run`): one with a two-dimensional code, whose whole style space we can draw, and
# one with sixteen dimensions, room for more style. The unconditional VAE to compare them
# with is the two-dimensional one of [chapter 9](09_autoencoder_vs_vae.ipynb), the same
# run (`"ch09-vae"`), loaded from its folder if [chapter 9](09_autoencoder_vs_vae.ipynb) has trained it here. Each trains for
# its ten epochs in the run folder printed below; a finished run is loaded instead.

# %% tags=["nbval-ignore-output"]
QUICK = os.environ.get(QUICK_ENV) == "1"
RUNS = {
    "conditional, d = 2": family_run("ch12-cvae", conditional=True, latent_dim=2),
    "conditional, d = 16": family_run("ch12-cvae-16", conditional=True, latent_dim=16),
    "unconditional, d = 2": family_run("ch09-vae", latent_dim=2),
}
mnist = data.load_dataset()
runs = {name: train(config, folder, mnist=mnist, progress=False) for name, (config, folder) in RUNS.items()}
for name, run in runs.items():
    print(f"{name}: {RUNS[name][1]}, {len(run.history)} epochs, {run.epochs_run} of them trained now")
cvae, cvae16, vae = (run.model for run in runs.values())

# %%
test_images = data.binary_test_images(mnist)
test_labels = mnist.test_labels
print("test set:", test_images.shape, test_labels.shape)

# %% tags=["nbval-ignore-output"]
final = {name: run.history[-1] for name, run in runs.items()}
table(
    ["model", "bound on", "test ELBO", "reconstruction", "KL"],
    [
        [
            name,
            "$\\log p(x)$" if name.startswith("un") else "$\\log p(x \\mid y)$",
            f"{h['test_elbo']:.2f}",
            f"{h['test_reconstruction']:.2f}",
            f"{h['test_kl']:.2f}",
        ]
        for name, h in final.items()
    ],
    align="llrrr",
    caption="The three models after training: test ELBO and its two terms, nats per image.",
    name="tab-12-models",
)

# %% tags=["nbval-ignore-output"]
for key, h in zip(("cvae2", "cvae16", "vae"), final.values(), strict=True):
    glue(f"ch12_{key}_elbo", h["test_elbo"])
    glue(f"ch12_{key}_kl", h["test_kl"])

# %% [markdown]
# {numref}`tab-12-models` already shows the label at work. Given its label, the
# two-dimensional model's test ELBO is {glue:text}`ch12_cvae2_elbo:.2f` nats per image,
# against {glue:text}`ch12_vae_elbo:.2f` for the unconditional model with the same code
# size; with sixteen dimensions it is {glue:text}`ch12_cvae16_elbo:.2f`. The two
# two-dimensional codes cost about as much, a KL term of {glue:text}`ch12_cvae2_kl:.2f`
# nats with the label and {glue:text}`ch12_vae_kl:.2f` without; the sixteen-dimensional
# one spends {glue:text}`ch12_cvae16_kl:.2f` on the details of each digit. The two kinds
# of bound are of different things, $\log p(x \mid y)$ and $\log p(x)$; how much of the
# difference the label itself can account for is the subject of the last section.
#
# ## Every digit in one style
#
# Fix a code $z$ and change only the label: if the code is a style, each of the ten
# decoded digits should be drawn in it. {numref}`fig-12-styles` does it for eight codes
# drawn from the prior, one per row, with the labels 0 to 9 in the columns.

# %%
STYLES = 8


def one_style_per_row(model: CVAE, styles: int = STYLES, seed: int = 12) -> dict[str, np.ndarray]:
    """``styles`` codes from the prior, each decoded with the labels 0..9: {row name: ``[10, 28, 28, 1]``}."""
    codes = np.random.default_rng(seed).standard_normal((styles, model.latent_dim)).astype(np.float32)
    labels = np.arange(model.classes)
    return {
        f"z{i + 1}": model.sample(eps=np.repeat(code[None], model.classes, axis=0), y=labels).numpy()
        for i, code in enumerate(codes)
    }


# %% mystnb={"figure": {"caption": "Eight codes from the prior (rows) decoded by the two-dimensional conditional VAE with each label 0 to 9 (columns).", "name": "fig-12-styles"}} tags=["nbval-ignore-output"]
plots.plot_image_rows(one_style_per_row(cvae))
plt.show()

# %% [markdown]
# Along a row the digits share their slant and their width, and sometimes the thickness
# of the stroke; down a column the class stays and the style changes. Two numbers are not
# much of a style, though: the sixteen-dimensional model ({numref}`fig-12-styles-16`) has
# room for more of it. Its samples are sharper and far more varied, and less regular:
# in some rows (the first, the fifth) several digits hardly look like their label.

# %% mystnb={"figure": {"caption": "The same as {numref}`fig-12-styles` for the sixteen-dimensional conditional VAE: eight codes from its prior, each decoded with the labels 0 to 9.", "name": "fig-12-styles-16"}} tags=["nbval-ignore-output"]
plots.plot_image_rows(one_style_per_row(cvae16))
plt.show()

# %% [markdown]
# ## The style plane
#
# With two dimensions, the whole style space fits on the page. {numref}`fig-12-plane`
# decodes one grid of codes, spaced by prior quantiles as in {numref}`fig-06-manifold`,
# with three labels, as {cite:t}`kingma2014semi` drew theirs. Where [chapter 6](06_generation.ipynb)'s plane was a
# map of the classes, this one is a map of a single style: the same place of the plane
# draws each class with the same slant and weight, and the axes of the plane are the
# directions in which the style changes.

# %% mystnb={"figure": {"caption": "The two-dimensional conditional VAE's decoder over one 10 \u00d7 10 grid of codes (prior quantiles from 5 % to 95 %), given the labels 2, 5 and 8.", "name": "fig-12-plane"}} tags=["nbval-ignore-output"]
GRID = 10
quantiles = plots.normal_quantiles(GRID)
z1, z2 = np.meshgrid(quantiles, quantiles[::-1])  # rows go up the z2 axis, as in fig-06-manifold
grid = np.stack([z1.ravel(), z2.ravel()], axis=1).astype(np.float32)
fig, axes = plt.subplots(1, 3, figsize=(plots.PAGE_WIDTH, plots.PAGE_WIDTH / 3 + 0.4))
for ax, label in zip(axes, [2, 5, 8], strict=True):
    decoded = cvae.decode(grid, apply_sigmoid=True, y=np.full(len(grid), label)).numpy()
    ax.imshow(plots.tile(decoded, GRID), cmap="gray_r", vmin=0.0, vmax=1.0)
    ax.set_title(f"y = {label}", fontsize=plots.LABEL_SIZE)
    ax.set_axis_off()
fig.tight_layout()
plt.show()

# %% [markdown]
# In this model, left to right the digits rise from leaning forwards to upright, and top
# to bottom their strokes thin from bold and wide to narrow. The pictures suggest that
# the code no longer knows the class. That can be measured with the simplest of
# classifiers on the posterior means: the mean code of each class, taken over the first
# training images, and each test image assigned the class whose mean code is nearest to
# its own. It should read the class off the unconditional model's codes, and do little
# better than chance, one in ten, on the conditional model's.


# %%
N_FIT = 2000 if QUICK else 10000
fit_images, fit_labels = data.binarize_static(mnist.train_images[:N_FIT]), mnist.train_labels[:N_FIT]


def nearest_class_mean_accuracy(model: CVAE) -> float:
    """Test accuracy of naming each test image's class by the nearest class-mean posterior mean.

    The class means are those of the ``N_FIT`` training images' codes; a conditional model
    encodes every image given its own label.
    """
    given = model.classes > 0
    codes = posterior_means(model, fit_images, labels=fit_labels if given else None)
    centres = np.stack([codes[fit_labels == c].mean(axis=0) for c in range(10)])  # [10, d]
    test_codes = posterior_means(model, test_images, labels=test_labels if given else None)
    distances = ((test_codes[:, None, :] - centres[None]) ** 2).sum(axis=-1)  # [N, 10]
    return float((distances.argmin(axis=1) == test_labels).mean())


# %% tags=["nbval-ignore-output"]
models = {"conditional, d = 2": cvae, "conditional, d = 16": cvae16, "unconditional, d = 2": vae}
code_accuracy = {name: nearest_class_mean_accuracy(model) for name, model in models.items()}
table(
    ["model", "test images classified from their codes"],
    [[name, f"{accuracy:.1%}"] for name, accuracy in code_accuracy.items()],
    align="lr",
    caption="How much of the class the code still holds: the accuracy of a nearest-class-mean"
    " classifier on the posterior means of the 10,000 test images (chance: about 10 %).",
    name="tab-12-codes",
)

# %% tags=["nbval-ignore-output", "remove-output"]
glue("ch12_code_acc_cvae2", 100 * code_accuracy["conditional, d = 2"])
glue("ch12_code_acc_cvae16", 100 * code_accuracy["conditional, d = 16"])
glue("ch12_code_acc_vae", 100 * code_accuracy["unconditional, d = 2"])
glue("ch12_fit_images", N_FIT)

# %% [markdown]
# From the unconditional model's codes the nearest class mean names the class of
# {glue:text}`ch12_code_acc_vae:.0f` % of the test images ({numref}`tab-12-codes`; the
# class means come from {glue:text}`ch12_fit_images:,` training images). From the
# two-dimensional conditional model's it names {glue:text}`ch12_code_acc_cvae2:.0f` %,
# and from the sixteen-dimensional one's {glue:text}`ch12_code_acc_cvae16:.0f` %. The
# conditional codes keep little of the class, since the label said it already: the
# two-dimensional one next to nothing, the sixteen-dimensional one, with more room and a
# larger KL term to spend, a little.
#
# ## A test digit's style, carried to the other labels
#
# The encoder works the other way round: given a test digit and its label, the mean of
# $q_\phi(z \mid x, y)$ is the digit's style. Decode that code with each of the ten labels
# and the digit is rewritten as every other class in its own hand
# ({numref}`fig-12-carried`): an analogy, of the kind {cite:t}`kingma2014semi` drew
# with their conditional model of MNIST.

# %%
first_of = {digit: int(np.argmax(test_labels == digit)) for digit in range(10)}
CARRIED = [first_of[digit] for digit in (2, 3, 4, 7, 9)]


def carried_styles(model: CVAE, indices: list[int]) -> dict[str, np.ndarray]:
    """Per test image: it, then its code (given its label) decoded with the labels 0..9; 11 images a row."""
    labels = np.arange(model.classes)
    rows = {}
    for i in indices:
        code = posterior_means(model, test_images[i : i + 1], labels=test_labels[i : i + 1])
        decoded = model.decode(np.repeat(code, model.classes, axis=0), apply_sigmoid=True, y=labels)
        rows[f"test {test_labels[i]}"] = np.concatenate([test_images[i : i + 1], decoded.numpy()])
    return rows


# %% mystnb={"figure": {"caption": "Five test digits (first column) and their posterior means, given their own labels, decoded by the two-dimensional conditional VAE with each label 0 to 9 (the other ten columns).", "name": "fig-12-carried"}} tags=["nbval-ignore-output"]
plots.plot_image_rows(carried_styles(cvae, CARRIED))
plt.show()

# %% mystnb={"figure": {"caption": "The same five test digits carried to every label by the sixteen-dimensional conditional VAE.", "name": "fig-12-carried-16"}} tags=["nbval-ignore-output"]
plots.plot_image_rows(carried_styles(cvae16, CARRIED))
plt.show()

# %% [markdown]
# Two numbers keep the slant and the weight of the test digit, and little else: the
# thin, forward-leaning 9 makes thin, forward-leaning digits of every class, and the bold
# 7 bold ones. The sixteen-dimensional code ({numref}`fig-12-carried-16`) keeps more of
# the hand, its thickness, its wobble, the curl that starts the 3, and its reconstruction,
# the column of the digit's own label, is much closer to the original. It also keeps
# traits that belong to the class and not the style (the 3's curl returns in its 4 and its
# 5), and some of its carried digits are hard to read.
#
# ## What a classifier reads
#
# Whether a sample "is" the digit it was asked for is a judgement a picture leaves to the
# eye. A small convolutional classifier of MNIST (`vae_lib.classifier`), trained here on
# the training images, makes it the same way for every sample. It reports its own
# accuracy on the test set first, so that its verdicts can be weighed.

# %% tags=["nbval-ignore-output"]
classifier = book_classifier(mnist)
glue("ch12_classifier_accuracy", 100 * classifier.test_accuracy)
print(f"classifier: {classifier.test_accuracy:.2%} of the test digits right")

# %% [markdown]
# Three kinds of images go to it: codes from the prior decoded with labels 0, 1, 2, … in
# turn; the codes of test digits decoded with each of the nine labels that are *not* the
# digit's own (the carried styles above, for many test digits); and the unconditional
# model's samples, which were asked for no digit at all. For the first two the question is
# the *label agreement*, the fraction the classifier assigns to the label they were
# decoded with; for all of them, the fraction it is confident about (a probability of at
# least 0.9 for its top class), whatever the class: how many look like any digit at all.

# %%
N_SAMPLES = 200 if QUICK else 1000
N_CARRIED = 50 if QUICK else 500


def carried_to_other_labels(model: CVAE, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The first ``n`` test digits' codes decoded with the nine labels not theirs: (images, labels), 9n."""
    codes = posterior_means(model, test_images[:n], labels=test_labels[:n])
    others = np.array([[y for y in range(10) if y != own] for own in test_labels[:n]])  # [n, 9]
    decoded = model.decode(np.repeat(codes, 9, axis=0), apply_sigmoid=True, y=others.ravel())
    return decoded.numpy(), others.ravel()


intended = np.arange(N_SAMPLES) % 10
judged = {"test digits": (test_images, test_labels)}
for name in ("conditional, d = 2", "conditional, d = 16"):
    judged[f"{name}: samples"] = (models[name].sample(N_SAMPLES, seed=1, y=intended).numpy(), intended)
    judged[f"{name}: styles carried"] = carried_to_other_labels(models[name], N_CARRIED)
judged["unconditional, d = 2: samples"] = (vae.sample(N_SAMPLES, seed=1).numpy(), None)

# %% tags=["nbval-ignore-output"]
agreement = {
    name: None if labels is None else label_agreement(classifier, images, labels)
    for name, (images, labels) in judged.items()
}
confident = {name: confident_fraction(classifier, images) for name, (images, _) in judged.items()}
table(
    ["images", "how many", "label agreement", "confident (≥ 0.9)"],
    [
        [name, len(images), "—" if share is None else f"{share:.1%}", f"{confident[name]:.1%}"]
        for (name, (images, _)), share in zip(judged.items(), agreement.values(), strict=True)
    ],
    align="lrrr",
    caption="The classifier's verdicts: the fraction of images it assigns to the label they"
    " were made with, and the fraction it assigns to some class with probability at least 0.9.",
    name="tab-12-classifier",
)

# %% tags=["nbval-ignore-output", "remove-output"]
KEYS = {
    "test digits": "test",
    "conditional, d = 2: samples": "cvae2_samples",
    "conditional, d = 2: styles carried": "cvae2_carried",
    "conditional, d = 16: samples": "cvae16_samples",
    "conditional, d = 16: styles carried": "cvae16_carried",
    "unconditional, d = 2: samples": "vae_samples",
}
for name, key in KEYS.items():
    if agreement[name] is not None:
        glue(f"ch12_agree_{key}", 100 * agreement[name])
    glue(f"ch12_confident_{key}", 100 * confident[name])
glue("ch12_samples", N_SAMPLES)
glue("ch12_carried", N_CARRIED)

# %% [markdown]
# The classifier gets {glue:text}`ch12_classifier_accuracy:.1f` % of the real test digits
# right and is confident about {glue:text}`ch12_confident_test:.1f` % of them
# ({numref}`tab-12-classifier`): the yardstick for the rest. Of
# {glue:text}`ch12_samples:,` samples of the two-dimensional conditional VAE it reads
# {glue:text}`ch12_agree_cvae2_samples:.1f` % as the digit that was asked for, and of the
# sixteen-dimensional one's {glue:text}`ch12_agree_cvae16_samples:.1f` %. The styles of
# {glue:text}`ch12_carried:,` test digits, carried to the nine other labels, are read as
# the new label {glue:text}`ch12_agree_cvae2_carried:.1f` % and
# {glue:text}`ch12_agree_cvae16_carried:.1f` % of the time. The unconditional VAE cannot be
# asked for a digit; the classifier is confident about
# {glue:text}`ch12_confident_vae_samples:.1f` % of its samples, against
# {glue:text}`ch12_confident_cvae2_samples:.1f` % of the conditional model's with the same
# code size.
#
# The two-dimensional model's samples are read as their label as often as real digits
# are: they are blurred, average digits, the easiest kind to classify. The
# sixteen-dimensional model's are sharper and more varied, and follow their label less
# often. One likely reason is {numref}`tab-12-codes`: its codes hold some of the class, so
# a code from the prior, or one taken from a digit of another class, can pull against the
# label it is decoded with. {numref}`fig-12-classes` breaks the samples down by class.

# %% mystnb={"figure": {"caption": "Left: the label agreement of each conditional model's samples, label by label. Right: the classes the classifier reads in the unconditional VAE's samples.", "name": "fig-12-classes"}} tags=["nbval-ignore-output"]
digits = np.arange(10)
per_label = {
    name: [label_agreement(classifier, images[labels == y], labels[labels == y]) for y in digits]
    for name, (images, labels) in judged.items()
    if name.endswith(": samples") and labels is not None
}
read, _ = classifier.predict(judged["unconditional, d = 2: samples"][0])
read_share = np.bincount(read, minlength=10) / len(read)
fig, (left, right) = plt.subplots(1, 2, figsize=(plots.PAGE_WIDTH, 3.4))
for offset, (name, values) in zip((-0.2, 0.2), per_label.items(), strict=True):
    left.bar(digits + offset, values, width=0.4, label=name.removesuffix(": samples"))
left.set_ylabel("label agreement", fontsize=plots.LABEL_SIZE)
left.set_ylim(0, 1.5)  # room above the bars for the legend
left.set_yticks(np.linspace(0, 1, 6))
left.legend(loc="upper left")
right.bar(digits, read_share, color="tab:gray")
right.axhline(0.1, color="black", linewidth=0.8, linestyle="--")
right.set_ylabel("share of the samples", fontsize=plots.LABEL_SIZE)
for ax in (left, right):
    ax.set_xticks(digits)
    ax.set_xlabel("digit", fontsize=plots.LABEL_SIZE)
    ax.grid(alpha=0.3, axis="y")
fig.tight_layout()
plt.show()

# %% tags=["nbval-ignore-output", "remove-output"]
worst = int(np.argmin(per_label["conditional, d = 2: samples"]))
glue("ch12_worst_label", worst)
glue("ch12_worst_agreement", 100 * per_label["conditional, d = 2: samples"][worst])
glue("ch12_rarest_class", int(read_share.argmin()))
glue("ch12_rarest_share", 100 * float(read_share.min()))
glue("ch12_commonest_class", int(read_share.argmax()))
glue("ch12_commonest_share", 100 * float(read_share.max()))

# %% [markdown]
# The two-dimensional model's weakest label is {glue:text}`ch12_worst_label`, with an
# agreement of {glue:text}`ch12_worst_agreement:.0f` %. Asked for nothing in particular,
# the unconditional model makes the classes in very unequal numbers: the classifier reads
# {glue:text}`ch12_commonest_share:.0f` % of its samples as a
# {glue:text}`ch12_commonest_class` and only {glue:text}`ch12_rarest_share:.1f` % as a
# {glue:text}`ch12_rarest_class`, where the test set has about 10 % of each. The prior
# covers the classes in proportion to the prior mass of their regions in the latent
# plane, and nothing makes those equal; [chapter 6](06_generation.ipynb)'s model, too, had no region of 4s in
# {numref}`fig-06-manifold`. Given the label, every class is made on demand.
#
# ## What the label is worth, in nats
#
# The test ELBOs of {numref}`tab-12-models` bound two different things,
# $\log p(x \mid y)$ for the conditional models and $\log p(x)$ for the unconditional one.
# For one joint distribution of images and labels, $p(x, y) = p(x \mid y)\, p(y)$, Bayes'
# rule ties them together:
#
# $$
# \log p(x \mid y) = \log p(x) + \log p(y \mid x) - \log p(y).
# $$ (eq-12-bayes)
#
# In {eq}`eq-12-bayes`, take the ten labels as equally likely, $p(y) = 1/10$ (MNIST's classes are nearly
# equally frequent). Since $\log p(y \mid x) \le 0$,
#
# $$
# \log p(x \mid y) - \log p(x) = \log 10 + \log p(y \mid x) \;\le\; \log 10 \approx 2.30
# \text{ nats},
# $$ (eq-12-gap)
#
# with equality when the label is certain given the image. A label is worth at most
# $\log 10$ nats, and almost exactly that for the clear digits that make up most of MNIST.
#
# Our conditional and unconditional models are two separately trained models, though,
# not one joint distribution, so {eq}`eq-12-gap` does not have to hold between their
# bounds. It does hold inside the conditional model, whose own distribution of images is
# the mixture of its ten classes,
#
# $$
# p_\theta(x) = \sum_{y=0}^{9} p(y)\, p_\theta(x \mid y), \qquad
# p_\theta(y \mid x) = \frac{p_\theta(x \mid y)}{\sum_{y'} p_\theta(x \mid y')}.
# $$ (eq-12-mixture)
#
# We bound $\log p_\theta(x \mid y)$ of each test image given *each* of the ten labels
# with $\mathcal{L}_k$ ({eq}`eq-04-iw`, `iw_bounds(..., labels=)`), the encoder being
# given the same label (for a wrong label it is a poor proposal, but still a valid one, so
# the bound stays a bound); the log-sum-exp of the ten bounds, less $\log 10$, is then a
# lower bound on the mixture's $\log p_\theta(x)$. The two-dimensional conditional model
# and the unconditional one are bounded on the same first test images (300; 20 in the
# reduced run) with $k = 100$ (10 in the reduced run), and the ELBO alongside.

# %% tags=["nbval-ignore-output"]
N_BOUND = 20 if QUICK else 300
K = 10 if QUICK else 100
subset, subset_labels = test_images[:N_BOUND], test_labels[:N_BOUND]
own = (np.arange(N_BOUND), subset_labels)  # each image's own label, as an index into [N, 10]
# Every image ten times over: copy y·N + i is image i given the label y (one call, one trace).
copies, copy_labels = np.tile(subset, (10, 1, 1, 1)), np.repeat(digits, N_BOUND)
# Column y: each image's bound on log p(x | y) given the label y, whether its own or not: [N, 10].
elbo_given = elbo_per_image(cvae, copies, labels=copy_labels)[:, 0].reshape(10, N_BOUND).T
# The indices give every copy its image's noise, the draws a single call on the image would make.
iw_given = iw_bounds(cvae, copies, K, labels=copy_labels, indices=np.tile(own[0], 10), progress=False)
iw_given = iw_given.reshape(10, N_BOUND).T


def mixture_bound(per_label: np.ndarray) -> np.ndarray:
    """log Σ_y p(y) exp(bound given y), p(y) = 1/10: ``[N, 10]`` bounds → ``[N]`` bounds on log p(x)."""
    return np.logaddexp.reduce(per_label, axis=1) - math.log(10)


given, mixture = iw_given[own], mixture_bound(iw_given)
vae_elbo, vae_iw = elbo_per_image(vae, subset)[:, 0], iw_bounds(vae, subset, K, progress=False)
bounds = {
    "conditional, d = 2: own label": ("$\\log p(x \\mid y)$", elbo_given[own], given),
    "conditional, d = 2: its mixture of classes": ("$\\log p(x)$", mixture_bound(elbo_given), mixture),
    "unconditional, d = 2": ("$\\log p(x)$", vae_elbo, vae_iw),
}
table(
    ["model", "bound on", "ELBO", f"$\\mathcal{{L}}_{{{K}}}$"],
    [
        [name, target, f"{elbo.mean():.2f} ± {stderr(elbo):.2f}", f"{iw.mean():.2f} ± {stderr(iw):.2f}"]
        for name, (target, elbo, iw) in bounds.items()
    ],
    align="llrr",
    caption=f"Bounds on the first {N_BOUND} test images, nats per image, with the standard error"
    " of each mean across the images.",
    name="tab-12-bounds",
)

# %% tags=["nbval-ignore-output"]
label_worth = given - mixture  # log 10 + log p(y | x) per image: at most log 10, by eq-12-gap
over_vae, mixture_over_vae = given - vae_iw, mixture - vae_iw
assert label_worth.max() <= math.log(10) + 1e-9, "a mixture of ten is at least a tenth of its own class"
glue("ch12_bound_images", N_BOUND)
glue("ch12_k", K)
glue("ch12_log10", math.log(10))
glue("ch12_label_worth", float(label_worth.mean()))
glue("ch12_label_worth_stderr", stderr(label_worth))
glue("ch12_label_worth_median", float(np.median(label_worth)))
glue("ch12_label_worth_min", float(label_worth.min()))
posterior_own = np.exp(label_worth - math.log(10))  # the mixture's p(y | x) of each image's own label
glue("ch12_posterior_own", float(posterior_own.mean()))
glue("ch12_posterior_sure", 100 * float((posterior_own > 0.99).mean()))
glue("ch12_generative_accuracy", 100 * float((iw_given.argmax(axis=1) == subset_labels).mean()))
glue("ch12_over_vae", float(over_vae.mean()))
glue("ch12_over_vae_stderr", stderr(over_vae))
glue("ch12_over_vae_elbo", float((elbo_given[own] - vae_elbo).mean()))
glue("ch12_mixture_over_vae", float(mixture_over_vae.mean()))
glue("ch12_mixture_over_vae_stderr", stderr(mixture_over_vae))
print(f"own label - mixture: {label_worth.mean():.3f} ± {stderr(label_worth):.3f} nats (log 10 = 2.303)")
print(f"own label - unconditional: {over_vae.mean():.2f} ± {stderr(over_vae):.2f} nats")
print(f"mixture - unconditional: {mixture_over_vae.mean():.2f} ± {stderr(mixture_over_vae):.2f} nats")

# %% [markdown]
# Inside the conditional model, on these {glue:text}`ch12_bound_images` test images, the
# label is worth {glue:text}`ch12_label_worth:.2f` ± {glue:text}`ch12_label_worth_stderr:.2f`
# nats per image on average ({numref}`tab-12-bounds`: the own label's $\mathcal{L}_k$
# less the mixture's, $k =$ {glue:text}`ch12_k`), and never more than {eq}`eq-12-gap`
# allows, $\log 10 =$ {glue:text}`ch12_log10:.3f`. The average hides a skewed spread. For
# {glue:text}`ch12_posterior_sure:.0f` % of the images the model's own
# $p_\theta(y \mid x)$ of {eq}`eq-12-mixture` gives the true label a probability above
# 0.99 ({glue:text}`ch12_posterior_own:.2f` on average over all the images), and the
# label is worth $\log 10$ to within a hundredth of a nat (the median is
# {glue:text}`ch12_label_worth_median:.2f`). The mean is pulled down by the digits that
# the model finds likelier under another label; for the worst of them the label is worth
# {glue:text}`ch12_label_worth_min:.1f` nats, less than nothing. The model's most probable
# label is the true one for {glue:text}`ch12_generative_accuracy:.1f` % of the images: a
# conditional VAE is a classifier too, by Bayes' rule. (The bounds given a wrong label
# are looser than the one given the right label, since the encoder was only ever trained
# on right ones, so these probabilities lean towards the true label, if anything.) {cite:t}`kingma2014semi`
# turn the same posterior over labels into a semi-supervised classifier, approximating it
# with a network $q_\phi(y \mid x)$ of its own, so that digits without labels can train the
# model too.
#
# Against the unconditional model the gap is another matter. Given its label, the
# conditional model's bound is {glue:text}`ch12_over_vae:.2f` ±
# {glue:text}`ch12_over_vae_stderr:.2f` nats above the unconditional model's
# ({glue:text}`ch12_over_vae_elbo:.2f` by the ELBO), far more than $\log 10$. By
# {eq}`eq-12-gap` that is impossible within one model, and indeed it is not the label's
# doing: the conditional model's own mixture, which is given no label, is
# {glue:text}`ch12_mixture_over_vae:.2f` ± {glue:text}`ch12_mixture_over_vae_stderr:.2f`
# nats above the unconditional model. It is a better model of the digits themselves.
# With the class given, its two code dimensions are free for the style, where the
# unconditional model must spend them on the class and the style at once, and the plane of
# {numref}`fig-06-manifold` has no room for both. Seen as a model of images alone, the
# mixture is a VAE with one more latent variable, the label, discrete and with ten values:
# a code that can cost at most $\log 10$ nats, and here buys
# {glue:text}`ch12_mixture_over_vae:.0f`.
#
# ## Summary
#
# * A conditional VAE gives its encoder and its decoder the label, and maximizes the bound
#   {eq}`eq-12-elbo` on $\log p(x \mid y)$. The code is then left to carry the style.
# * A fixed code decoded with each label draws every digit in one style; a test digit's
#   code carries its style to the other classes. A classifier reads most such images as the
#   label they were made with ({numref}`tab-12-classifier`).
# * The unconditional VAE makes the classes in unequal numbers, in proportion to the
#   prior mass of their regions in its latent plane; the conditional one makes each on
#   demand.
# * Within one model the label is worth at most $\log 10$ nats ({eq}`eq-12-gap`), and
#   that much when it is certain, as it is for most test digits. The conditional model's
#   bound is {glue:text}`ch12_over_vae:.0f` nats above the unconditional model's: a gap of
#   more than $\log 10$ between two separately trained models says that one of them is the
#   better model of the images themselves.
#
# ## Exercises
#
# 1. Encode the test set given its labels with the two-dimensional conditional model and
#    draw the posterior means coloured by label, as in {numref}`fig-06-scatter`. How does
#    the picture show {numref}`tab-12-codes`?
# 2. Decode a code given a *blend* of two labels: in place of the one-hot vector, give
#    the decoder network $(1 - t)\, e_a + t\, e_b$ for one-hot vectors $e_a$ and $e_b$
#    (`cvae.decoder(tf.concat([z, label], axis=-1))`, since `decode` takes whole labels
#    only). What do $t = 0.5$ and $t = 1.5$ give?
# 3. Train the conditional model with `latent_dim=8` and fill in another row of
#    {numref}`tab-12-classifier`. Does a larger code follow the label less often, or more?
# 4. Classify 2,000 test images by the mixture {eq}`eq-12-mixture`, with $k = 1$ and with
#    $k = 100$. How much does the accuracy depend on $k$? Which digits does it confuse, and
#    does the convolutional classifier confuse the same ones?
