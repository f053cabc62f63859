"""The print page made into the PDF's source, and the 404 page of a site with no address, without
a site build: the hooks' functions on small pages shaped as mkdocs-print-site writes them."""

from __future__ import annotations

from cifarcmp.report import print_page
from cifarcmp.report.hooks import styled_404

# As print-site writes it: its start-up script added at every "</head>", each page's content a
# whole document (mkdocs-glightbox's parser), sections of the nav holding their pages.
SCRIPT = (
    "<script type=\"text/javascript\">\n        document.addEventListener('DOMContentLoaded', function () {\n"
    "            remove_material_navigation();\n        })\n        </script>\n        </head>"
)
PROVENANCE = (
    '<details class="info"><summary>Provenance: profile smoke · commit abc</summary>'
    "<ul><li><strong>CNN, seed 0</strong>: finished today.</li></ul></details>"
)
PAGE = f"""<html lang="en"><head><meta charset="utf-8">{SCRIPT}<body><article><div id="print-site-page">
<section id="print-site-cover-page"><h1>The report</h1><p>Cover.</p>
<p class="print-site-address">Each section starts with the address of its page.</p></section>
<section class="print-page" id="index" heading-number="1"><html><head>{SCRIPT}<body>
<h1 id="the-report">The report<a class="headerlink" href="#index-the-report">¶</a></h1>{PROVENANCE}
<p><a href="generated/tables/x.csv" download>CSV</a> and <a href="https://example.org/paper">a paper</a>.</p>
</body></html></section>
<section class='print-page md-section' id='section-2' heading-number='2'><h1>Results</h1>
<section class="print-page" id="generated-comparison" heading-number="2.1"><html><head>{SCRIPT}<body>
<h1 id="comparison">Comparison</h1>{PROVENANCE}<h2 id="which-wins">Which wins</h2>
<a class="glightbox" href="generated/figures/f.png"><img src="generated/figures/f.png"></a>
</body></html></section></section>
</div></article></body></html>"""
URLS = {"index": "index.html", "generated-comparison": "generated/comparison.html"}


def test_with_an_address_links_go_to_the_site_and_each_section_starts_with_its_own():
    html = print_page.for_print(PAGE, "https://example.invalid/cifarcmp/", URLS)
    assert html.count("addEventListener") == 1  # print-site's script once, in the head
    assert "<html><head>" not in html.split("<body>", 1)[1]
    assert 'href="https://example.invalid/cifarcmp/generated/tables/x.csv"' in html
    assert 'href="https://example.invalid/cifarcmp/generated/figures/f.png"' in html
    assert 'href="https://example.org/paper"' in html  # a link off the site as it was
    assert 'src="generated/figures/f.png"' in html  # images still load from the built site
    assert "https://example.invalid/cifarcmp/generated/comparison.html</a>" in html
    assert "Each section starts with the address" in html


def test_without_an_address_no_link_leaves_the_document_and_no_address_is_promised():
    html = print_page.for_print(PAGE, None, URLS)
    assert 'href="generated/' not in html and "CSV" in html
    assert "Each section starts with the address" not in html and "On the site" not in html


def test_contents_provenance_and_appendix():
    html = print_page.for_print(PAGE, None, URLS)
    assert print_page.contents(html) == [
        (0, "index", "The report"),
        (0, "section-2", "Results"),
        (1, "generated-comparison", "Comparison"),
        (2, "which-wins", "Which wins"),
        (0, print_page.APPENDIX_ID, print_page.APPENDIX_TITLE),
    ]
    assert print_page.title(html) == "The report"
    # One line per section, the runs once in the appendix with the sections they are behind.
    body, appendix = html.split(f'id="{print_page.APPENDIX_ID}"')
    assert "<details" not in body and body.count('class="provenance-line"') == 2
    assert appendix.count("CNN, seed 0") == 1 and "The report, Comparison." in appendix


def test_the_404_page_of_a_site_with_no_address_carries_its_styles(tmp_path):
    (tmp_path / "assets").mkdir()
    (tmp_path / "assets" / "main.css").write_text(".md-header { color: indigo }")
    (tmp_path / "css").mkdir()
    (tmp_path / "css" / "print-site.css").write_text("#print-site-page {}")
    (tmp_path / "404.html").write_text(
        '<head><link rel="stylesheet" href="/assets/main.css"><link rel="stylesheet" href="/css/print-site.css">'
        "</head><h1>404</h1>"
    )
    styled_404(tmp_path)
    page = (tmp_path / "404.html").read_text()
    assert "<style>.md-header { color: indigo }</style>" in page
    assert "<link" not in page and "print-site-page" not in page
