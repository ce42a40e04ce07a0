"""Check the built book as a reader sees it: every figure loads, every formula renders.

    python book/check_pages.py [--html book/_build/html] [--out book/_build/screenshots]

Serves the built HTML on 127.0.0.1, opens each page of book/_toc.yml in headless
Chromium (Debian's ``chromium``), waits until MathJax has typeset the page, and checks:

* figures: every ``<img>`` of the page loaded with a non-zero natural size, and a chapter
  shows as many figures as its notebook has image outputs;
* math: MathJax ran, every math element of the page holds rendered MathJax output
  (``mjx-container``), none is a TeX error (``mjx-merror``), and no displayed formula is
  wider than the text column (in a 1280-pixel-wide window);
* a chapter's Colab button opens ``notebooks/NN_name.ipynb`` in the repository.

Chromium is driven over the DevTools protocol on a pipe (``--remote-debugging-pipe``),
so nothing beyond the standard library is needed. Prints one line per check, ends with
``N passed, N failed`` and exits non-zero on any failure. Full-page screenshots go to
``--out``.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import fcntl
import functools
import http.server
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

BOOK = Path(__file__).resolve().parent
ROOT = BOOK.parent
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--remote-debugging-pipe",
]
WIDTH, HEIGHT = 1280, 900
REQUIRED_REFERENCES = (
    "Auto-Encoding Variational Bayes",
    "Stochastic Backpropagation and Approximate Inference in Deep Generative Models",
    "Importance Weighted Autoencoders",
)

# Runs in the page: wait for MathJax and the images, then report what a reader would see.
INSPECT_PAGE = """
(async () => {
  const images = [...document.images];
  images.forEach((img) => { img.loading = "eager"; });
  await Promise.all(images.map((img) => img.complete ? null :
      new Promise((done) => { img.addEventListener("load", done); img.addEventListener("error", done); })));
  const hasMathJax = Boolean(window.MathJax && MathJax.startup && MathJax.startup.promise);
  if (hasMathJax) { await MathJax.startup.promise; }
  const article = document.querySelector("article") || document.body;
  const math = [...article.querySelectorAll(".math")];
  return JSON.stringify({
    mathjax: hasMathJax,
    mathjaxVersion: hasMathJax ? MathJax.version : null,
    images: images.map((img) => ({src: img.getAttribute("src"), width: img.naturalWidth,
                                  height: img.naturalHeight, inArticle: article.contains(img)})),
    mathElements: math.length,
    mathRendered: math.filter((el) => el.querySelector("mjx-container")).length,
    mathErrors: article.querySelectorAll("mjx-merror").length,
    containers: article.querySelectorAll("mjx-container").length,
    tooWide: [...article.querySelectorAll("mjx-container[display='true']")]
      .filter((c) => c.firstElementChild &&
              c.firstElementChild.getBoundingClientRect().width > c.getBoundingClientRect().width + 1)
      .map((c) => c.closest(".math") ? c.closest(".math").textContent.slice(0, 80) : "?"),
    colab: [...document.querySelectorAll("a[href*='colab.research.google.com']")].map((a) => a.href),
    citations: [...article.querySelectorAll("div.citation")].map((el) => el.innerText),
    height: Math.ceil(document.documentElement.scrollHeight),
  });
})()
"""


class ChromiumError(RuntimeError):
    pass


class Chromium:
    """A headless Chromium driven over the DevTools protocol on fds 3 (in) and 4 (out)."""

    def __init__(self, binary: str) -> None:
        self.profile = tempfile.mkdtemp(prefix="check-pages-chromium-")
        to_chrome_r, self._to_chrome = os.pipe()
        self._from_chrome, from_chrome_w = os.pipe()

        def wire_fds() -> None:  # in the child: its fd 3 reads our commands, fd 4 writes replies
            high_r = fcntl.fcntl(to_chrome_r, fcntl.F_DUPFD, 10)  # out of the way of 3 and 4 first
            high_w = fcntl.fcntl(from_chrome_w, fcntl.F_DUPFD, 10)
            os.dup2(high_r, 3)  # os.dup2 makes 3 and 4 inheritable; the rest close on exec
            os.dup2(high_w, 4)

        self.process = subprocess.Popen(
            [binary, *CHROMIUM_FLAGS, f"--user-data-dir={self.profile}", f"--window-size={WIDTH},{HEIGHT}"],
            close_fds=False,  # closing happens after preexec_fn and would close fds 3 and 4
            preexec_fn=wire_fds,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self._buffer = b""
        self._next_id = 0
        self._events: list[dict[str, Any]] = []

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self._to_chrome)
        try:
            self.process.wait(timeout=10)  # Chromium exits when its pipe closes
        except subprocess.TimeoutExpired:
            self.process.terminate()
            self.process.wait(timeout=10)
        os.close(self._from_chrome)
        shutil.rmtree(self.profile, ignore_errors=True)

    def _read_message(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            if time.monotonic() > deadline:
                raise ChromiumError("timed out waiting for Chromium")
            chunk = os.read(self._from_chrome, 1 << 20)
            if not chunk:
                raise ChromiumError("Chromium closed its pipe (did it start?)")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def send(self, method: str, params: dict | None = None, session: str | None = None,
             timeout: float = 60.0) -> dict[str, Any]:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._to_chrome, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            reply = self._read_message(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise ChromiumError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self._events.append(reply)

    def wait_for_event(self, method: str, session: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            for event in self._events:
                if event.get("method") == method and event.get("sessionId") == session:
                    self._events.remove(event)
                    return
            self._events.append(self._read_message(deadline))

    def open_page(self, url: str) -> tuple[str, str]:
        """Load ``url`` in a new tab; return the tab's target id and DevTools session id."""
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        self.send("Page.enable", session=session)
        self.send("Emulation.setDeviceMetricsOverride",
                  {"width": WIDTH, "height": HEIGHT, "deviceScaleFactor": 1, "mobile": False}, session)
        self._events.clear()
        self.send("Page.navigate", {"url": url}, session)
        self.wait_for_event("Page.loadEventFired", session)
        return target, session

    def evaluate(self, session: str, expression: str) -> Any:
        result = self.send("Runtime.evaluate",
                           {"expression": expression, "awaitPromise": True, "returnByValue": True}, session)
        if "exceptionDetails" in result:
            raise ChromiumError(f"script failed: {result['exceptionDetails'].get('text')}")
        return result["result"]["value"]

    def screenshot(self, session: str, height: int, path: Path) -> None:
        self.send("Emulation.setDeviceMetricsOverride",
                  {"width": WIDTH, "height": max(height, HEIGHT), "deviceScaleFactor": 1, "mobile": False},
                  session)
        time.sleep(0.3)  # let the layout settle at the new size
        shot = self.send("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True}, session)
        path.write_bytes(base64.b64decode(shot["data"]))


@dataclass
class Report:
    passed: int = 0
    failed: int = 0
    failures: list[str] = field(default_factory=list)

    def check(self, ok: bool, page: str, what: str) -> None:
        print(f"{'PASS' if ok else 'FAIL'}  {page}: {what}", flush=True)
        if ok:
            self.passed += 1
        else:
            self.failed += 1
            self.failures.append(f"{page}: {what}")


@contextlib.contextmanager
def serve(directory: Path) -> Iterator[str]:
    """Serve ``directory`` on a free loopback port for the duration of the block."""
    handler = functools.partial(QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def toc_pages() -> list[str]:
    toc = yaml.safe_load((BOOK / "_toc.yml").read_text())
    pages = [toc["root"]]
    for part in toc.get("parts", []):
        pages += [chapter["file"] for chapter in part["chapters"]]
    return pages


def notebook_figures(page: str) -> int | None:
    """Number of image outputs of a chapter's notebook (None for a page that is not a notebook)."""
    path = BOOK / f"{page}.ipynb"
    if not path.exists():
        return None
    notebook = json.loads(path.read_text())
    return sum(
        any(mime.startswith("image/") for mime in output.get("data", {}))
        for cell in notebook["cells"]
        for output in cell.get("outputs", [])
    )


def colab_url(page: str) -> str:
    config = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]
    org_repo = config["url"].removeprefix("https://github.com/")
    return f"https://colab.research.google.com/github/{org_repo}/blob/{config['branch']}/{page}.ipynb"


def check_page(browser: Chromium, base_url: str, page: str, out: Path, report: Report) -> None:
    name = page.replace("/", "_")
    target, session = browser.open_page(f"{base_url}/{page}.html")
    seen = json.loads(browser.evaluate(session, INSPECT_PAGE))
    browser.screenshot(session, seen["height"], out / f"{name}.png")

    broken = [img["src"] for img in seen["images"] if img["width"] == 0 or img["height"] == 0]
    images = f"all {len(seen['images'])} images loaded" if not broken else f"broken images: {broken}"
    report.check(not broken, page, images)
    expected = notebook_figures(page)
    if expected is not None:
        shown = sum(img["inArticle"] and img["width"] > 0 for img in seen["images"])
        report.check(shown >= expected > 0, page, f"{shown} figures shown, notebook has {expected}")
    if seen["mathElements"] or page != "references":
        report.check(seen["mathjax"], page, f"MathJax loaded (version {seen['mathjaxVersion']})")
        report.check(
            0 < seen["mathElements"] == seen["mathRendered"] and not seen["mathErrors"],
            page,
            f"{seen['mathRendered']} of {seen['mathElements']} formulas rendered by MathJax "
            f"({seen['containers']} mjx-container elements, {seen['mathErrors']} TeX errors)",
        )
        report.check(not seen["tooWide"], page, f"no display formula wider than the text column at {WIDTH} px"
                     + (f"; too wide: {seen['tooWide']}" if seen["tooWide"] else ""))
    if page == "references":
        cited = "\n".join(seen["citations"]).lower()  # the bibliography style lower-cases titles
        missing = [title for title in REQUIRED_REFERENCES if title.lower() not in cited]
        report.check(not missing, page, f"{len(seen['citations'])} references listed" +
                     (f"; missing: {missing}" if missing else ", including the three VAE papers"))
    if page.startswith("notebooks/"):
        report.check(colab_url(page) in seen["colab"], page, f"Colab button opens {colab_url(page)}")
    browser.send("Target.closeTarget", {"targetId": target})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--html", type=Path, default=BOOK / "_build" / "html", help="the built book")
    parser.add_argument("--out", type=Path, default=BOOK / "_build" / "screenshots", help="screenshot folder")
    parser.add_argument("--chromium", default=os.environ.get("CHROMIUM"), help="browser (default: chromium)")
    args = parser.parse_args(argv)

    binary = args.chromium or next(
        (b for b in ("chromium", "chromium-browser", "google-chrome") if shutil.which(b)), None
    )
    if binary is None:
        print("no Chromium found: apt-get install chromium (or set CHROMIUM)", file=sys.stderr)
        print("0 passed, 1 failed")
        return 1
    if not (args.html / "index.html").exists():
        print(f"{args.html} holds no built book: run `jupyter-book build book/` first", file=sys.stderr)
        print("0 passed, 1 failed")
        return 1
    args.out.mkdir(parents=True, exist_ok=True)

    report = Report()
    browser = Chromium(binary)
    try:
        with serve(args.html) as base_url:
            for page in toc_pages():
                try:
                    check_page(browser, base_url, page, args.out, report)
                except ChromiumError as err:
                    report.check(False, page, f"could not be inspected: {err}")
    finally:
        browser.close()
    print(f"screenshots in {args.out}")
    print(f"{report.passed} passed, {report.failed} failed")
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())
