"""The book's chapters as files: paired, linked from the book, launchable, installable.

Fast checks on the committed notebooks; nothing here executes a notebook or trains
(``pytest --nbval notebooks/`` does that).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import jupytext
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
BOOK = ROOT / "book"
CHAPTERS = sorted(p.stem for p in NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
EXPECTED_CHAPTERS = [
    "01_data",
    "02_encoder_decoder",
    "03_reparameterization",
    "04_elbo",
    "05_training",
    "06_generation",
    "07_results",
]
# TensorFlow's C++ log lines (glog/absl style) and its usual start-up chatter.
TF_LOG_LINE = re.compile(r"^[IWEF]\d{4} \d\d:\d\d:\d\d|oneDNN|cuda|TF_ENABLE_ONEDNN_OPTS|AVX", re.M)


@pytest.fixture(scope="module")
def config() -> dict:
    return yaml.safe_load((ROOT / "_config.yml").read_text())


@pytest.fixture(scope="module")
def toc() -> dict:
    return yaml.safe_load((BOOK / "_toc.yml").read_text())


def toc_files(toc: dict) -> list[str]:
    files = [toc["root"]]
    for part in toc.get("parts", [{"chapters": toc.get("chapters", [])}]):
        files += [chapter["file"] for chapter in part["chapters"]]
    return files


def code_cells(path: Path) -> list[str]:
    return [c.source for c in jupytext.read(path).cells if c.cell_type == "code"]


def test_all_chapters_are_there() -> None:
    assert CHAPTERS == EXPECTED_CHAPTERS


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_py_and_ipynb_are_in_sync(chapter: str) -> None:
    py, ipynb = NOTEBOOKS / f"{chapter}.py", NOTEBOOKS / f"{chapter}.ipynb"
    assert py.exists(), f"{py.name} is missing: run `jupytext --sync notebooks/{ipynb.name}`"

    def cells(path: Path) -> list[tuple[str, str]]:
        return [(c.cell_type, c.source.strip()) for c in jupytext.read(path).cells]

    assert cells(py) == cells(ipynb), f"{chapter}: .py and .ipynb differ; run `jupytext --sync`"
    assert jupytext.read(ipynb).metadata["jupytext"]["formats"] == "ipynb,py:percent"


def test_no_unpaired_py_files() -> None:
    for py in NOTEBOOKS.glob("[0-9][0-9]_*.py"):
        assert py.stem in CHAPTERS, f"{py.name} has no .ipynb twin"


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_install_cell_uses_the_configured_repository(chapter: str, config: dict) -> None:
    url, branch = config["repository"]["url"], config["repository"]["branch"]
    first = code_cells(NOTEBOOKS / f"{chapter}.ipynb")[0]
    assert '"google.colab" in sys.modules' in first, "the first code cell must be the Colab setup"
    assert f"git+{url}@{branch}" in first
    pip_args = re.search(r"\[sys\.executable, \"-m\", \"pip\", \"install\"(.*?)\]", first, re.S)
    assert pip_args, "the install cell must run `python -m pip install`"
    for flag in ("tensorflow", "--upgrade", "-U", "--force-reinstall", "--no-deps"):
        # Colab's TensorFlow stays: pip installs only the requirements that are missing.
        assert f'"{flag}' not in pip_args.group(1), f"the install cell must not pass {flag}"
    other_urls = set(re.findall(r"git\+\S+?(?=[\"'])", "\n".join(code_cells(NOTEBOOKS / f"{chapter}.ipynb"))))
    assert other_urls == {f"git+{url}@{branch}"}


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_vae_lib_is_imported_before_tensorflow(chapter: str) -> None:
    lines = "\n".join(code_cells(NOTEBOOKS / f"{chapter}.ipynb")).splitlines()
    imports = [i for i, line in enumerate(lines) if re.match(r"(import|from) (vae_lib)\b", line)]
    tf_imports = [
        i for i, line in enumerate(lines) if re.match(r"(import|from) (tensorflow|keras|tf_keras)\b", line)
    ]
    assert imports, "the chapter must import vae_lib"
    assert not tf_imports or imports[0] < tf_imports[0]


def test_every_toc_entry_exists(toc: dict) -> None:
    for entry in toc_files(toc):
        candidates = [BOOK / f"{entry}{suffix}" for suffix in (".md", ".ipynb")]
        assert any(c.exists() for c in candidates), f"book/_toc.yml lists {entry}, which does not exist"


def test_every_chapter_is_in_the_toc(toc: dict) -> None:
    assert [f for f in toc_files(toc) if f.startswith("notebooks/")] == [f"notebooks/{c}" for c in CHAPTERS]


def test_book_links_are_symlinks() -> None:
    assert (BOOK / "_config.yml").resolve() == ROOT / "_config.yml"
    assert (BOOK / "notebooks").is_symlink() and (BOOK / "notebooks").resolve() == NOTEBOOKS


def test_launch_buttons_open_the_real_notebook(config: dict, toc: dict) -> None:
    """Rebuild the URLs as sphinx-book-theme does (header_buttons/launch.py).

    The theme joins ``repository.path_to_book`` and the page name; the page name of a
    chapter is its path under book/, ``notebooks/NN_name``.
    """
    repo = config["repository"]
    org_repo = repo["url"].removeprefix("https://github.com/")
    launch = config["launch_buttons"]
    assert launch["colab_url"] and launch["binderhub_url"]
    book_relpath = repo.get("path_to_book", "").strip("/")
    for page in (f for f in toc_files(toc) if f.startswith("notebooks/")):
        path_in_repo = f"{book_relpath}/{page}.ipynb" if book_relpath else f"{page}.ipynb"
        assert (ROOT / path_in_repo).is_file(), f"the launch buttons would open {path_in_repo}"
        assert path_in_repo == f"notebooks/{Path(page).name}.ipynb"
        colab = f"{launch['colab_url'].rstrip('/')}/github/{org_repo}/blob/{repo['branch']}/{path_in_repo}"
        assert colab == f"https://colab.research.google.com/github/vae-book/cvae-mnist-tf/blob/main/{path_in_repo}"


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_committed_outputs_are_clean_and_complete(chapter: str) -> None:
    notebook = json.loads((NOTEBOOKS / f"{chapter}.ipynb").read_text())
    code = [c for c in notebook["cells"] if c["cell_type"] == "code"]
    assert all(c["execution_count"] is not None for c in code[1:]), "every cell must have been run"
    for cell in code:
        for output in cell.get("outputs", []):
            assert output["output_type"] != "error", f"committed error output in {chapter}"
            text = "".join(output.get("text", "")) + "".join(output.get("data", {}).get("text/plain", ""))
            assert not TF_LOG_LINE.search(text), f"TensorFlow log line in {chapter}: {text[:200]}"
            assert "tutorial-quick" not in text, f"{chapter} carries outputs of a VAE_QUICK run"


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_chapter_ends_with_summary_and_exercises(chapter: str) -> None:
    cells = jupytext.read(NOTEBOOKS / f"{chapter}.py").cells
    markdown = "\n".join(c.source for c in cells if c.cell_type == "markdown")
    assert "## Summary" in markdown and "## Exercises" in markdown
    assert markdown.index("## Summary") < markdown.index("## Exercises")


def test_results_chapter_loads_the_committed_run_and_trains_nothing(config: dict) -> None:
    """Chapter 7 reads results/latent50 (fetched from the configured repository in Colab)."""
    cells = code_cells(NOTEBOOKS / "07_results.ipynb")
    source = "\n".join(cells)
    assert not re.search(r"\btrain\(", source), "chapter 7 must load its model, not train it"
    assert 'Path("../results/latent50")' in source
    url, branch = config["repository"]["url"], config["repository"]["branch"]
    org_repo = url.removeprefix("https://github.com/")
    raw = f"https://raw.githubusercontent.com/{org_repo}/{branch}/results/latent50/"
    assert f'"{raw}"' in cells[0], "the Colab cell must fetch the run from the configured repository"
