"""vae_lib: the companion library of the book *Convolutional VAEs on MNIST in TensorFlow*.

One module per idea: :mod:`~vae_lib.data`, :mod:`~vae_lib.model`,
:mod:`~vae_lib.losses` (the ELBO), :mod:`~vae_lib.train`, :mod:`~vae_lib.plots`
and :mod:`~vae_lib.cli`.
"""

import os


def _import_tensorflow_quietly() -> None:
    """Import TensorFlow with its C++ start-up lines (CUDA probing, oneDNN notices) silenced.

    Those lines are written to file descriptor 2 before TensorFlow reads any
    setting, so they would land in every notebook's output; Python errors
    still raise as usual. (A machine without a GPU logs a CUDA error here
    that is not an error.)
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            import tensorflow

            tensorflow.config.list_physical_devices()  # the device probe logs too
    finally:
        os.dup2(saved, 2)
        os.close(saved)


_import_tensorflow_quietly()

__version__ = "0.1.0"
