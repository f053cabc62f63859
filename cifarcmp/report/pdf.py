"""The whole report as one PDF: headless Chromium prints the site's print page (mkdocs-print-site).

`python -m cifarcmp.report.pdf [SITE_DIR]` writes SITE_DIR/report.pdf from SITE_DIR/print_page.html
(the title page, a table of contents, every page in nav order, the provenance appendix: see
cifarcmp/report/print_page.py). Chromium's own header and footer stay off, as they would print the
file's absolute path; page numbers come from the stylesheet's @page rules instead
(docs/stylesheets/print.css).

Chromium cannot number a table of contents itself (CSS target-counter() is not implemented), so
the report is printed twice: the first print says on which page each entry's target landed (the
PDF's named destinations, one per linked id), the second prints those numbers into the contents,
whose lines they do not lengthen. pypdf then adds what Chromium does not write: bookmarks from the
same entries, page labels that match the printed numbers, and the title.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from pypdf import PdfReader, PdfWriter

from cifarcmp import paths
from cifarcmp.errors import UserError, disk_error, path_error, terminal_line
from cifarcmp.report import print_page

PDF_NAME = "report.pdf"
# pypdf warns that Chromium's PDFs count one object fewer in their trailer than they hold; it
# reads them right, and the warning would only alarm whoever runs `make pdf`.
logging.getLogger("pypdf").setLevel(logging.ERROR)
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
# The page number of each contents entry goes into its empty `.toc-page` (print_page.py).
_TOC_PAGE = re.compile(r'(<span class="toc-page" data-for="([^"]+)">)(</span>)')
# A second print with the numbers in should land every entry where the first did; one more try
# if a number's width moved a line after all.
PRINTS = 3


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
    page = site_dir / print_page.PRINT_PAGE
    if not page.is_file():
        raise UserError(f"{page}: missing; build the site first (`make site`)")
    target = site_dir / PDF_NAME
    partial = target.with_suffix(".pdf.partial")
    # The numbered copy beside the print page, so its relative styles and images load as they do.
    source = site_dir / ".print_page.numbered.html"
    browser = chromium()
    html = page.read_text(encoding="utf-8")
    contents = print_page.contents(html)
    numbers: dict[str, int] = {}
    try:
        with tempfile.TemporaryDirectory() as profile:
            for _ in range(PRINTS):
                source.write_text(_numbered(html, numbers), encoding="utf-8")
                returncode, stderr = _run_chromium(
                    [
                        browser,
                        *CHROMIUM_FLAGS,
                        f"--user-data-dir={profile}",
                        f"--print-to-pdf={partial}",
                        source.as_uri(),
                    ],
                    timeout,
                )
                if returncode != 0 or not partial.is_file() or partial.stat().st_size == 0:
                    raise UserError(f"chromium could not print {page} ({stderr.strip().splitlines()[-1:]})")
                landed = _landing_pages(partial, [entry for _, entry, _ in contents])
                if landed == numbers:
                    break
                numbers = landed
        _as_document(partial, contents, numbers, print_page.title(html))
        partial.replace(target)
    except subprocess.TimeoutExpired:
        raise UserError(
            f"{browser}: printed nothing in {timeout:g} seconds and was stopped; check that it runs "
            "(`chromium --headless --version`) or set CHROMIUM to a working one"
        ) from None
    finally:
        partial.unlink(missing_ok=True)
        source.unlink(missing_ok=True)
    return target


def _numbered(html: str, numbers: dict[str, int]) -> str:
    """The print page with each contents entry's page number written in (none yet: blank)."""
    return _TOC_PAGE.sub(lambda match: f"{match[1]}{numbers.get(match[2], '')}{match[3]}", html)


def _landing_pages(pdf: Path, targets: list[str]) -> dict[str, int]:
    """The page number (from 1) on which each target id landed, from the PDF's named destinations."""
    reader = PdfReader(pdf)
    pages = {}
    for name, destination in reader.named_destinations.items():
        if name.lstrip("/") in targets:
            pages[name.lstrip("/")] = reader.get_destination_page_number(destination) + 1
    return pages


def _as_document(pdf: Path, contents: list[tuple[int, str, str]], numbers: dict[str, int], title: str) -> None:
    """Bookmarks (one per contents entry, nested as the contents are), page labels as printed (the
    title page unnumbered), the title in the metadata, the bookmarks open when the PDF opens."""
    writer = PdfWriter(clone_from=pdf)
    parents: dict[int, object] = {}
    for level, entry, title in contents:
        if entry not in numbers:
            continue
        parent = parents.get(level - 1) if level > 0 else None
        parents[level] = writer.add_outline_item(title=title, page_number=numbers[entry] - 1, parent=parent)
        for deeper in [known for known in parents if known > level]:
            del parents[deeper]
    writer.set_page_label(0, 0, prefix="Title")
    if len(writer.pages) > 1:
        writer.set_page_label(1, len(writer.pages) - 1, style="/D", start=2)
    if contents:
        writer.page_mode = "/UseOutlines"
    if title:
        writer.add_metadata({"/Title": title})
    with open(pdf, "wb") as output:
        writer.write(output)


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
