"""``python -m vae_lib`` (and the ``vae-lib`` script): see :mod:`vae_lib.cli`."""

from __future__ import annotations

import os


def run() -> int:
    """Run the command line with TensorFlow's C++ start-up lines kept off the terminal.

    TensorFlow writes them (CUDA probing, oneDNN notices) to file descriptor 2 while it
    loads, before any setting could silence them; on a machine without a GPU one of
    them reads like an error. Python's own errors are printed after descriptor 2 is back.
    """
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            import tensorflow as tf

            tf.config.list_physical_devices()  # the device probe logs too
    finally:
        os.dup2(saved, 2)
        os.close(saved)
    from vae_lib.cli import main

    return main()


if __name__ == "__main__":
    raise SystemExit(run())
