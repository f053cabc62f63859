"""The whole report as one PDF: headless Chromium prints the site's print page (mkdocs-print-site).

`python -m cifarcmp.report.pdf [SITE_DIR]` writes SITE_DIR/report.pdf from SITE_DIR/print_page.html
(the title page, a table of contents, then every page in nav order). Chromium's own header and
footer stay off, as they would print the file's absolute path; page numbers come from the
stylesheet's @page rules instead (docs/stylesheets/reader.css).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from cifarcmp import paths
from cifarcmp.errors import UserError

PDF_NAME = "report.pdf"
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--no-pdf-header-footer",
    "--run-all-compositor-stages-before-draw",
    # Time for the print page's script (the table of contents) before printing.
    "--virtual-time-budget=20000",
)


def chromium() -> str:
    found = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        raise UserError("chromium: not found; install it (Debian: apt install chromium) or set CHROMIUM")
    return found


def print_pdf(site_dir: Path | str = paths.SITE_DIR) -> Path:
    """Print `site_dir`/print_page.html to `site_dir`/report.pdf and return its path."""
    site_dir = Path(site_dir).resolve()
    page = site_dir / "print_page.html"
    if not page.is_file():
        raise UserError(f"{page}: missing; build the site first (`make site`)")
    target = site_dir / PDF_NAME
    partial = target.with_suffix(".pdf.partial")
    with tempfile.TemporaryDirectory() as profile:
        result = subprocess.run(
            [chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--print-to-pdf={partial}", page.as_uri()],
            capture_output=True,
            text=True,
            timeout=300,
        )
    if result.returncode != 0 or not partial.is_file() or partial.stat().st_size == 0:
        partial.unlink(missing_ok=True)
        raise UserError(f"chromium could not print {page} ({result.stderr.strip().splitlines()[-1:]})")
    partial.replace(target)
    return target


if __name__ == "__main__":
    try:
        print(print_pdf(*sys.argv[1:2]))
    except UserError as error:
        sys.exit(f"cifarcmp: error: {error}")
