"""What the book's chapters use to show things: library listings, measured values, tables.

Nothing here computes a result; it only puts results on the page, so that a chapter's prose
and its outputs cannot drift apart:

* :func:`show_source` prints the library's own code, so a chapter never repeats it;
* :func:`glue` hands a measured value to the prose (myst-nb's ``{glue:text}`name:.2f```);
* :func:`table` renders rows as a real table (Markdown, which the book and Jupyter render).
"""

from __future__ import annotations

import inspect
import textwrap
from collections.abc import Callable, Sequence
from typing import Any

from IPython.display import Code, Markdown


def show_source(*objects: Callable | type) -> Code:
    """The source of library functions or classes, one after another, as a highlighted listing."""
    return Code("\n\n".join(textwrap.dedent(inspect.getsource(obj)) for obj in objects), language="python")


def glue(name: str, value: Any) -> Any:
    """Record ``value`` under ``name`` for the book's prose, and return it.

    The prose reads it with ``{glue:text}`name``` (``{glue:text}`name:.2f``` formats a
    number), so every measured figure in the text is the one this run computed. Outside
    the book's build (Colab, where myst-nb is not installed) it only returns ``value``.
    """
    if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:
        value = value.item()  # a NumPy or TensorFlow scalar would be pasted as its repr
    try:
        from myst_nb import glue as record
    except ImportError:
        return value
    record(name, value, display=False)
    return value


def table(
    header: Sequence[str],
    rows: Sequence[Sequence[Any]],
    align: str | None = None,
    caption: str | None = None,
    name: str | None = None,
) -> Markdown:
    """A table with ``header`` and ``rows`` (cells as they should read), rendered as Markdown.

    ``align`` has one letter per column, ``l`` or ``r`` (default: text left, numbers right).
    With a ``caption`` it is a numbered table of the book, referred to as
    ``{numref}`name``` (Jupyter shows the directive's lines as text above it).
    """
    if align is None:
        align = "".join("r" if isinstance(cell, int | float) else "l" for cell in rows[0]) if rows else ""
    if len(align) != len(header) or any(len(row) != len(header) for row in rows):
        raise ValueError(f"every row and align need {len(header)} columns, one per header cell")
    rule = ["---:" if a == "r" else ":---" for a in align]
    lines = [header, rule, *[[str(cell) for cell in row] for row in rows]]
    text = "\n".join("| " + " | ".join(line) + " |" for line in lines)
    if caption is not None:
        label = f":name: {name}\n" if name else ""
        text = f":::{{table}} {caption}\n{label}\n{text}\n:::"
    return Markdown(text)
