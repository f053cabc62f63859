"""The whole report as one PDF: headless Chromium prints the site's print page (mkdocs-print-site).

`python -m cifarcmp.report.pdf [SITE_DIR]` writes SITE_DIR/report.pdf from SITE_DIR/print_page.html
(the title page, a table of contents, then every page in nav order). Chromium's own header and
footer stay off, as they would print the file's absolute path; page numbers come from the
stylesheet's @page rules instead (docs/stylesheets/reader.css).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from cifarcmp import paths
from cifarcmp.errors import UserError, disk_error, path_error, terminal_line

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


# Chromium prints the report in well under a minute; one that has not returned by then never will.
TIMEOUT_SECONDS = 300


def print_pdf(site_dir: Path | str = paths.SITE_DIR, timeout: float = TIMEOUT_SECONDS) -> Path:
    """Print `site_dir`/print_page.html to `site_dir`/report.pdf and return its path.

    A previous report.pdf stays as it was unless the new one is complete.
    """
    site_dir = Path(site_dir).resolve()
    page = site_dir / "print_page.html"
    if not page.is_file():
        raise UserError(f"{page}: missing; build the site first (`make site`)")
    target = site_dir / PDF_NAME
    partial = target.with_suffix(".pdf.partial")
    browser = chromium()
    try:
        with tempfile.TemporaryDirectory() as profile:
            returncode, stderr = _run_chromium(
                [browser, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--print-to-pdf={partial}", page.as_uri()],
                timeout,
            )
        if returncode != 0 or not partial.is_file() or partial.stat().st_size == 0:
            raise UserError(f"chromium could not print {page} ({stderr.strip().splitlines()[-1:]})")
        partial.replace(target)
    except subprocess.TimeoutExpired:
        raise UserError(
            f"{browser}: printed nothing in {timeout:g} seconds and was stopped; check that it runs "
            "(`chromium --headless --version`) or set CHROMIUM to a working one"
        ) from None
    finally:
        partial.unlink(missing_ok=True)
    return target


def _run_chromium(command: list[str], timeout: float) -> tuple[int, str]:
    """Run Chromium in a session of its own, so that on a timeout its renderer and GPU processes,
    which outlive a killed parent, are stopped with it."""
    try:
        process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True
        )
    except OSError as error:
        # Missing, not executable, not a program at all (FileNotFoundError, PermissionError, ENOEXEC).
        raise UserError(
            f"{command[0]}: cannot run it ({error.strerror or error}); install chromium (Debian: apt install "
            "chromium) or set CHROMIUM to a working one"
        ) from None
    with process:
        try:
            _, stderr = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
            raise
        return process.returncode, stderr


if __name__ == "__main__":
    try:
        print(print_pdf(*sys.argv[1:2]))
    except UserError as error:
        sys.exit(f"cifarcmp: error: {terminal_line(error)}")
    except OSError as error:
        # The site folder on a full disk, a path too long: one line, as the cifarcmp command gives.
        translated = disk_error(error) or path_error(error)
        if translated is None:
            raise
        sys.exit(f"cifarcmp: error: {terminal_line(translated)}")
