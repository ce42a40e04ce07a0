"""What the chapters use to put results on the page: listings, glued values, tables."""

from __future__ import annotations

import numpy as np
import pytest

from vae_lib import book
from vae_lib.priors import StandardNormal, gaussian_kl


def test_table_renders_markdown_with_numbers_right_aligned() -> None:
    table = book.table(["run", "ELBO"], [["tutorial", -80.5], ["latent50", -78.1]])
    assert table.data.splitlines() == [
        "| run | ELBO |",
        "| :--- | ---: |",
        "| tutorial | -80.5 |",
        "| latent50 | -78.1 |",
    ]
    assert book.table(["a", "b"], [[1, 2]], align="lr").data.splitlines()[1] == "| :--- | ---: |"


def test_table_with_a_caption_is_a_numbered_table_of_the_book() -> None:
    text = book.table(["a"], [["x"]], caption="Runs", name="tab-runs").data
    assert text.startswith(":::{table} Runs\n:name: tab-runs\n\n| a |")
    assert text.endswith("| x |\n:::")


@pytest.mark.parametrize(
    ("header", "rows", "align"),
    [(["a", "b"], [[1]], None), (["a", "b"], [[1, 2]], "l")],
)
def test_table_of_ragged_rows_is_refused(header: list[str], rows: list[list], align: str | None) -> None:
    with pytest.raises(ValueError, match="every row and align need 2 columns"):
        book.table(header, rows, align)


def test_glue_returns_the_value_a_scalar_as_a_python_number() -> None:
    value = book.glue("test-value", np.float32(1.5))
    assert value == 1.5 and type(value) is float
    assert book.glue("test-list", [1, 2]) == [1, 2]


def test_show_source_lists_each_object_dedented() -> None:
    code = book.show_source(gaussian_kl, StandardNormal)
    assert code.language == "python"
    assert code.data.startswith("def gaussian_kl(")
    assert "\n\nclass StandardNormal:" in code.data
