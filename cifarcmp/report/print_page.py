"""The print page (mkdocs-print-site's print_page.html) made into the PDF's source: a document, not a page.

mkdocs-print-site joins every page's content into site/print_page.html, which `make pdf` prints
with Chromium (cifarcmp/report/pdf.py). As the plugin writes it, that page is a web page: it links
its downloads by paths that, printed, become file:// links into the build machine's folder; it
leaves its table of contents to a script (which the pages' own markup makes run once per page);
and every section opens with its full provenance. `for_print` rewrites it once the build is done:

- one table of contents: the nav's sections, its pages and their second-level headings, each entry
  with an empty `.toc-page` that pdf.py fills with the page number after a first print; pdf.py
  also makes the PDF's bookmarks from the same entries (`contents`);
- every link that is not to a place in the document points to the published site (SITE_URL), or,
  with no address, is text; where the site has an address, each section starts with it;
- each section's provenance is one line, linked to an appendix that lists the runs in full.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urljoin, urlsplit

from bs4 import BeautifulSoup, Tag
from mkdocs_print_site_plugin.urls import get_page_key

PRINT_PAGE = "print_page.html"
CONTENTS_ID = "report-contents"
APPENDIX_ID = "appendix-provenance"
CONTENTS_TITLE = "Contents"
APPENDIX_TITLE = "Appendix: provenance"

# print-site adds its start-up script by replacing every "</head>" of the page it writes, and each
# page's content reaches it as a whole document (<html><head></head><body>…, as mkdocs-glightbox's
# HTML parser returns it): so the script, which copies the table of contents, ran once per page.
_PAGE_DOCUMENT_OPEN = re.compile(
    r"<html><head>\s*<script type=\"text/javascript\">\s*document\.addEventListener\('DOMContentLoaded'.*?"
    r"</script>\s*</head><body>",
    re.DOTALL,
)
_PAGE_DOCUMENT_CLOSE = re.compile(r"</body></html>(?=\s*</section>)")


def for_print(html: str, site_url: str | None, page_urls: dict[str, str]) -> str:
    """The print page's HTML as the PDF should print it. `page_urls` maps print-site's section ids
    (its `get_page_key` of each page's URL) to the pages' URLs, for their addresses on the site."""
    html = _PAGE_DOCUMENT_CLOSE.sub("", _PAGE_DOCUMENT_OPEN.sub("", html))
    soup = BeautifulSoup(html, "html.parser")
    root = soup.select_one("#print-site-page")
    if root is None:
        return html
    pages = [section for section in root.select("section.print-page[id]") if "md-section" not in section["class"]]
    _links_to_the_site(soup, root, site_url)
    if site_url:
        for section in pages:
            _address_line(soup, section, urljoin(site_url, page_urls.get(section["id"], "")))
    else:  # the title page's promise of those addresses goes with them
        for paragraph in root.select("#print-site-cover-page .print-site-address"):
            paragraph.decompose()
    _provenance_to_appendix(soup, root, pages)
    _contents(soup, root)
    return str(soup)


def contents(html: str) -> list[tuple[int, str, str]]:
    """The table of contents `for_print` wrote: (level, target id, title) in document order."""
    soup = BeautifulSoup(html, "html.parser")
    return [
        (int(link["data-level"]), link["href"][1:], link.select_one(".toc-title").get_text(" ", strip=True))
        for link in soup.select(f"#{CONTENTS_ID} a[data-level]")
    ]


def title(html: str) -> str:
    """The title page's heading: the document's title."""
    heading = BeautifulSoup(html, "html.parser").select_one("#print-site-cover-page h1")
    return heading.get_text(" ", strip=True) if heading else ""


def _heading_text(heading: Tag) -> str:
    for anchor in heading.select("a.headerlink, a.anchor-link"):  # the ¶ of Material and of the notebooks
        anchor.extract()
    return heading.get_text(" ", strip=True)


def _links_to_the_site(soup: BeautifulSoup, root: Tag, site_url: str | None) -> None:
    """A link to a file of the site (a download, a figure at full size) as an address on the
    published site; with no address, its text alone. Printed, a relative link would be a file://
    path on the machine that built it."""
    for link in root.find_all("a", href=True):
        href = link["href"]
        if href.startswith("#") or urlsplit(href).scheme:
            continue
        if not site_url:
            link.unwrap()
            continue
        link["href"] = urljoin(site_url, href)
        link["class"] = [*link.get("class", []), "site-link"]  # print.css prints no address after it


def _address_line(soup: BeautifulSoup, section: Tag, url: str) -> None:
    heading = section.find(["h1", "h2"])
    line = soup.new_tag("p", attrs={"class": "page-address"})
    line.append("On the site: ")
    link = soup.new_tag("a", href=url, attrs={"class": "site-link"})
    link.string = url
    line.append(link)
    if heading is None:
        section.insert(0, line)
    else:
        heading.insert_after(line)


def _provenance_to_appendix(soup: BeautifulSoup, root: Tag, pages: list[Tag]) -> None:
    """Each section's provenance box as its one-line summary; the runs it lists, once for every
    set of sections that share them, in an appendix at the end."""
    groups: dict[str, tuple[Tag, list[str]]] = {}
    for section in pages:
        heading = section.find("h1")
        title = _heading_text(heading.__copy__()) if heading else section["id"]
        for box in section.find_all("details", class_="info"):
            summary = box.find("summary")
            if summary is None or not summary.get_text().startswith("Provenance"):
                continue
            summary.extract()
            key = str(box)
            if key not in groups:
                groups[key] = (box, [])
            groups[key][1].append(title)
            line = soup.new_tag("p", attrs={"class": "provenance-line"})
            link = soup.new_tag("a", href=f"#{APPENDIX_ID}")
            link.string = summary.get_text(" ", strip=True)
            line.append(link)
            box.replace_with(line)
    if not groups:
        return
    appendix = soup.new_tag("section", attrs={"class": "print-page", "id": APPENDIX_ID})
    heading = soup.new_tag("h1")
    heading.string = APPENDIX_TITLE
    appendix.append(heading)
    for box, titles in groups.values():
        sections = soup.new_tag("p", attrs={"class": "appendix-sections"})
        label = soup.new_tag("strong")
        label.string = "Sections: "
        sections.append(label)
        sections.append(", ".join(titles) + ".")
        appendix.append(sections)
        for child in list(box.contents):
            appendix.append(child.extract())
    root.append(appendix)


def _contents(soup: BeautifulSoup, root: Tag) -> None:
    """The table of contents after the title page: the nav's sections and pages, and each page's
    second-level headings, with room for the page numbers pdf.py writes in."""
    entries: list[tuple[int, str, str]] = []
    seen: set[str] = set(element["id"] for element in root.find_all(id=True))
    for section in root.select("section.print-page[id]"):
        level = len(section.find_parents("section", class_="md-section"))
        heading = section.find("h1")
        if heading is None:
            continue
        entries.append((level, section["id"], _heading_text(heading.__copy__())))
        if "md-section" in section["class"]:
            continue
        for subheading in section.find_all("h2"):
            if subheading.find_parent("section", class_="print-page") is not section:
                continue
            if not subheading.get("id"):
                subheading["id"] = f"{section['id']}-heading-{len(seen)}"
                seen.add(subheading["id"])
            entries.append((level + 1, subheading["id"], _heading_text(subheading.__copy__())))
    nav = soup.new_tag("section", attrs={"class": "print-page", "id": CONTENTS_ID})
    heading = soup.new_tag("h1")
    heading.string = CONTENTS_TITLE
    nav.append(heading)
    listing = soup.new_tag("ol", attrs={"class": "toc"})
    for level, target, title in entries:
        item = soup.new_tag("li", attrs={"class": f"toc-level-{level}"})
        link = soup.new_tag("a", href=f"#{target}", attrs={"data-level": str(level)})
        text = soup.new_tag("span", attrs={"class": "toc-title"})
        text.string = title
        page = soup.new_tag("span", attrs={"class": "toc-page", "data-for": target})
        link.extend([text, soup.new_tag("span", attrs={"class": "toc-leader"}), page])
        item.append(link)
        listing.append(item)
    nav.append(listing)
    cover = root.select_one("#print-site-cover-page")
    if cover is None:
        root.insert(0, nav)
    else:
        cover.insert_after(nav)


def rewrite(site_dir: Path, site_url: str | None, page_urls: dict[str, str]) -> None:
    """Rewrite site_dir/print_page.html in place, where the build wrote one."""
    page = Path(site_dir) / PRINT_PAGE
    if page.is_file():
        page.write_text(for_print(page.read_text(encoding="utf-8"), site_url, page_urls), encoding="utf-8")


__all__ = ["contents", "for_print", "get_page_key", "rewrite", "title"]
