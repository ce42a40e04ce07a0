"""The literature's figures the book compares with, from one table: ``vae_lib/literature.csv``.

Each row names the paper, its table and row, the model, how the digits were binarized, the number
of samples ``k`` and what was estimated, the value in nats per test image, and what was checked
against the paper (so a chapter's comparison table cites the row, not a remembered number).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from importlib.resources import files


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


def rows() -> list[LiteratureRow]:
    """Every row of ``literature.csv``, in file order."""
    with files("vae_lib").joinpath("literature.csv").open(newline="", encoding="utf-8") as stream:
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
            for r in csv.DictReader(stream)
        ]
