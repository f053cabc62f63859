"""MkDocs hooks (mkdocs.yml `hooks:`): the executed pages and the tables, as a reader should get them.

- Executed notebook pages arrive from mkdocs-jupyter as JupyterLab markup with 575 KiB of
  JupyterLab CSS inlined into every page. That CSS goes (the site's own stylesheet styles what is
  left), and each code cell becomes a collapsed Material "Code" block highlighted like every other
  code block of the site, so a reader sees prose, tables and figures and can still open the code.
- A table's caption, written by the table partial as a `Table: ...` paragraph just above it, moves
  into the table as a real `<caption>`, so assistive technology announces it with the table.
- Every report figure but a page's first loads lazily, when the reader scrolls near it: on a phone
  the figures further down otherwise share the link with the first screen and slow it (Lighthouse's
  largest contentful paint on the evidence page). Done after the page is complete, so the print
  page, which the PDF is printed from, keeps eager images.
- Nothing else holds up the first paint that need not: print-site's styles and script leave every
  page but the print page (the PDF's source, the one page that uses them), and the search worker's
  file:// shim (mkdocs.yml `polyfills`) moves from the head to just before Material's script, the
  first one that needs it.
- The lightbox's script and styles (70 KB, which mkdocs-glightbox puts in every page's head, where
  they hold up the first paint) load only on pages with a figure to enlarge, at the end of the body.
- The print page, once print-site has written it, becomes the PDF's source (print_page.py).
- Built with no site address (no SITE_URL), the 404 page's links start at /, as it is served at
  whatever URL was missing and no relative link can be right from every one. Its stylesheets are
  written into it, so that served under a sub-path (a project's GitHub Pages) it is still styled;
  its links and scripts still start at / (build with SITE_URL for a site under a sub-path).
- The figures the notebook pages write into docs/generated/figures/ while mkdocs runs them did not
  exist when MkDocs listed the files to copy, so they are copied into the site at the end.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from bs4 import BeautifulSoup
from mkdocs.plugins import event_priority

from cifarcmp.report import print_page

# `**Table: ...**` followed by `{: #table-name }`, then the table (Python-Markdown output).
_CAPTIONED_TABLE = re.compile(
    r'<p id="(?P<id>table-[\w-]+)"><strong>(?P<caption>Table: .*?)</strong></p>\s*<table>', re.DOTALL
)

# A report figure's image (`report.site.show_figure`), inside the lightbox's link where it has one.
_FIGURE_IMAGE = re.compile(r'<figure class="report-figure">.*?<img', re.DOTALL)


# print-site's assets, on every page; Material's script and the search worker shim before it.
_PRINT_ASSETS = re.compile(
    r'<link rel="stylesheet" href="[^"]*css/print-site(?:-material)?\.css">|<script src="[^"]*js/print-site\.js"></script>'
)
_SEARCH_SHIM = re.compile(r'<script src="[^"]*javascripts/iframe-worker-shim\.js"></script>')
_MATERIAL_SCRIPT = re.compile(r'<script src="[^"]*assets/javascripts/bundle\.\w+\.min\.js"></script>')

# What mkdocs-glightbox adds: its assets in the head, its start-up script at the end of the body.
_LIGHTBOX_ASSETS = re.compile(
    r'<link href="[^"]*glightbox\.min\.css" rel="stylesheet"><script src="[^"]*glightbox\.min\.js"></script>'
    r'<style id="glightbox-style">.*?</style>',
    re.DOTALL,
)
_LIGHTBOX_START = re.compile(r'<script id="init-glightbox">.*?</script>', re.DOTALL)


# Before the plugins (hooks otherwise run last): print-site keeps each page's content for the PDF's
# print page as it is when its own handler runs, and the lightbox should wrap the final <img>s.
# Each page's URL by print-site's id for its section of the print page (its address on the site).
_PAGE_URLS: dict[str, str] = {}


@event_priority(50)
def on_page_content(html: str, page, config, files) -> str:
    _PAGE_URLS[print_page.get_page_key(page.url)] = page.url
    if "jupyter-wrapper" in html:
        html = notebook_as_page(html)
    return caption_tables(html)


def on_post_page(output: str, page, config) -> str:
    if page.file.src_uri.startswith("print_page"):  # the PDF's source: every image loaded
        return output
    output = _PRINT_ASSETS.sub("", output)
    output = first_paint_unblocked(output)
    return lightbox_where_needed(lazy_figures(output))


# After every plugin's: print-site writes the print page in its own on_post_build.
@event_priority(-100)
def on_post_build(config) -> None:
    print_page.rewrite(config["site_dir"], config["site_url"], _PAGE_URLS)
    if not config["site_url"]:
        styled_404(Path(config["site_dir"]))
    figures = Path(config["docs_dir"]) / "generated" / "figures"
    if figures.is_dir():
        shutil.copytree(
            figures,
            Path(config["site_dir"]) / "generated" / "figures",
            dirs_exist_ok=True,
            ignore=shutil.ignore_patterns(".*"),  # the pages' list of what they drew is the rendering's, not the site's
        )


# A stylesheet linked from the site's root, as the 404 page links them with no site address.
_ROOT_STYLESHEET = re.compile(r'<link rel="stylesheet" href="/(?P<path>[^"]+\.css)">')


def styled_404(site_dir: Path) -> None:
    """The 404 page's stylesheets written into it (print-site's, for the print page only, left
    out), so it is styled wherever it is served from."""
    page = site_dir / "404.html"
    if not page.is_file():
        return

    def inline(match: re.Match) -> str:
        sheet = site_dir / match["path"]
        if "print-site" in match["path"] or not sheet.is_file():
            return ""
        return f"<style>{sheet.read_text(encoding='utf-8')}</style>"

    page.write_text(_ROOT_STYLESHEET.sub(inline, page.read_text(encoding="utf-8")), encoding="utf-8")


def lazy_figures(html: str) -> str:
    """`loading="lazy"` on every report figure's image after the first (the first may be on screen)."""
    seen = 0

    def mark(match: re.Match) -> str:
        nonlocal seen
        seen += 1
        return match[0] if seen == 1 else f'{match[0]} loading="lazy"'

    return _FIGURE_IMAGE.sub(mark, html)


def first_paint_unblocked(html: str) -> str:
    """The search worker's shim moved from the head to just before Material's script."""
    shim = _SEARCH_SHIM.search(html)
    material = _MATERIAL_SCRIPT.search(html)
    if shim is None or material is None or shim.start() > material.start():
        return html
    return html[: shim.start()] + html[shim.end() : material.start()] + shim[0] + html[material.start() :]


def lightbox_where_needed(html: str) -> str:
    """The lightbox's assets moved from the head to just before its start-up script, or removed
    with it from a page that has nothing to enlarge."""
    assets = _LIGHTBOX_ASSETS.search(html)
    start = _LIGHTBOX_START.search(html)
    if assets is None or start is None:
        return html
    keep = 'class="glightbox"' in html
    return (
        html[: assets.start()]
        + html[assets.end() : start.start()]
        + (assets[0] + start[0] if keep else "")
        + html[start.end() :]
    )


def caption_tables(html: str) -> str:
    """Move each `Table: ...` paragraph into the table below it as its <caption>."""
    return _CAPTIONED_TABLE.sub(
        lambda match: f'<table id="{match["id"]}"><caption><span>{match["caption"]}</span></caption>', html
    )


def notebook_as_page(html: str) -> str:
    """mkdocs-jupyter's output without its stylesheets and scripts, code cells folded away."""
    soup = BeautifulSoup(html, "html.parser")
    wrapper = soup.select_one(".jupyter-wrapper")
    # The stylesheets and the copy-button script come before the wrapper, in the page's content.
    for element in soup.find_all(["style", "script", "clipboard-copy"]):
        if "glightbox" not in (element.get("id") or ""):  # the lightbox's own style stays
            element.decompose()
    for element in wrapper.select(".zeroclipboard-container, .celltoolbar"):
        element.decompose()
    for source in wrapper.select(".jp-CodeCell .jp-Cell-inputWrapper"):
        code = source.find("pre")
        folded = soup.new_tag("details", attrs={"class": "abstract cell-code"})
        summary = soup.new_tag("summary")
        summary.string = "Code"
        folded.append(summary)
        block = soup.new_tag("div", attrs={"class": "highlight"})
        pre = soup.new_tag("pre")
        inner = soup.new_tag("code")
        for child in list(code.contents):
            inner.append(child.extract())
        pre.append(inner)
        block.append(pre)
        folded.append(block)
        source.replace_with(folded)
    return str(soup)
