"""The literature's figures the book compares with, from two tables in the package.

``vae_lib/literature.csv`` holds binarized-MNIST figures in nats per test image: each row names the
paper, its table and row, the model, how the digits were binarized, the number of samples ``k`` and
what was estimated, the value, and what was checked against the paper.

``vae_lib/literature_8bit.csv`` holds 8-bit grey-level figures in bits per dimension
(``bpd = -log p(x) / (D ln 2)``, ``D = 784`` for 28x28 images): each row names the paper, table and
row, the model, the dataset, how the discrete pixels were dequantized, the value, and what exactly was
checked where. A chapter's comparison table cites the row, not a remembered number.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from importlib.resources import files


class LiteratureError(ValueError):
    """A literature table lacks a column its loader needs."""


@dataclass(frozen=True)
class LiteratureRow:
    """One published figure: ``value`` is nats per test image (negative: a log-likelihood or bound)."""

    paper: str
    cite: str  # a key of book/references.bib
    table: str
    row: str
    model: str
    binarization: str
    k: int  # samples per image: trained with (Burda et al.) or estimated with (the L_k estimate)
    estimate: str  # ELBO, L_5000, L_128, ...
    value: float
    checked: str


@dataclass(frozen=True)
class LiteratureRow8bit:
    """One published 8-bit figure: ``bits_per_dim`` is the test negative log-likelihood (or its bound)
    in bits per pixel, positive, lower is better; not comparable with binarized-MNIST nats."""

    paper: str
    cite: str  # a key of book/references.bib
    table: str
    row: str
    model: str
    dataset: str
    dequantization: str  # uniform or variational noise added to the integer pixels before the density
    bits_per_dim: float
    checked: str


def _read(name: str, columns: tuple[str, ...]) -> list[dict[str, str]]:
    """The rows of the package's CSV table ``name``, in file order, each a column -> text mapping."""
    with files("vae_lib").joinpath(name).open(newline="", encoding="utf-8") as stream:
        reader = csv.DictReader(stream)
        missing = set(columns) - set(reader.fieldnames or ())
        if missing:
            raise LiteratureError(f"{name} lacks the column(s) {sorted(missing)}")
        return list(reader)


def rows() -> list[LiteratureRow]:
    """Every row of ``literature.csv`` (binarized MNIST, nats), in file order."""
    columns = (
        "paper",
        "cite",
        "table",
        "row",
        "model",
        "binarization",
        "k",
        "estimate",
        "value_nats",
        "checked",
    )
    return [
        LiteratureRow(
            paper=r["paper"],
            cite=r["cite"],
            table=r["table"],
            row=r["row"],
            model=r["model"],
            binarization=r["binarization"],
            k=int(r["k"]),
            estimate=r["estimate"],
            value=float(r["value_nats"]),
            checked=r["checked"],
        )
        for r in _read("literature.csv", columns)
    ]


def rows_8bit() -> list[LiteratureRow8bit]:
    """Every row of ``literature_8bit.csv`` (8-bit grey images, bits per dimension), in file order."""
    columns = (
        "paper",
        "cite",
        "table",
        "row",
        "model",
        "dataset",
        "dequantization",
        "value_bits_per_dim",
        "checked",
    )
    return [
        LiteratureRow8bit(
            paper=r["paper"],
            cite=r["cite"],
            table=r["table"],
            row=r["row"],
            model=r["model"],
            dataset=r["dataset"],
            dequantization=r["dequantization"],
            bits_per_dim=float(r["value_bits_per_dim"]),
            checked=r["checked"],
        )
        for r in _read("literature_8bit.csv", columns)
    ]


# The papers whose stochastically binarized MNIST figures chapters 8 and 15 set ours beside.
COMPARED = ("burda2016", "kingma2016")
COMPARISON_HEADER = ("model", "source", "trained with k", "figure", "nats per image", "ours − theirs")


def comparison_rows(elbo: float, bound: float) -> list[list[str]]:
    """A row per figure of the :data:`COMPARED` papers beside ours, cells as :data:`COMPARISON_HEADER` has.

    ``elbo`` and ``bound`` are our model's test ELBO and L_5000, nats per image; the last
    cell is ours of the same kind (ELBO for ELBO, the bound for any L_k) minus the row's.
    """
    table = []
    for r in rows():
        if r.cite not in COMPARED:
            continue
        is_elbo = r.estimate.startswith("ELBO")
        figure = r.estimate if is_elbo else f"$\\mathcal{{L}}_{{{r.estimate[2:]}}}$"
        trained_k = str(r.k) if r.cite == "burda2016" else "—"  # Burda et al.'s k is the training k
        ours = elbo if is_elbo else bound
        cells = [
            r.model,
            f"{r.paper}, {r.table}",
            trained_k,
            figure,
            f"{r.value:.2f}",
            f"{ours - r.value:+.2f}",
        ]
        table.append(cells)
    return table
