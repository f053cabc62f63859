"""MkDocs hooks (mkdocs.yml `hooks:`): the executed pages and the tables, as a reader should get them.

- Executed notebook pages arrive from mkdocs-jupyter as JupyterLab markup with 575 KiB of
  JupyterLab CSS inlined into every page. That CSS goes (the site's own stylesheet styles what is
  left), and each code cell becomes a collapsed Material "Code" block highlighted like every other
  code block of the site, so a reader sees prose, tables and figures and can still open the code.
- A table's caption, written by the table macro as a `Table: ...` paragraph just above it, moves
  into the table as a real `<caption>`, so assistive technology announces it with the table.
- The figures the notebook pages write into docs/generated/figures/ while mkdocs runs them did not
  exist when MkDocs listed the files to copy, so they are copied into the site at the end.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from bs4 import BeautifulSoup
from mkdocs.plugins import event_priority

# `**Table: ...**` followed by `{: #table-name }`, then the table (Python-Markdown output).
_CAPTIONED_TABLE = re.compile(
    r'<p id="(?P<id>table-[\w-]+)"><strong>(?P<caption>Table: .*?)</strong></p>\s*<table>', re.DOTALL
)


# Before the plugins (hooks otherwise run last): print-site keeps each page's content for the PDF's
# print page as it is when its own handler runs, and the lightbox should wrap the final <img>s.
@event_priority(50)
def on_page_content(html: str, page, config, files) -> str:
    if "jupyter-wrapper" in html:
        html = notebook_as_page(html)
    return caption_tables(html)


def on_post_build(config) -> None:
    figures = Path(config["docs_dir"]) / "generated" / "figures"
    if figures.is_dir():
        shutil.copytree(figures, Path(config["site_dir"]) / "generated" / "figures", dirs_exist_ok=True)


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
