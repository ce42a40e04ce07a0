"""vae_lib: the companion library of the book *Convolutional VAEs on MNIST in TensorFlow*.

One module per idea: :mod:`~vae_lib.data`, :mod:`~vae_lib.model`,
:mod:`~vae_lib.losses` (the ELBO), :mod:`~vae_lib.train`, :mod:`~vae_lib.plots`
and :mod:`~vae_lib.cli`.
"""

import os

# TensorFlow's C++ start-up chatter (CUDA probing, oneDNN notices) says nothing a
# reader needs and would land in notebook outputs; errors still show.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0"
