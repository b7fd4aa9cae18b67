"""Check report pages the way a reader sees them: in headless Chromium, every image loads, no Markdown shows raw.

``check_pages(folder)`` opens every ``.html`` page under ``folder`` in headless Chromium (``--dump-dom`` after
the load event, with a small script appended to a scratch copy of the page beside it, so relative links and
images resolve as in the original) and returns one ``PageCheck`` per page: the images that did not load
(``naturalWidth`` 0) and the raw Markdown seen in the rendered text (``![``, ``**``, ``](``, a ``|---|``
table rule). ``screenshot`` writes what a reader sees at a given width. No browser, no check: ``find_browser``
returns None and the callers say so (the test skips with that reason; ``.ci/run`` installs Chromium).

Command line: ``python -m harness.reporting.page_check FOLDER [--screenshots DIR]``; exit 1 if a page fails.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "chrome")
RAW_MARKDOWN = ("![", "**", "](", "|---")
_MARK = "flowlaws-page-check"
_SCRIPT = f"""
<script>
window.addEventListener('load', () => {{
  const broken = [...document.images].filter(i => !i.complete || i.naturalWidth === 0).map(i => i.getAttribute('src'));
  const text = document.body.innerText;
  const raw = {json.dumps(list(RAW_MARKDOWN))}.filter(m => text.includes(m));
  const widest = Math.max(0, ...[...document.querySelectorAll('table')].map(t => t.getBoundingClientRect().right));
  document.body.setAttribute('data-{_MARK}', JSON.stringify({{images: document.images.length, broken, raw, widest}}));
}});
</script>
"""
_RESULT = re.compile(rf"data-{_MARK}=\"([^\"]*)\"")


@dataclass(frozen=True)
class PageCheck:
    """One page as Chromium rendered it at ``width`` px: images, the broken ones, raw Markdown, widest table."""

    page: str
    images: int
    broken_images: tuple[str, ...]
    raw_markdown: tuple[str, ...]
    widest_table: float
    width: int

    @property
    def ok(self) -> bool:
        return not self.broken_images and not self.raw_markdown and self.widest_table <= self.width

    def describe(self) -> str:
        if self.ok:
            return f"{self.page}: ok ({self.images} images loaded)"
        problems = []
        if self.broken_images:
            problems.append(f"images that did not load: {', '.join(self.broken_images)}")
        if self.raw_markdown:
            problems.append(f"raw Markdown in the text: {', '.join(self.raw_markdown)}")
        if self.widest_table > self.width:
            problems.append(f"a table {self.widest_table:.0f} px wide on a {self.width} px page")
        return f"{self.page}: " + "; ".join(problems)


def find_browser() -> str | None:
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    return None


def _run_browser(browser: str, *arguments: str, timeout: float = 60) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory(prefix="flowlaws-chromium-") as profile:
        command = [
            browser,
            "--headless",
            "--no-sandbox",  # CI runs as root, where Chromium's sandbox refuses to start
            "--disable-gpu",
            "--hide-scrollbars",
            f"--user-data-dir={profile}",
            *arguments,
        ]
        return subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)


def check_page(page: str | Path, *, browser: str | None = None, width: int = 1400) -> PageCheck:
    """Render ``page`` in headless Chromium at ``width`` px and read back what the appended script saw."""
    browser = browser or find_browser()
    if browser is None:
        raise RuntimeError("no Chromium found (apt-get install chromium)")
    page = Path(page).absolute()
    scratch = page.with_name(f".{_MARK}-{os.getpid()}-{page.name}")
    scratch.write_text(page.read_text(encoding="utf-8").replace("</body>", _SCRIPT + "</body>"), encoding="utf-8")
    try:
        result = _run_browser(
            browser, f"--window-size={width},1000", "--virtual-time-budget=10000", "--dump-dom", scratch.as_uri()
        )
    finally:
        scratch.unlink(missing_ok=True)
    found = _RESULT.search(result.stdout)
    if found is None:
        raise RuntimeError(f"Chromium rendered nothing for {page} (exit {result.returncode}): {result.stderr[-400:]}")
    seen = json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&"))
    return PageCheck(
        str(page), int(seen["images"]), tuple(seen["broken"]), tuple(seen["raw"]), float(seen["widest"]), width
    )


def check_pages(folder: str | Path, **options) -> list[PageCheck]:
    return [check_page(page, **options) for page in sorted(Path(folder).rglob("*.html"))]


def screenshot(page: str | Path, path: str | Path, *, width: int = 1400, height: int = 2400) -> Path:
    """A PNG of ``page`` as a reader sees it at ``width`` × ``height`` px (for reports and closing notes)."""
    browser = find_browser()
    if browser is None:
        raise RuntimeError("no Chromium found (apt-get install chromium)")
    path = Path(path).absolute()
    _run_browser(browser, f"--window-size={width},{height}", f"--screenshot={path}", Path(page).absolute().as_uri())
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m harness.reporting.page_check", description=(__doc__ or "").split("\n")[0]
    )
    parser.add_argument("folder", help="a report run folder (every .html page under it is checked)")
    parser.add_argument("--width", type=int, default=1400, help="page width in px (default 1400)")
    parser.add_argument("--screenshots", default=None, help="also write a screenshot of each page into this folder")
    args = parser.parse_args(argv)
    if find_browser() is None:
        print("page check: no Chromium found (apt-get install chromium)", file=sys.stderr)
        return 2
    checks = check_pages(args.folder, width=args.width)
    for check in checks:
        print(check.describe())
    if args.screenshots:
        out = Path(args.screenshots)
        out.mkdir(parents=True, exist_ok=True)
        for check in checks:
            name = Path(check.page).relative_to(args.folder).with_suffix(".png").as_posix().replace("/", "--")
            screenshot(check.page, out / name, width=args.width)
    print(f"page check: {sum(c.ok for c in checks)} of {len(checks)} pages ok")
    return 0 if checks and all(c.ok for c in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
