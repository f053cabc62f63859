"""The site served as GitHub Pages serves it (`make serve`, the browser tests, `make bench-site`)."""

from __future__ import annotations

import gzip
import subprocess
import sys
import urllib.error
import urllib.request

import pytest

from cifarcmp.report.serve import serving


@pytest.fixture
def site(tmp_path):
    (tmp_path / "index.html").write_text("<h1>home</h1>" + "text " * 500)
    (tmp_path / "404.html").write_text("<h1>404 - Not found</h1>")
    (tmp_path / "generated").mkdir()
    (tmp_path / "generated" / "index.html").write_text("<h1>generated</h1>")
    (tmp_path / "figure.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(1000))
    return tmp_path


def _get(url: str, gzip_accepted: bool = True):
    request = urllib.request.Request(url, headers={"Accept-Encoding": "gzip"} if gzip_accepted else {})
    with urllib.request.urlopen(request) as response:
        return response.status, response.headers, response.read()


def test_text_is_compressed_for_a_browser_that_accepts_gzip(site):
    with serving(site, sub_path="cifarcmp") as url:
        status, headers, body = _get(url)
        assert status == 200 and headers["Content-Encoding"] == "gzip"
        assert gzip.decompress(body) == (site / "index.html").read_bytes()
        assert len(body) < (site / "index.html").stat().st_size / 5
        # Without Accept-Encoding the same bytes come plain; a PNG is never compressed again.
        assert _get(url, gzip_accepted=False)[2] == (site / "index.html").read_bytes()
        status, headers, body = _get(url + "figure.png")
        assert headers["Content-Encoding"] is None and body == (site / "figure.png").read_bytes()


def test_a_missing_page_gets_the_sites_404_page_and_nothing_exists_outside_the_sub_path(site):
    with serving(site, sub_path="cifarcmp") as url:
        for missing in (url + "no-such-page.html", url.replace("/cifarcmp/", "/") + "index.html"):
            with pytest.raises(urllib.error.HTTPError) as answer:
                _get(missing, gzip_accepted=False)
            assert answer.value.code == 404
            assert b"404 - Not found" in answer.value.read()
        # A folder is its index.html, once its URL ends in a slash (http.server's redirect before that).
        assert _get(url + "generated/", gzip_accepted=False)[2] == b"<h1>generated</h1>"
        assert _get(url + "generated", gzip_accepted=False)[2] == b"<h1>generated</h1>"


@pytest.mark.parametrize("module", ["cifarcmp.report.serve", "cifarcmp.report.bench"])
def test_no_site_there_is_a_one_line_error(tmp_path, module):
    completed = subprocess.run(
        [sys.executable, "-m", module, str(tmp_path / "site")], capture_output=True, text=True, timeout=60
    )
    assert completed.returncode == 2
    assert completed.stderr.startswith("error: ") and len(completed.stderr.strip().splitlines()) == 1, completed.stderr
