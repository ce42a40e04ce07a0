"""The page check fails on a broken page, check by check, and passes the same page mended.

Each of its column, caption, reference, intro and table checks is run in Chromium on a small
built "book" that this test writes, once with the fault and once without it.
"""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytest

BOOK = Path(__file__).resolve().parent.parent / "book"
CHROMIUM = "/usr/bin/chromium"
pytestmark = pytest.mark.skipif(not shutil.which(CHROMIUM), reason="needs Debian's chromium")

spec = importlib.util.spec_from_file_location("check_pages", BOOK / "check_pages.py")
check_pages = importlib.util.module_from_spec(spec)
spec.loader.exec_module(check_pages)

BROKEN = """<article>
<p>As figure ?? shows, and as {numref}`fig-missing` would, and chapter 3.</p>
<pre>WIDE</pre>
<img src="dot.png">
<div class="cell_output"><pre>model    ELBO    KL
tutorial  -156.9  5.1
wide     -90.0   28.5</pre></div>
<a href="nowhere.html">a page that is not built</a>
</article>"""

MENDED = """<article>
<p>As figure 1 shows, and <a href="notebooks/03_reparameterization.html">chapter 3</a>.</p>
<pre>short enough</pre>
<figure><img src="dot.png"><figcaption><span class="caption-number">Fig. 1 </span>A dot.</figcaption></figure>
<table><tr><td>model</td><td>ELBO</td><td>KL</td></tr></table>
LINKS
</article>"""

# The first words of each check's line, and whether the broken page must fail it.
CHECKS = (
    "code and output blocks wider than the column",
    "figures without a numbered caption",
    "unresolved references",
    "links to the",
    "tables printed as text",
    "links checked, leading nowhere",
)


def results_for(article: str, tmp_path: Path) -> dict[str, bool]:
    """The page check's verdicts on a book whose intro is ``article``, by check."""
    from playwright.sync_api import sync_playwright

    html = tmp_path / "html"
    (html / "notebooks").mkdir(parents=True, exist_ok=True)
    chapters = [p for p in check_pages.PAGES[1:] if p != check_pages.BIBLIOGRAPHY]
    for chapter in chapters:
        (html / f"{chapter}.html").write_text("<article><p>a chapter</p></article>")
    plt.imsave(html / "dot.png", np.zeros((4, 4)))
    links = "".join(f'<a href="{chapter}.html">{chapter}</a>' for chapter in chapters)
    page = article.replace("WIDE", "x" * 400).replace("LINKS", links)
    (html / "intro.html").write_text(f"<html><body>{page}</body></html>")
    with sync_playwright() as playwright:
        flags = check_pages.CHROMIUM_FLAGS.split()
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=flags)
        tab = browser.new_page(viewport={"width": check_pages.WIDTH, "height": check_pages.HEIGHT})
        tab.route("**/*", lambda route: check_pages.serve(html, route))
        lines = list(check_pages.inspect(tab, "intro", html, tmp_path))
        browser.close()
    verdicts = {check: ok for check in CHECKS for ok, line in lines if check in line}
    verdicts["chapter mentions"] = not any("not a link" in line for _, line in lines)
    return verdicts


def test_each_check_fails_on_the_broken_page_and_passes_the_mended_one(tmp_path: Path) -> None:
    broken = results_for(BROKEN, tmp_path / "broken")
    mended = results_for(MENDED, tmp_path / "mended")
    checks = (*CHECKS, "chapter mentions")
    assert broken == dict.fromkeys(checks, False)
    assert mended == dict.fromkeys(checks, True)
