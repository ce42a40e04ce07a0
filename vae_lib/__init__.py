"""vae_lib: the companion library of the book *Convolutional VAEs on MNIST in TensorFlow*.

One module per idea: :mod:`~vae_lib.data` (MNIST, and Fashion-MNIST by name),
:mod:`~vae_lib.model`, :mod:`~vae_lib.losses` (the ELBO), :mod:`~vae_lib.train`,
:mod:`~vae_lib.run` (the run folder: its files, checkpoints and lock), :mod:`~vae_lib.plots`
and :mod:`~vae_lib.cli`.
"""

# Importing the package does nothing else, so it may be imported before or after TensorFlow.
# TensorFlow's start-up lines are kept out of the book's outputs by the kernel that executes
# the chapters (notebooks/jupyter/kernels/python3/kernel.json), not by this package.

__version__ = "0.1.0"
