"""The literature table loads, holds Burda et al.'s twelve MNIST rows, and cites what the book lists."""

import re
from pathlib import Path

from vae_lib import literature

BIB = Path(__file__).resolve().parents[1] / "book" / "references.bib"


def test_burda_table_1_has_all_twelve_rows() -> None:
    burda = [row for row in literature.rows() if row.cite == "burda2016"]
    cells = {(row.model, row.k) for row in burda}
    assert len(burda) == len(cells) == 12  # VAE and IWAE x 1 and 2 layers x k = 1, 5, 50
    assert {row.k for row in burda} == {1, 5, 50}


def test_values_are_negative_nats() -> None:
    assert all(row.value < 0 for row in literature.rows())


def test_cite_keys_are_in_the_bibliography() -> None:
    keys = set(re.findall(r"^@\w+\{([^,]+),", BIB.read_text(), flags=re.MULTILINE))
    missing = {row.cite for row in literature.rows()} - keys
    assert not missing, f"cite keys missing from book/references.bib: {missing}"
