"""A report's HTML page as a person sees it: rendered by headless Chromium into a PNG.

    python scripts/screenshot_report.py reports/agnews.html docs/report-agnews.png
    python scripts/screenshot_report.py reports/agnews.html shot.png --width 1400 --height 3000

Needs Chromium (Debian: `apt-get install chromium`); its path can be given with --chromium
or $CHROMIUM. The page is loaded from its file, scripts on, so the sortable table is live.
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
from pathlib import Path

NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
TIMEOUT_S = 120


def find_chromium(explicit: str | None = None) -> str | None:
    """The Chromium to use: the one given, $CHROMIUM, else the first on PATH."""
    for candidate in (explicit, os.environ.get("CHROMIUM"), *NAMES):
        if candidate and (found := shutil.which(candidate)):
            return found
    return None


def screenshot(page: Path, png: Path, width: int = 1400, height: int = 2200,
               chromium: str | None = None) -> Path:
    """Render `page` at width x height CSS pixels into `png`; raises RuntimeError on failure."""
    binary = find_chromium(chromium)
    if binary is None:
        raise RuntimeError("no Chromium found: install it (apt-get install chromium) or pass "
                           "--chromium PATH")
    png = png.resolve()
    png.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        command = [binary, "--headless", "--disable-gpu", "--no-sandbox", "--hide-scrollbars",
                   "--no-first-run", "--disable-extensions", f"--user-data-dir={profile}",
                   "--force-device-scale-factor=1", f"--window-size={width},{height}",
                   f"--screenshot={png}", page.resolve().as_uri()]
        done = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT_S,
                              check=False)
    if done.returncode != 0 or not png.is_file():
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        raise RuntimeError(f"chromium failed ({done.returncode}): {' | '.join(tail)}")
    return png


# Measures the laid-out page once it has loaded and writes the figures into the DOM, which
# --dump-dom then prints: the page's own width, and each table's and figure's right edge and
# the width of the box it must fit (its scroll container's, or the page's).
_MEASURE = """<script>window.addEventListener('load', () => {
  const page = document.documentElement, out = {viewport: window.innerWidth,
    page: page.scrollWidth, boxes: []};
  document.querySelectorAll('table, figure, ul.verdict, nav').forEach((el) => {
    const box = el.closest('.scroll') || document.body, r = el.getBoundingClientRect();
    out.boxes.push({tag: el.tagName.toLowerCase(), cls: el.className,
      text: el.textContent.trim().slice(0, 40), right: Math.round(r.right),
      width: Math.round(r.width), fits: Math.round(box.clientWidth)});
  });
  document.body.setAttribute('data-layout', JSON.stringify(out));
});</script></body>"""


def layout(page: Path, width: int = 1280, height: int = 900,
           chromium: str | None = None) -> dict:
    """How `page` lays out at `width` CSS pixels: {"viewport", "page" (its scroll width),
    "boxes": [{tag, cls, text, right, width, fits}]} for every table, figure, verdict and
    contents line. Raises RuntimeError on failure."""
    binary = find_chromium(chromium)
    if binary is None:
        raise RuntimeError("no Chromium found: install it (apt-get install chromium)")
    html = page.read_text(encoding="utf-8")
    with tempfile.TemporaryDirectory(prefix="chromium-layout-") as folder:
        # Beside the page, so that its relative links and images resolve as they would
        probe = page.resolve().parent / f".layout-{os.getpid()}.html"
        try:
            probe.write_text(html.replace("</body>", _MEASURE, 1), encoding="utf-8")
            done = subprocess.run(
                [binary, "--headless", "--disable-gpu", "--no-sandbox", "--hide-scrollbars",
                 "--no-first-run", f"--user-data-dir={folder}",
                 "--force-device-scale-factor=1", f"--window-size={width},{height}",
                 "--dump-dom", probe.as_uri()],
                capture_output=True, text=True, timeout=TIMEOUT_S, check=False)
        finally:
            probe.unlink(missing_ok=True)
    found = re.search(r'data-layout="([^"]*)"', done.stdout)
    if not found:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        raise RuntimeError(f"chromium did not lay the page out ({done.returncode}): "
                           f"{' | '.join(tail)}")
    import html as markup

    return json.loads(markup.unescape(found.group(1)))


def clipped(figures: dict) -> list[str]:
    """What does not fit at that width: the page scrolling sideways, or a table, figure or
    verdict wider than the box it sits in."""
    problems = []
    if figures["page"] > figures["viewport"]:
        problems.append(f"the page is {figures['page']} px wide at {figures['viewport']} px")
    for box in figures["boxes"]:
        if box["width"] > box["fits"] + 1:
            problems.append(f"{box['tag']} '{box['text']}' is {box['width']} px wide in "
                            f"{box['fits']} px")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("page", type=Path, help="the report's HTML file")
    parser.add_argument("png", type=Path, help="where to write the screenshot")
    parser.add_argument("--width", type=int, default=1400)
    parser.add_argument("--height", type=int, default=2200)
    parser.add_argument("--chromium", help="path of the Chromium binary")
    args = parser.parse_args(argv)
    if not args.page.is_file():
        parser.error(f"no such page: {args.page}")
    try:
        print(screenshot(args.page, args.png, args.width, args.height, args.chromium))
    except (RuntimeError, subprocess.TimeoutExpired) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
