"""The Cite page's BibTeX and its `.bib` download: the same entry, with the site's URL when known."""

from __future__ import annotations

from golden import write_golden_results

from cifarcmp.report import citation
from cifarcmp.report.render import render

PROVENANCE = {"date": "2025-01-02", "profile": "smoke", "commit": "0123456789", "data": "synthetic"}


def test_the_entry_carries_the_site_url_when_the_build_knows_it():
    entry = citation.bibtex(PROVENANCE, synthetic=True, url="https://example.org/cifarcmp/")
    assert entry.startswith("@misc{cifarcmp2025,\n") and entry.endswith("}\n")
    assert "  url          = {https://example.org/cifarcmp/}\n" in entry
    assert "(synthetic data, not CIFAR-10 results)" in entry
    assert entry.count("{") == entry.count("}")
    assert "url" not in citation.bibtex(PROVENANCE, synthetic=False)


def test_only_a_plain_http_address_becomes_the_url():
    assert citation.site_url("https://example.org/x/ ") == "https://example.org/x/"
    for value in (None, "", "javascript:alert(1)", "https://a.org/}{", "https://a b", "file:///tmp/site/"):
        assert citation.site_url(value) is None, value


def test_values_from_the_results_cannot_break_the_entry():
    entry = citation.bibtex({**PROVENANCE, "commit": "abc}\n@misc{x", "data": "<b>`x`</b>\\"}, synthetic=False)
    assert entry.count("{") == entry.count("}") and entry.count("@misc{") == 1 and entry.count("\n") == 7
    assert "<" not in entry and "`" not in entry and "\\" not in entry


def test_the_cite_page_offers_the_entry_it_shows_as_a_bib_file(tmp_path, monkeypatch):
    monkeypatch.setenv("SITE_URL", "https://example.org/cifarcmp/")
    main = write_golden_results(tmp_path)
    render(main, tmp_path / "out")
    bib = (tmp_path / "out" / citation.BIB_FILE).read_text()
    page = (tmp_path / "out" / "cite.md").read_text()
    assert f"```bibtex\n{bib}```" in page
    assert "url          = {https://example.org/cifarcmp/}" in bib
    assert f"]({citation.BIB_FILE}){{ download }}" in page
