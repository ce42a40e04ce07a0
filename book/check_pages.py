"""Check the built book as a reader sees it: every figure loads, every formula renders.

    python book/check_pages.py [--html book/_build/html] [--out book/_build/screenshots] [--chromium PATH]

Playwright opens each page of book/_toc.yml in headless Chromium (/usr/bin/chromium), answering
from the built HTML and refusing any other request (the book must work offline), and checks:

* figures: every ``<img>`` loaded with a non-zero size; a chapter shows as many as its notebook has;
* math: MathJax ran and rendered every math element (an ``mjx-container``, no TeX left over, no
  ``mjx-merror``), and no displayed formula is wider than the text column in a 1280-pixel window;
* links: the references list the three VAE papers; a chapter's Colab and Binder buttons open its
  notebook in the repository and branch named in _config.yml.

Prints one line per check and ``N passed, N failed``, exits non-zero on any failure, and saves
full-page screenshots to ``--out``.
"""

import argparse
import json
import os
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
REQUIRED_REFERENCES = (
    "Auto-Encoding Variational Bayes",
    "Stochastic Backpropagation and Approximate Inference in Deep Generative Models",
    "Importance Weighted Autoencoders",
)

# Runs in the page: wait for the images and MathJax, then report what a reader would see.
INSPECT_PAGE = """async () => {
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
      [...el.childNodes].every((n) => n.nodeName === "MJX-CONTAINER" || !n.textContent.trim())).length,
    mathErrors: article.querySelectorAll("mjx-merror").length,
    containers: article.querySelectorAll("mjx-container").length,
    tooWide: [...article.querySelectorAll("mjx-container[display='true']")]
      .filter((c) => c.firstElementChild?.getBoundingClientRect().width > c.getBoundingClientRect().width + 1)
      .map((c) => (c.closest(".math") || c).textContent.trim().slice(0, 80)),
    links: [...document.querySelectorAll("a[href]")].map((a) => a.href),
    citations: [...article.querySelectorAll("div.citation")].map((el) => el.innerText),
  };
}"""


def notebook_figures(page: str) -> int | None:
    """Number of image outputs of a chapter's notebook (None for a page that is not a notebook)."""
    path = BOOK / f"{page}.ipynb"
    if not path.exists():
        return None
    outputs = [out for cell in json.loads(path.read_text())["cells"] for out in cell.get("outputs", [])]
    return sum(any(mime.startswith("image/") for mime in out.get("data", {})) for out in outputs)


def launch_urls(page: str) -> list[str]:
    """Where a chapter's Colab and Binder buttons must open its notebook, from _config.yml."""
    config = yaml.safe_load((BOOK / "_config.yml").read_text())
    repo, buttons = config["repository"], config["launch_buttons"]
    github, branch = repo["url"].removeprefix("https://github.com/"), repo["branch"]
    colab = f"{buttons['colab_url']}/github/{github}/blob/{branch}/{page}.ipynb"
    return [colab, f"{buttons['binderhub_url']}/v2/gh/{github}/{branch}?urlpath=tree/{page}.ipynb"]


def inspect(browser_page: Page, page: str, out: Path) -> Iterator[tuple[bool, str]]:
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
    if seen["mathElements"] or page != "references":
        yield bool(version), f"MathJax {version} loaded" if version else "MathJax did not load"
        done, total, errors = seen["mathRendered"], seen["mathElements"], seen["mathErrors"]
        counts = f"{seen['containers']} mjx-container elements, {errors} TeX errors"
        yield 0 < total == done and not errors, f"{done} of {total} formulas rendered by MathJax ({counts})"
        yield not wide, f"display formulas wider than the text column at {WIDTH} px: {wide or 'none'}"
    if page == "references":
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
                    for ok, what in inspect(browser_page, page, args.out):
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
