"""vae_lib: the companion library of the book *Convolutional VAEs on MNIST in TensorFlow*.

One module per idea, in the order a reader meets them:

* :mod:`~vae_lib.data`: MNIST (and Fashion-MNIST) from IDX files or the Keras download, binarized;
* :mod:`~vae_lib.model`: the CVAE, its encoder and decoder; it holds a prior
  (:mod:`~vae_lib.priors`) and a likelihood (:mod:`~vae_lib.likelihoods`);
* :mod:`~vae_lib.losses`: the ELBO, the importance-weighted bound, and the training loss
  (β, free bits, an autoencoder's objective);
* :mod:`~vae_lib.train`: the training step and the epochs around it;
* :mod:`~vae_lib.evaluate`: the figures of a trained model, as papers measure them;
* :mod:`~vae_lib.posterior`: the exact posterior of a 2-D latent space on a grid, and the inference gaps;
* :mod:`~vae_lib.classifier`: a small CNN that judges generated images (label agreement, confidence);
* :mod:`~vae_lib.plots` draws; :mod:`~vae_lib.report` saves a run's figures;
* :mod:`~vae_lib.run` (the run folder) and :mod:`~vae_lib.checkpoints`;
* :mod:`~vae_lib.config` (every setting), :mod:`~vae_lib.streams` (random numbers),
  :mod:`~vae_lib.hardware` (the precision to train in), :mod:`~vae_lib.cli` (the command line);
* :mod:`~vae_lib.book` and :mod:`~vae_lib.literature`: what the chapters show, and the papers' figures.
"""

# Importing the package does nothing else, so it may be imported before or after TensorFlow.
# TensorFlow's start-up lines are kept out of the book's outputs by the kernel that executes
# the chapters (notebooks/jupyter/kernels/python3/kernel.json), not by this package.

__version__ = "0.3.0"
