"""The literature tables load: Burda et al.'s twelve binarized-MNIST rows in nats, the 8-bit rows in bits
per dimension, each citing a key the book lists."""

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from vae_lib import literature

BIB = Path(__file__).resolve().parents[1] / "book" / "references.bib"


def test_burda_table_1_has_all_twelve_rows() -> None:
    burda = [row for row in literature.rows() if row.cite == "burda2016"]
    cells = {(row.model, row.k) for row in burda}
    assert len(burda) == len(cells) == 12  # VAE and IWAE x 1 and 2 layers x k = 1, 5, 50
    assert {row.k for row in burda} == {1, 5, 50}


def test_values_are_negative_nats() -> None:
    assert all(row.value < 0 for row in literature.rows())


@pytest.mark.parametrize("loader", [literature.rows, literature.rows_8bit])
def test_cite_keys_are_in_the_bibliography(loader: Callable[[], list]) -> None:
    keys = set(re.findall(r"^@\w+\{([^,]+),", BIB.read_text(), flags=re.MULTILINE))
    missing = {row.cite for row in loader()} - keys
    assert not missing, f"cite keys missing from book/references.bib: {missing}"


def test_8bit_rows_load_as_bits_per_dim() -> None:
    rows = literature.rows_8bit()
    ffjord = {row.model for row in rows if row.cite == "grathwohl2019" and row.table == "Table 2"}
    assert len(ffjord) == 6  # FFJORD's Table 2 MNIST column: two FFJORD cells, Real NVP, Glow, MADE, MAF
    assert all(0.3 < row.bits_per_dim < 8 for row in rows)  # 8 bpd is a uniform model of 256 levels
    assert {row.dataset for row in rows} <= {"mnist", "fashion_mnist"}


def test_8bit_rows_name_dequantization_and_what_was_checked() -> None:
    for row in literature.rows_8bit():
        assert row.dequantization.strip(), f"{row.paper} {row.row}: no dequantization"
        assert row.checked.strip(), f"{row.paper} {row.row}: 'checked' is empty"


def test_a_table_missing_a_column_is_a_named_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "literature_8bit.csv").write_text("paper,cite\nX,y\n", encoding="utf-8")
    monkeypatch.setattr(literature, "files", lambda package: tmp_path)
    with pytest.raises(literature.LiteratureError, match="value_bits_per_dim"):
        literature.rows_8bit()
