"""`make bench-site`: what each page of the built site costs a reader, in figures.

For every page: its HTML bytes, and where Lighthouse is installed (`make bench-site` installs
Lighthouse 12 from npm), Lighthouse's performance and accessibility scores with the mobile preset
(a mid-range phone on a slow 4G link, simulated) and the timings behind the performance score.
The site is served as GitHub Pages serves it (gzip, under /cifarcmp/; `serve.py`), since a server
that does not compress makes every page look slower than readers will find it. Prints figures;
asserts nothing (the browser tests hold the page-weight and accessibility limits).

Lighthouse's scores vary from run to run (by 5 to 10 points here on the heavier pages), so each
page is measured `--runs` times (3 by default) and the run with the median performance score is
shown, as Lighthouse's own documentation advises.

    python -m cifarcmp.report.bench SITE_DIR [--runs 3] [--lighthouse PATH] [--chromium PATH] [PAGE ...]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from cifarcmp.report.serve import serving

CHROME_FLAGS = "--headless=new --no-sandbox --disable-gpu --no-first-run --disable-background-networking --disable-component-update --disable-sync"
TIMINGS = {  # Lighthouse audit: column heading
    "first-contentful-paint": "FCP",
    "largest-contentful-paint": "LCP",
    "total-blocking-time": "TBT",
    "cumulative-layout-shift": "CLS",
    "speed-index": "SI",
}


def pages(site: Path) -> list[str]:
    """Every page a reader reaches (the print page and the 404 page aside)."""
    found = sorted(path.relative_to(site).as_posix() for path in site.rglob("*.html"))
    return [page for page in found if page not in ("404.html", "print_page.html")]


def lighthouse(executable: str, chromium: str, url: str) -> dict:
    with tempfile.TemporaryDirectory() as scratch:
        report = Path(scratch) / "report.json"
        completed = subprocess.run(
            [
                executable,
                url,
                "--quiet",
                "--output=json",
                f"--output-path={report}",
                "--only-categories=performance,accessibility",
                f"--chrome-flags={CHROME_FLAGS}",
            ],
            env={**os.environ, "CHROME_PATH": chromium},
            capture_output=True,
            text=True,
            check=False,
        )
        if completed.returncode != 0 or not report.is_file():
            last = (completed.stderr.strip().splitlines() or ["no output"])[-1]
            return {"error": last}
        found = json.loads(report.read_text(encoding="utf-8"))
    audits = found["audits"]
    return {
        "performance": round(100 * found["categories"]["performance"]["score"]),
        "accessibility": round(100 * found["categories"]["accessibility"]["score"]),
        "transferred": audits["total-byte-weight"]["numericValue"],
        **{heading: audits[audit]["displayValue"] for audit, heading in TIMINGS.items()},
    }


def median_run(runs: list[dict]) -> dict:
    """The run with the median performance score (an error if every run failed)."""
    scored = sorted((run for run in runs if "error" not in run), key=lambda run: run["performance"])
    return scored[(len(scored) - 1) // 2] if scored else runs[-1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("site", type=Path, help="the built site (site/)")
    parser.add_argument("pages", nargs="*", help="pages to measure, as paths under the site (default: all)")
    parser.add_argument("--lighthouse", default=shutil.which("lighthouse"), help="the lighthouse executable")
    parser.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
    parser.add_argument("--runs", type=int, default=3, help="Lighthouse runs per page; the median is shown")
    arguments = parser.parse_intermixed_args(argv)
    if not (arguments.site / "index.html").is_file():
        print(f"error: {arguments.site}: no built site there (make site builds one)", file=sys.stderr)
        return 2
    chosen = arguments.pages or pages(arguments.site)
    missing = [page for page in chosen if not (arguments.site / page).is_file()]
    if missing:
        print(f"error: no such page in {arguments.site}: {', '.join(missing)}", file=sys.stderr)
        return 2
    if not arguments.lighthouse:
        print("Lighthouse not found: page weights only (make bench-site installs it from npm)")
    header = f"{'page':<34}{'HTML KB':>9}"
    if arguments.lighthouse:
        header += f"{'sent KB':>9}{'perf':>6}{'a11y':>6}" + "".join(f"{heading:>9}" for heading in TIMINGS.values())
    print(header)
    with serving(arguments.site, sub_path="cifarcmp") as url:
        for page in chosen:
            line = f"{page:<34}{(arguments.site / page).stat().st_size / 1000:>9.1f}"
            if arguments.lighthouse:
                scores = median_run(
                    [
                        lighthouse(arguments.lighthouse, arguments.chromium, url + page)
                        for _ in range(max(1, arguments.runs))
                    ]
                )
                if "error" in scores:
                    line += f"  Lighthouse failed: {scores['error']}"
                else:
                    line += (
                        f"{scores['transferred'] / 1000:>9.1f}{scores['performance']:>6}{scores['accessibility']:>6}"
                    )
                    line += "".join(f"{scores[heading]:>9}" for heading in TIMINGS.values())
            print(line, flush=True)
    runs = max(1, arguments.runs)
    if arguments.lighthouse:
        print(
            f"perf and a11y: Lighthouse 0-100, mobile preset (simulated slow 4G, 4x CPU slowdown), the median of "
            f"{runs} run{'s' if runs > 1 else ''}; sent: bytes loaded with the page, gzip (lazy figures load on scrolling)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
