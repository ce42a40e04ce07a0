"""The book's chapters as files: paired, linked from the book, launchable, installable.

Fast checks on the committed notebooks; nothing here executes a notebook or trains
(``pytest --nbval notebooks/`` does that).
"""

from __future__ import annotations

import importlib.metadata
import json
import re
import subprocess
import sys
import types
from pathlib import Path

import jupytext
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
BOOK = ROOT / "book"
# The chapters, then the appendices (A1_...), in the order of the table of contents.
CHAPTERS = sorted(p.stem for p in NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")) + sorted(
    p.stem for p in NOTEBOOKS.glob("A[0-9]_*.ipynb")
)
EXPECTED_CHAPTERS = [
    "01_data",
    "02_encoder_decoder",
    "03_reparameterization",
    "04_elbo",
    "05_training",
    "06_generation",
    "07_results",
    "08_papers",
    "09_autoencoder_vs_vae",
    "10_true_posterior",
    "11_beta_vae",
    "12_conditional_vae",
    "13_grey_pixels",
    "14_learned_priors",
    "15_ablation",
    "A1_training_speed",
]
# TensorFlow's C++ log lines (glog/absl style) and its usual start-up chatter.
TF_LOG_LINE = re.compile(
    r"^[IWEF]\d{4} \d\d:\d\d:\d\d|oneDNN custom operations|cuda|TF_ENABLE_ONEDNN_OPTS|"
    r"To enable the following instructions|absl::InitializeLog",
    re.M,
)
COLAB = '"google.colab" in sys.modules'
# Comments addressed to tools (linters, formatters, type checkers, coverage), not to
# readers.
TOOLING_COMMENT = re.compile(r"#\s*(noqa\b|(isort|fmt|ruff|type|pylint|pyright|mypy|pragma|nbqa)\s*:)", re.I)
# The kernel that executes the chapters for nbval and notebooks/run_all.sh.
BOOK_KERNEL = NOTEBOOKS / "jupyter" / "kernels" / "python3" / "kernel.json"


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


def install_cell(chapter: str) -> str:
    return code_cells(NOTEBOOKS / f"{chapter}.ipynb")[0]


def test_install_cell_is_the_same_in_every_chapter() -> None:
    cells = {chapter: install_cell(chapter) for chapter in CHAPTERS}
    assert all(COLAB in cell for cell in cells.values()), "the first code cell must be the Colab setup"
    first = cells[CHAPTERS[0]]
    differ = [chapter for chapter, cell in cells.items() if cell != first]
    assert not differ, f"the install cell of {differ} differs from the one of {CHAPTERS[0]}"
    for chapter in CHAPTERS:
        cell = next(c for c in jupytext.read(NOTEBOOKS / f"{chapter}.ipynb").cells if c.cell_type == "code")
        assert cell.metadata.get("tags") == ["hide-cell"], f"{chapter}: the install cell must be hidden"


@pytest.mark.parametrize(
    ("tf_version", "pin"),
    [("2.19.0", "tf-keras~=2.19.0"), ("2.21.3", "tf-keras~=2.21.0")],
)
def test_install_cell_keeps_the_installed_tensorflow(
    tf_version: str, pin: str, config: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Run the cell as Colab does, pip replaced: it pins tf-keras to TF's minor version.

    Left free, pip picks the newest tf-keras, which requires the newest TensorFlow, and
    upgrades Colab's TensorFlow to suit it. The cell reads TensorFlow's version from its
    package metadata: importing TensorFlow before pip runs could load a version pip
    then replaces.
    """
    cell = install_cell(CHAPTERS[0])
    assert not re.search(r"^\s*(import|from)\s+(tensorflow|keras|tf_keras)\b", cell, re.M)
    assert 'version("tensorflow")' in cell and "tf-keras~=" in cell
    calls = []
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    monkeypatch.setattr(importlib.metadata, "version", {"tensorflow": tf_version}.__getitem__)
    monkeypatch.setattr(subprocess, "run", lambda args, **kwargs: calls.append(args))
    exec(cell, {})
    [args] = calls
    assert args[:4] == [sys.executable, "-m", "pip", "install"]
    url, branch = config["repository"]["url"], config["repository"]["branch"]
    assert f"git+{url}@{branch}" in args and pin in args
    for arg in args[4:]:
        # Colab's TensorFlow stays: pip installs only the requirements that are missing.
        flags = (
            "tensorflow",
            "--upgrade",
            "-U",
            "--force-reinstall",
            "--no-deps",
            "--ignore-installed",
        )
        assert not arg.startswith(flags), f"the install cell must not pass {arg}"


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_chapter_installs_only_the_configured_repository(chapter: str, config: dict) -> None:
    url, branch = config["repository"]["url"], config["repository"]["branch"]
    other_urls = set(re.findall(r"git\+\S+?(?=[\"'])", "\n".join(code_cells(NOTEBOOKS / f"{chapter}.ipynb"))))
    assert other_urls == {f"git+{url}@{branch}"}


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_code_cells_carry_no_tooling_comments(chapter: str) -> None:
    """Readers see plain Python: no `# isort: split`, `# noqa`, `# fmt: off` and so on.

    In particular nothing may depend on import order: TensorFlow's start-up lines are
    kept out of the outputs by the kernel that runs the chapters (BOOK_KERNEL), not by
    importing
    vae_lib first.
    """
    source = "\n".join(code_cells(NOTEBOOKS / f"{chapter}.py"))
    assert re.search(r"^(import|from) vae_lib\b", source, re.M), "the chapter must import vae_lib"
    found = [line.strip() for line in source.splitlines() if TOOLING_COMMENT.search(line)]
    assert not found, f"tooling comments in {chapter}: {found}"


def test_chapters_run_in_a_kernel_that_keeps_low_level_output_out_of_the_notebooks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """TensorFlow's C++ start-up lines go to the terminal, not the outputs, any order.

    TensorFlow writes them to file descriptor 2 before it reads TF_CPP_MIN_LOG_LEVEL, so
    no log level hides them; the book's kernel does not forward that descriptor to the
    notebook.
    """
    from jupyter_client.kernelspec import KernelSpecManager

    monkeypatch.setenv("JUPYTER_PATH", str(BOOK_KERNEL.parents[2]))
    spec = KernelSpecManager().get_kernel_spec("python3")
    assert Path(spec.resource_dir) == BOOK_KERNEL.parent
    assert "--IPKernelApp.capture_fd_output=False" in spec.argv
    nbval = "JUPYTER_PATH=$(CURDIR)/notebooks/jupyter VAE_QUICK=1 pytest --nbval notebooks/"
    assert nbval in (ROOT / "Makefile").read_text()
    assert 'export JUPYTER_PATH="$here/jupyter' in (NOTEBOOKS / "run_all.sh").read_text()


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
        blob = f"{org_repo}/blob/{repo['branch']}/{path_in_repo}"
        colab = f"{launch['colab_url'].rstrip('/')}/github/{blob}"
        assert (
            colab
            == f"https://colab.research.google.com/github/vae-book/cvae-mnist-tf/blob/main/{path_in_repo}"
        )


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_committed_outputs_are_clean_and_complete(chapter: str) -> None:
    notebook = json.loads((NOTEBOOKS / f"{chapter}.ipynb").read_text())
    code = [c for c in notebook["cells"] if c["cell_type"] == "code"]
    run = [c for c in code if COLAB not in "".join(c["source"])]  # Colab cells do nothing elsewhere
    assert all(c["execution_count"] is not None for c in run), "every cell must have been run"
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


@pytest.mark.parametrize(
    ("chapter", "runs"),
    [
        ("07_results", ["latent50"]),
        (
            "08_papers",
            [
                "tutorial-dynamic",
                "latent50-dynamic",
                "latent50-dynamic-160",
                "wide-lr2e-3",
            ],
        ),
    ],
)
def test_results_chapters_load_committed_runs_and_train_nothing(chapter: str, runs: list[str]) -> None:
    """Chapters 7 and 8 read results/NAME through committed_run (which downloads it in
    Colab).
    """
    source = "\n".join(code_cells(NOTEBOOKS / f"{chapter}.ipynb"))
    assert not re.search(r"\btrain\(", source), f"{chapter} must load its models, not train them"
    for name in runs:
        assert f'"{name}"' in source and "committed_run" in source
