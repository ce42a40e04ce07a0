"""Check the built book as a reader sees it: every figure loads, every formula renders.

    python book/check_pages.py [--html book/_build/html] [--out book/_build/screenshots] [--chromium PATH]

Playwright opens each page of book/_toc.yml in headless Chromium (/usr/bin/chromium), answering
from the built HTML and refusing any other request (the book must work offline), and checks:

* figures: every ``<img>`` loaded with a non-zero size; a chapter shows as many as its notebook has;
* math: MathJax ran and rendered every math element (an ``mjx-container``, no TeX left over, no
  ``mjx-merror``), and no displayed formula is wider than the text column in a 1280-pixel window;
* links: the references list the three VAE papers; a chapter's Colab and Binder buttons open its
  notebook in the repository and branch named in _config.yml; the intro links to every page of
  _toc.yml; every link in an article leads to a page and anchor of the built book;
* the column: no code or output block (a ``pre`` in the article, collapsed cells opened) is wider
  than its box at 1280 px, so nothing is cut off;
* figures: every image of an article sits in a numbered, captioned figure (a code cell with
  ``mystnb: {figure: {caption: ..., name: ...}}`` in its metadata);
* references: no cross-reference left unresolved (Sphinx's unlinked ``xref`` markup, a role
  such as ``{numref}`` or ``{glue:text}`` left as text, LaTeX's ``??``), and every
  ``{glue:text}`` of a chapter's Markdown rendered a value (a glue that fails renders nothing),
  and every mention of a chapter in the prose ("chapter 5") is a link to it;
* tables: no output prints a table as aligned text where a rendered table belongs.

Prints one line per check and ``N passed, N failed``, exits non-zero on any failure, and saves
full-page screenshots to ``--out``.
"""

import argparse
import json
import os
import re
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import yaml
from playwright.sync_api import Error, Page, Route, sync_playwright

BOOK = Path(__file__).resolve().parent
ORIGIN = "http://book.invalid"  # never looked up: serve() answers every request from disk
# No sandbox (CI runs as root) and nothing that phones home (the network is closed).
CHROMIUM_FLAGS = (
    "--no-sandbox --disable-gpu --disable-background-networking --disable-component-update --disable-sync "
    "--no-first-run --hide-scrollbars"
)
WIDTH, HEIGHT = 1280, 900
TOC = yaml.safe_load((BOOK / "_toc.yml").read_text())
PAGES = [TOC["root"], *(chapter["file"] for part in TOC.get("parts", []) for chapter in part["chapters"])]
BIBLIOGRAPHY = "references"  # the back matter page the intro need not announce
# A role that reached the page as text: MyST did not know it, or it sat where nothing parses roles.
UNRENDERED_ROLE = re.compile(r"\{(?:glue(?::\w*)?|ref|eq|numref|doc|cite(?::\w+)?|term|download)\}`|\?\?")
GLUE_TEXT = re.compile(r"\{glue:text\}`[^`]+`")
REQUIRED_REFERENCES = (
    "Auto-Encoding Variational Bayes",
    "Stochastic Backpropagation and Approximate Inference in Deep Generative Models",
    "Importance Weighted Autoencoders",
)

# Runs in the page: wait for the images and MathJax, then report what a reader would see.
INSPECT_PAGE = """async () => {
  const firstLine = (el) => el?.textContent.split("\\n").find((l) => l.trim())?.trim().slice(0, 70) || "";
  // Each pre of the article, collapsed cells (details) opened while measuring: wider than its box?
  const measureBlocks = (article) => {
    const closed = [...article.querySelectorAll("details:not([open])")];
    closed.forEach((d) => { d.open = true; });
    const blocks = [...article.querySelectorAll("pre")].map((pre) => {
      const probe = document.createElement("span");
      probe.textContent = "x".repeat(100);
      pre.appendChild(probe);
      const charWidth = probe.getBoundingClientRect().width / 100;
      probe.remove();
      const style = getComputedStyle(pre);
      const inner = pre.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
      return {wide: pre.scrollWidth > pre.clientWidth, first: firstLine(pre),
              longest: Math.max(...pre.textContent.split("\\n").map((line) => line.length)),
              fits: Math.floor(inner / charWidth), output: Boolean(pre.closest(".cell_output"))};
    });
    closed.forEach((d) => { d.open = false; });
    return blocks;
  };
  // The article's prose: its text without code, listings and formulas (whose TeX may hold "??").
  const proseText = (article) => {
    const copy = article.cloneNode(true);
    copy.querySelectorAll("pre, code, .math, mjx-container, script, style").forEach((el) => el.remove());
    return copy.textContent;
  };

  const images = [...document.images];
  await Promise.all(images.map((img) => { img.loading = "eager"; return img.decode().catch(() => null); }));
  await window.MathJax?.startup?.promise;
  const article = document.querySelector("article") || document.body;
  const math = [...article.querySelectorAll(".math")];
  return {
    mathjaxVersion: window.MathJax?.startup?.promise ? MathJax.version : null,
    images: images.map((img) => ({src: img.getAttribute("src"), width: img.naturalWidth,
                                  height: img.naturalHeight, inArticle: article.contains(img)})),
    mathElements: math.length,
    mathRendered: math.filter((el) => el.querySelector("mjx-container") &&  // and no TeX left over
      [...el.childNodes].every((n) => n.nodeName === "MJX-CONTAINER" || n.classList?.contains("eqno") ||
                                      !n.textContent.trim())).length,
    mathErrors: article.querySelectorAll("mjx-merror").length,
    containers: article.querySelectorAll("mjx-container").length,
    tooWide: [...article.querySelectorAll("mjx-container[display='true']")]
      .filter((c) => c.firstElementChild?.getBoundingClientRect().width > c.getBoundingClientRect().width + 1)
      .map((c) => (c.closest(".math") || c).textContent.trim().slice(0, 80)),
    links: [...document.querySelectorAll("a[href]")].map((a) => a.href),
    articleLinks: [...article.querySelectorAll("a[href]")].map((a) => a.href),
    citations: [...article.querySelectorAll("div.citation")].map((el) => el.innerText),
    blocks: measureBlocks(article),
    figures: [...article.querySelectorAll("img")].map((img) => ({
      captioned: Boolean(img.closest("figure")?.querySelector("figcaption .caption-number")),
      where: firstLine(img.closest(".cell")?.querySelector(".cell_input pre")) || img.getAttribute("src"),
    })),
    unlinkedXrefs: [...article.querySelectorAll(".xref")].filter((el) => !el.closest("a"))
      .map((el) => el.textContent.trim()),
    prose: proseText(article),
    unlinkedChapters: (() => {  // "chapter 5" in the prose, outside any link
      const copy = article.cloneNode(true);
      copy.querySelectorAll("pre, code, a, .math, mjx-container, script, style").forEach((el) => el.remove());
      return copy.textContent.match(/\\b[Cc]hapters? \\d+/g) || [];
    })(),
    pastedText: article.querySelectorAll("span.pasted-text").length,
    textOutputs: [...article.querySelectorAll(".cell_output pre")].map((pre) => pre.textContent),
  };
}"""


def notebook_figures(page: str) -> int | None:
    """Number of image outputs of a chapter's notebook (None for a page that is not a notebook)."""
    path = BOOK / f"{page}.ipynb"
    if not path.exists():
        return None
    outputs = [out for cell in json.loads(path.read_text())["cells"] for out in cell.get("outputs", [])]
    return sum(any(mime.startswith("image/") for mime in out.get("data", {})) for out in outputs)


def glue_text_roles(page: str) -> int | None:
    """Number of ``{glue:text}`` roles in a chapter's Markdown cells (None for a page that is no notebook)."""
    path = BOOK / f"{page}.ipynb"
    if not path.exists():
        return None
    cells = [cell for cell in json.loads(path.read_text())["cells"] if cell["cell_type"] == "markdown"]
    return sum(len(GLUE_TEXT.findall("".join(cell["source"]))) for cell in cells)


def text_table(text: str) -> str | None:
    """The first line of a table printed as text (three or more aligned rows of three or more
    columns, split by runs of spaces or bars, or rows under a ruled line), else None."""
    rows: list[str] = []
    for line in text.splitlines():
        fields = [f for f in re.split(r"\s{2,}|\s*[|│┃]\s*", line.strip()) if f]
        ruled = len(re.findall(r"[-=─━]", line)) >= 10
        if len(fields) >= 3 or (ruled and rows):
            rows.append(line)
            if len(rows) >= 3:
                return rows[0].strip()[:70]
        else:
            rows = []
    return None


def broken_links(html: Path, links: list[str]) -> list[str]:
    """The links of ``links`` into the book that lead to no built page, or to no anchor of it."""
    broken, anchors = [], {}
    for link in dict.fromkeys(links):
        url = urlsplit(link)
        if f"{url.scheme}://{url.netloc}" != ORIGIN:
            continue
        file = html / unquote(url.path).lstrip("/")
        if not file.is_file():
            broken.append(f"{url.path} (no such page)")
        elif url.fragment and file.suffix == ".html":
            if file not in anchors:
                anchors[file] = set(re.findall(r"""\sid=["']([^"']+)""", file.read_text(errors="replace")))
            if unquote(url.fragment) not in anchors[file]:
                broken.append(f"{url.path}#{url.fragment} (no such anchor)")
    return broken


def launch_urls(page: str) -> list[str]:
    """Where a chapter's Colab and Binder buttons must open its notebook, from _config.yml."""
    config = yaml.safe_load((BOOK / "_config.yml").read_text())
    repo, buttons = config["repository"], config["launch_buttons"]
    github, branch = repo["url"].removeprefix("https://github.com/"), repo["branch"]
    colab = f"{buttons['colab_url']}/github/{github}/blob/{branch}/{page}.ipynb"
    return [colab, f"{buttons['binderhub_url']}/v2/gh/{github}/{branch}?urlpath=tree/{page}.ipynb"]


def inspect(browser_page: Page, page: str, html: Path, out: Path) -> Iterator[tuple[bool, str]]:
    """Open one page, save its screenshot and yield (passed, what was checked) for each check."""
    if not (response := browser_page.goto(f"{ORIGIN}/{page}.html")) or not response.ok:
        yield False, f"{page}.html is not in the built book"
        return
    seen: dict[str, Any] = browser_page.evaluate(INSPECT_PAGE)
    browser_page.screenshot(path=out / f"{page.replace('/', '_')}.png", full_page=True)
    images, version, wide = seen["images"], seen["mathjaxVersion"], seen["tooWide"]
    broken = [img["src"] for img in images if not (img["width"] and img["height"])]
    yield not broken, f"broken images: {broken}" if broken else f"all {len(images)} images loaded"
    if (expected := notebook_figures(page)) is not None:
        shown = sum(img["inArticle"] and img["width"] > 0 for img in images)
        yield shown >= expected > 0, f"{shown} figures shown, notebook has {expected}"
    if seen["mathElements"] or page != BIBLIOGRAPHY:
        yield bool(version), f"MathJax {version} loaded" if version else "MathJax did not load"
        done, total, errors = seen["mathRendered"], seen["mathElements"], seen["mathErrors"]
        counts = f"{seen['containers']} mjx-container elements, {errors} TeX errors"
        yield total == done and not errors, f"{done} of {total} formulas rendered by MathJax ({counts})"
        yield not wide, f"display formulas wider than the text column at {WIDTH} px: {wide or 'none'}"
    blocks = seen["blocks"]
    cut = [f"{b['first']!r} ({b['longest']} > {b['fits']} characters)" for b in blocks if b["wide"]]
    fits = sorted({(b["output"], b["fits"]) for b in blocks if b["fits"] > 0})
    column = ", ".join(f"{n} in {'an output' if output else 'code'}" for output, n in fits) or "no blocks"
    listed = f": {'; '.join(cut)}" if cut else ""
    yield (
        not cut,
        f"{len(cut)} of {len(blocks)} code and output blocks wider than the column ({column}){listed}",
    )
    bare = [figure["where"] for figure in seen["figures"] if not figure["captioned"]]
    listed = f", below: {'; '.join(map(repr, bare))}" if bare else ""
    yield not bare, f"{len(bare)} of {len(seen['figures'])} figures without a numbered caption{listed}"
    if page == PAGES[0]:
        linked = {link.split("#")[0] for link in seen["articleLinks"]}
        chapters = [p for p in PAGES[1:] if p != BIBLIOGRAPHY]
        missing = [p for p in chapters if f"{ORIGIN}/{p}.html" not in linked] or "none"
        yield missing == "none", f"links to the {len(chapters)} chapters of _toc.yml, missing: {missing}"
    broken = broken_links(html, seen["articleLinks"])
    yield not broken, f"{len(set(seen['articleLinks']))} links checked, leading nowhere: {broken or 'none'}"
    unresolved = [f"unlinked reference {x!r}" for x in seen["unlinkedXrefs"]]
    unresolved += [f"{role!r} left as text" for role in UNRENDERED_ROLE.findall(seen["prose"])]
    unresolved += [f"{mention!r} not a link" for mention in seen["unlinkedChapters"]]
    yield not unresolved, f"unresolved references: {'; '.join(unresolved) or 'none'}"
    if expected := glue_text_roles(page):
        shown = seen["pastedText"]
        yield shown == expected, f"{shown} of {expected} glued values ({{glue:text}}) rendered"
    tables = [first for text in seen["textOutputs"] if (first := text_table(text))]
    yield not tables, f"{len(tables)} tables printed as text: {'; '.join(map(repr, tables)) or 'none'}"
    if page == BIBLIOGRAPHY:
        cited = "\n".join(seen["citations"]).lower()  # the bibliography style lower-cases titles
        missing = [title for title in REQUIRED_REFERENCES if title.lower() not in cited]
        yield not missing, f"{len(seen['citations'])} references listed, missing: {missing or 'none'}"
    if page.startswith("notebooks/"):
        missing = [url for url in launch_urls(page) if url not in seen["links"]]
        yield not missing, f"Colab and Binder buttons for {page}.ipynb, missing: {missing or 'none'}"


def serve(html: Path, route: Route) -> None:
    """Answer the browser's requests from the built book; refuse anything from outside it."""
    url = urlsplit(route.request.url)
    file = html / unquote(url.path).lstrip("/")
    if f"{url.scheme}://{url.netloc}" != ORIGIN:
        route.abort("blockedbyclient")
    elif file.is_file():
        route.fulfill(path=file)
    else:
        route.fulfill(status=404, body="not in the built book")


def report(results: list[tuple[bool, str]], ok: bool, line: str) -> None:
    print(f"{'PASS' if ok else 'FAIL'}  {line}", flush=True)
    results.append((ok, line))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--html", type=Path, default=BOOK / "_build" / "html", help="the built book")
    parser.add_argument("--out", type=Path, default=BOOK / "_build" / "screenshots", help="screenshot folder")
    parser.add_argument("--chromium", default=os.environ.get("CHROMIUM", "/usr/bin/chromium"), help="browser")
    args = parser.parse_args(argv)
    results: list[tuple[bool, str]] = []
    if not shutil.which(args.chromium):
        report(results, False, f"no Chromium at {args.chromium}: apt-get install chromium (or set CHROMIUM)")
    elif not (args.html / "index.html").exists():
        report(results, False, f"{args.html} holds no built book: run `jupyter-book build book/` first")
    else:
        args.out.mkdir(parents=True, exist_ok=True)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=args.chromium, args=CHROMIUM_FLAGS.split())
            browser_page = browser.new_page(viewport={"width": WIDTH, "height": HEIGHT})
            browser_page.set_default_timeout(60_000)
            browser_page.route("**/*", lambda route: serve(args.html, route))
            for page in PAGES:
                try:
                    for ok, what in inspect(browser_page, page, args.html, args.out):
                        report(results, ok, f"{page}: {what}")
                except Error as err:  # Playwright's: the page did not load, a script failed, a timeout
                    report(results, False, f"{page}: could not be inspected: {err.message.splitlines()[0]}")
        print(f"screenshots in {args.out}")
    failures = [line for ok, line in results if not ok]
    print(*(f"FAILED  {line}" for line in failures), sep="\n", end="\n" if failures else "")
    print(f"{len(results) - len(failures)} passed, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
