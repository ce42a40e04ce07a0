"""Serve MathJax from the built book itself when a local copy is installed.

Sphinx loads MathJax from a CDN by default, so pages opened without internet show raw
LaTeX. If the ``sphinx-mathjax-offline`` package (MathJax 3 bundled for Sphinx) is
installed, this extension hands over to it: MathJax is copied into ``_static/mathjax``
and the pages load it from there. Without the package the CDN default stays, so the book
still builds everywhere.
"""

from __future__ import annotations

import importlib.util

from sphinx.application import Sphinx
from sphinx.util import logging

OFFLINE_EXTENSION = "sphinx-mathjax-offline"  # the package's import name has hyphens

logger = logging.getLogger(__name__)


def setup(app: Sphinx) -> dict[str, bool]:
    if importlib.util.find_spec(OFFLINE_EXTENSION) is not None:
        app.setup_extension(OFFLINE_EXTENSION)
    else:
        logger.info("offline_mathjax: %s is not installed; MathJax will load from its CDN", OFFLINE_EXTENSION)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
