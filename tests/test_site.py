"""The built site, as a reader sees it: render fixtures, `mkdocs build --strict`, open in Chromium.

Everything happens in a copy of docs/ and mkdocs.yml under tmp_path, so the real
docs/generated/ is never touched. Screenshots of the home, comparison and evidence pages, and the
page weights measured, go to screenshots/ (gitignored) for a person to look at.
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from fixtures import build_site, write_fixture_run, write_fixture_study
from test_claims import CNN_SLOW, RESNET_FAST, _arms

from cifarcmp import stats
from cifarcmp.paths import PROJECT_ROOT
from cifarcmp.report.figures import FONT
from cifarcmp.report.pdf import print_pdf
from cifarcmp.report.serve import serving

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
SCREENSHOTS = PROJECT_ROOT / "screenshots"
SYNTHETIC_NOTE = "synthetic data — not CIFAR-10 results"
# Served as GitHub serves a project page: under /<repository>/, with the site built for that address.
SUB_PATH = "cifarcmp"
SITE_URL = f"https://example.invalid/{SUB_PATH}/"


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict:
    """Fixture results (or CIFARCMP_SITE_RESULTS), rendered and built in a scratch copy."""
    root = tmp_path_factory.mktemp("site")
    # CIFARCMP_SITE_RESULTS=DIR checks the site built from real runs (e.g. smoke training output)
    # instead of the hand-built fixtures.
    results = Path(os.environ.get("CIFARCMP_SITE_RESULTS") or root / "results")
    if "CIFARCMP_SITE_RESULTS" not in os.environ:
        # One run with a gallery.npz and one without, so the page shows both cases.
        for model in ("resnet50", "cnn"):
            write_fixture_run(results / model / "seed-0", model, gallery=model == "resnet50")
        # Studies beside the results (results/ -> studies-results/), so the claims, studies and
        # study-figures pages are built from data too.
        studies = root / "studies-results"
        _arms(studies, RESNET_FAST, CNN_SLOW)
        write_fixture_study(
            studies,
            "data-efficiency",
            [
                {"arm": "resnet50", "fraction": 0.1, **RESNET_FAST},
                {"arm": "cnn", "fraction": 0.1, **CNN_SLOW},
                {"arm": "resnet50", **RESNET_FAST},
                {"arm": "cnn", **CNN_SLOW},
            ],
        )
    built = build_site(results, root, site_url=SITE_URL)
    if CHROMIUM.exists():
        print_pdf(built["site"])  # as `make site` does; the Cite page links to it
    return built


def test_build_writes_every_page_without_outside_references(built):
    site = built["site"]
    pages = sorted(path.relative_to(site).as_posix() for path in site.rglob("*.html"))
    for expected in (
        "index.html",
        "background.html",
        "notebooks/training-curves.html",
        "notebooks/evidence.html",
        "limitations.html",
        "generated/data.html",
        "generated/method.html",
        "generated/architectures.html",
        "generated/comparison.html",
        "generated/discussion.html",
        "generated/cite.html",
        "generated/references.html",
        "generated/claims.html",
        "generated/studies.html",
        "notebooks/study-figures.html",
        "generated/improvements.html",
    ):
        assert expected in pages
    for page in pages:
        html = (site / page).read_text(encoding="utf-8")
        # src= loads something when the page is read (href= on <a> only when clicked).
        assert 'src="http' not in html and "src='http" not in html, page
        assert "fonts.googleapis" not in html, page
    assert (site / "generated" / "tables" / "comparison.csv").is_file()


@pytest.fixture(scope="module")
def server(built):
    """The site under http://127.0.0.1:<port>/cifarcmp/, as GitHub serves a project page (gzip, its 404 page)."""
    with serving(built["site"], sub_path=SUB_PATH) as url:
        yield url


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    if not CHROMIUM.exists() or not CHROMEDRIVER.exists():
        pytest.skip(f"{CHROMIUM} or {CHROMEDRIVER} is absent (Debian: apt install chromium chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = str(CHROMIUM)
    for argument in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1280,1000",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    yield driver
    driver.quit()


def _open(driver, url: str) -> None:
    driver.get(url)
    for _ in range(100):
        if driver.execute_script("return document.readyState") == "complete":
            return
        time.sleep(0.05)
    raise TimeoutError(f"{url} did not finish loading")


def _screenshot(driver, name: str) -> None:
    """The whole page, however long, through the DevTools protocol (a window is capped in height)."""
    SCREENSHOTS.mkdir(exist_ok=True)
    size = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
    shot = driver.execute_cdp_cmd(
        "Page.captureScreenshot",
        {
            "format": "png",
            "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1},
        },
    )
    (SCREENSHOTS / name).write_bytes(base64.b64decode(shot["data"]))


def _every_image_seen(browser) -> list:
    """Each image scrolled to in turn, as a reader would (figures after a page's first load lazily),
    and its source and natural width once it has loaded or failed."""
    count = browser.execute_script("return document.images.length")
    for index in range(count):
        browser.execute_script("document.images[arguments[0]].scrollIntoView()", index)
        for _ in range(100):
            if browser.execute_script("return document.images[arguments[0]].complete", index):
                break
            time.sleep(0.05)
    return browser.execute_script(
        "return Array.from(document.images).map(i => [i.currentSrc.slice(0, 80), i.naturalWidth])"
    )


def test_every_page_reads_right_in_a_browser(built, server, browser):
    site = built["site"]
    pages = sorted(path.relative_to(site).as_posix() for path in site.rglob("*.html") if path.name != "404.html")
    synthetic = json.loads((built["root"] / "docs" / "generated" / "run.json").read_text())["synthetic"]
    browser.get_log("performance")  # drop what the browser did before the first page
    links, weights, requests = set(), {}, []
    for page in pages:
        _open(browser, server + page)
        images = _every_image_seen(browser)
        assert all(width > 0 for _, width in images), (page, images)
        if page in (
            "generated/data.html",
            "notebooks/training-curves.html",
            "notebooks/evidence.html",
            "notebooks/study-figures.html",
        ):
            assert images, f"{page}: expected figures"
        text = browser.find_element("css selector", "article").text
        if synthetic:
            assert "Synthetic data — not CIFAR-10 results" in text, f"{page}: no synthetic-data warning"
        assert "Provenance: profile " in text, f"{page}: no provenance block"
        tables = browser.execute_script("return document.querySelectorAll('article table').length")
        # Every table carries its caption as a real <caption>, read out with the table.
        captions = browser.execute_script(
            "return Array.from(document.querySelectorAll('article table > caption'))"
            ".filter(c => c.textContent.startsWith('Table:')).map(c => c.textContent)"
        )
        assert len(captions) == tables, f"{page}: {tables} tables but {len(captions)} captions"
        assert all((SYNTHETIC_NOTE in caption) == synthetic for caption in captions), (page, captions)
        errors = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
        assert not errors, (page, errors)
        links.update(browser.execute_script("return Array.from(document.links).map(a => a.href)"))
        weights[page] = browser.execute_script(
            "return performance.getEntriesByType('navigation').concat(performance.getEntriesByType('resource'))"
            ".reduce((total, entry) => total + (entry.decodedBodySize || 0), 0)"
        )
        for entry in browser.get_log("performance"):
            message = json.loads(entry["message"])["message"]
            if message["method"] == "Network.requestWillBeSent":
                requests.append(message["params"]["request"]["url"])

    # chrome:// requests are the browser's own pages (the new-tab page before the first get),
    # served from inside the binary; anything that reaches a network has a network scheme.
    outside = [
        url
        for url in requests
        if url.split(":", 1)[0] in ("http", "https", "ws", "wss", "ftp")
        and urllib.parse.urlsplit(url).hostname not in ("127.0.0.1", "localhost")
    ]
    assert not outside, f"requests left localhost: {sorted(set(outside))[:10]}"

    internal = {link.split("#")[0] for link in links if link.startswith(server)}
    broken = []
    for link in sorted(internal):
        try:
            with urllib.request.urlopen(link) as response:
                assert response.status == 200, link
        except urllib.error.HTTPError as error:
            broken.append(f"{link} ({error.code})")
    assert not broken, f"internal links that do not resolve: {broken}"

    SCREENSHOTS.mkdir(exist_ok=True)
    (SCREENSHOTS / "page-weights.json").write_text(
        json.dumps(
            {
                "build_seconds": round(built["build_seconds"], 2),
                "decoded_bytes_per_page": weights,
                "html_bytes_per_page": {page: (site / page).stat().st_size for page in pages},
            },
            indent=2,
        )
        + "\n"
    )


def test_comparison_table_holds_the_metrics(built, server, browser):
    _open(browser, server + "generated/comparison.html")
    table = browser.find_element("css selector", "article table")
    header = [cell.text for cell in table.find_elements("css selector", "thead th")]
    rows = [
        [cell.text for cell in row.find_elements("css selector", "td")]
        for row in table.find_elements("css selector", "tbody tr")
    ]
    by_label = {row[0]: row[1:] for row in rows}
    for model, label in (("resnet50", "ResNet50"), ("cnn", "CNN")):
        metrics = json.loads((built["runs"][model] / "metrics.json").read_text())
        column = header.index(label) - 1
        assert by_label["Test accuracy"][column] == f"{metrics['test_accuracy'] * 100:.2f} %"
        assert by_label["Validation accuracy (chosen weights)"][column] == f"{metrics['val_accuracy'] * 100:.2f} %"
        assert by_label["Train accuracy (chosen weights)"][column] == f"{metrics['train_accuracy'] * 100:.2f} %"
        assert by_label["Test loss"][column] == f"{metrics['test_loss']:.4f}"
        assert by_label["Parameters"][column] == f"{metrics['parameters']['total']:,}"
        assert by_label["Epochs run"][column] == str(metrics["epochs_run"])
        assert by_label["Seeds (runs)"][column] == "1"
    synthetic = json.loads((built["root"] / "docs" / "generated" / "run.json").read_text())["synthetic"]
    if synthetic:  # CIFAR-10 figures beside synthetic ones would invite a meaningless comparison
        assert not any("seed report" in column for column in header), header
    else:
        assert "ResNet50: seed report (reference)" in header and "CNN: seed report (reference)" in header
        assert by_label["Test accuracy"][header.index("ResNet50: seed report (reference)") - 1] == "95.33 %"
    _screenshot(browser, "comparison.png")
    for page, name in (
        ("index.html", "home.png"),
        ("notebooks/training-curves.html", "training-curves.png"),
        ("generated/data.html", "data.png"),
    ):
        _open(browser, server + page)
        _screenshot(browser, name)


def test_evidence_page_shows_intervals_tests_and_figures(built, server, browser):
    _open(browser, server + "notebooks/evidence.html")
    images = _every_image_seen(browser)
    # Two confusion figures and the reliability diagrams, plus a gallery for each run that has one.
    galleries = sum((run / "gallery.npz").is_file() for run in built["runs"].values())
    assert len(images) >= 3 + galleries and all(width > 0 for _, width in images), images
    text = browser.find_element("css selector", "article").text
    for run in built["runs"].values():
        with np.load(run / "predictions.npz") as predictions:
            correct = int((predictions["probabilities"].argmax(axis=1) == predictions["labels"]).sum())
            total = predictions["labels"].size
        lower, upper = stats.binomial_interval(correct, total)
        assert f"{lower * 100:.2f} – {upper * 100:.2f} %" in text, (run, lower, upper)
    assert "Clopper–Pearson" in text and "McNemar" in text
    # Real smoke runs of the two models may use different test subsets: then no paired test.
    assert "significant at the 5 % level" in text or "do not share the same test images" in text
    if galleries < len(built["runs"]):
        assert "not recorded for this run" in text
    _screenshot(browser, "evidence.png")


def test_claims_page_shows_the_verdicts_computed_from_the_studies(built, server, browser):
    if "CIFARCMP_SITE_RESULTS" in os.environ:
        pytest.skip("the fixture studies are built only with the fixture results")
    _open(browser, server + "generated/claims.html")
    text = browser.find_element("css selector", "article").text
    # The fixture studies are real-data runs (ImageNet weights loaded) that make ResNet50 faster and
    # more accurate on the same test images: the verdicts are computed. (Smoke runs without the
    # weights give "not tested" with the reason: tests/test_claims.py and the golden Claims page.)
    assert "Verdict: supported." in text
    assert "It generalises better" in text and "It helps when data is scarce" in text


def _pages(site: Path) -> list[str]:
    return sorted(path.relative_to(site).as_posix() for path in site.rglob("*.html") if path.name != "print_page.html")


def test_no_page_is_heavier_than_400_kb_and_none_shows_the_build_machine(built):
    """Figures are files, not base64 in the page, and JupyterLab's CSS is gone: every page is light.
    No absolute path of the machine that built the site reaches a reader."""
    site = built["site"]
    weights = {page: (site / page).stat().st_size for page in _pages(site)}
    heavy = {page: size for page, size in weights.items() if size >= 400_000}
    assert not heavy, heavy
    for page in [*weights, "print_page.html"]:
        html = (site / page).read_text(encoding="utf-8")
        assert str(built["root"]) not in html and str(PROJECT_ROOT) not in html, page
        assert "data:image/png;base64" not in html, page
        assert "In&nbsp;[" not in html and "jp-InputPrompt" not in html, page
    for path in site.rglob("*"):
        if path.suffix in (".csv", ".tex", ".txt", ".md"):
            assert str(built["root"]) not in path.read_text(encoding="utf-8"), path
    SCREENSHOTS.mkdir(exist_ok=True)
    (SCREENSHOTS / "html-bytes.json").write_text(json.dumps(weights, indent=2) + "\n")


def test_axe_finds_no_accessibility_violation_on_any_page(built, server, browser):
    from axe_selenium_python import Axe

    found = {}
    for page in _pages(built["site"]):
        if page == "404.html":
            continue
        _open(browser, server + page)
        axe = Axe(browser)
        axe.inject()
        violations = axe.run()["violations"]
        if violations:
            found[page] = [(violation["id"], len(violation["nodes"])) for violation in violations]
    assert not found, found


def test_the_404_page_works_under_a_sub_path(built, server, browser):
    """A missing page under /cifarcmp/ gets the 404 page (as GitHub Pages serves it) with its style,
    script and home link under /cifarcmp/, not /."""
    missing = server + "generated/no-such-page/"
    with pytest.raises(urllib.error.HTTPError) as answer:
        urllib.request.urlopen(missing)
    assert answer.value.code == 404
    _open(browser, missing)
    sub_path = urllib.parse.urlsplit(server).path
    found = browser.execute_script(
        "return {sheets: Array.from(document.styleSheets).filter(s => s.href).map(s => [s.href, s.cssRules.length]),"
        " scripts: Array.from(document.scripts).filter(s => s.src).map(s => s.src),"
        " home: document.querySelector('a.md-header__button.md-logo').href}"
    )
    assert found["sheets"] and found["scripts"]
    for href, rules in found["sheets"]:
        assert urllib.parse.urlsplit(href).path.startswith(sub_path) and rules > 0, href
    for source in found["scripts"]:
        assert urllib.parse.urlsplit(source).path.startswith(sub_path), source
    assert urllib.parse.urlsplit(found["home"]).path.startswith(sub_path), found["home"]
    # Every one of those loads (a 404 would leave the page unstyled, or without search).
    for url in [href for href, _ in found["sheets"]] + found["scripts"]:
        with urllib.request.urlopen(urllib.parse.urljoin(server, urllib.parse.urlsplit(url).path)) as response:
            assert response.status == 200, url
    assert "404" in browser.find_element("tag name", "h1").text


def test_figures_enlarge_on_click_and_only_what_a_page_needs_holds_up_its_first_paint(built, server, browser):
    """The lightbox loads where there is a figure, at the end of the body; figures after the first
    load lazily; print-site's assets stay on the print page, whose images load at once for the PDF."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    site = built["site"]
    index = (site / "index.html").read_text(encoding="utf-8")
    assert "glightbox.min.js" not in index and "print-site" not in index
    evidence = (site / "notebooks" / "evidence.html").read_text(encoding="utf-8")
    head = evidence.split("</head>")[0]
    assert "glightbox" not in head and "iframe-worker-shim" not in head and "<script src=" not in head
    images = re.findall(r'<figure class="report-figure">.*?(<img[^>]*>)', evidence, re.DOTALL)
    assert len(images) >= 2
    assert 'loading="lazy"' not in images[0] and all('loading="lazy"' in image for image in images[1:])
    printed = (site / "print_page.html").read_text(encoding="utf-8")
    assert 'loading="lazy"' not in printed and "print-site.js" in printed

    _open(browser, server + "notebooks/evidence.html")
    link = browser.find_element(By.CSS_SELECTOR, "figure.report-figure a.glightbox")
    browser.execute_script("arguments[0].scrollIntoView()", link)
    link.click()
    enlarged = WebDriverWait(browser, 10).until(
        expected_conditions.visibility_of_element_located((By.CSS_SELECTOR, ".glightbox-container .gslide-image img"))
    )
    assert enlarged.get_attribute("src") == link.get_attribute("href")  # the figure's own file, whole


def test_search_works_from_the_files_on_disk(built, browser):
    """Opened as file://.../index.html (no server), search still finds a word on the site: the
    offline plugin's inlined index and the iframe-worker shim stand in for fetch and a worker."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    _open(browser, (built["site"] / "index.html").as_uri())
    query = browser.find_element(By.CSS_SELECTOR, "input.md-search__input")
    query.click()
    query.send_keys("ResNet50")
    results = WebDriverWait(browser, 20).until(
        expected_conditions.visibility_of_all_elements_located((By.CSS_SELECTOR, ".md-search-result__item"))
    )
    assert results
    meta = browser.find_element(By.CSS_SELECTOR, ".md-search-result__meta").text
    assert "matching" in meta.lower() and "no matching" not in meta.lower(), meta
    assert "resnet50" in results[0].text.lower()
    assert results[0].find_element(By.TAG_NAME, "a").get_attribute("href").startswith("file://")


def _shaded_share(browser, box) -> float:
    """The share of pixel rows of the box whose rightmost pixels are clearly darker than the page (white: 255)."""
    from PIL import Image

    image = Image.open(io.BytesIO(box.screenshot_as_png)).convert("L")
    width, height = image.size
    edge = [min(image.getpixel((x, y)) for x in range(width - 3, width)) for y in range(height)]
    return sum(value < 215 for value in edge) / height


def _assert_scroll_shadow(browser, page: str, table_id: str) -> None:
    """The table's box shows a shadow at its right edge while columns are hidden there, in every
    pixel row (text crossing the edge darkens only some), and none once scrolled to the end."""
    from selenium.webdriver.common.by import By

    box = browser.find_element(By.ID, table_id).find_element(
        By.XPATH, "ancestor::div[@class and contains(@class, 'md-typeset__scrollwrap')]"
    )
    browser.execute_script("arguments[0].scrollIntoView(); arguments[0].scrollLeft = 0;", box)
    assert _shaded_share(browser, box) > 0.9, (page, table_id, "no shadow says the table scrolls")
    browser.execute_script("arguments[0].scrollLeft = arguments[0].scrollWidth;", box)
    assert _shaded_share(browser, box) < 0.5, (page, table_id, "a shadow where nothing more is hidden")
    browser.execute_script("arguments[0].scrollLeft = 0;", box)


def test_every_table_and_figure_fits_a_phone_or_says_it_scrolls(built, server, browser):
    """At 390 px no table is cut off without a cue: a wider one scrolls in a focusable, named box;
    no figure is wider than the column and no figure's text is below 10 px as displayed."""
    browser.set_window_size(390, 844)
    try:
        for page in _pages(built["site"]):
            if page == "404.html":
                continue
            _open(browser, server + page)
            tables = browser.execute_script(
                "return Array.from(document.querySelectorAll('article table')).map(t => {"
                " const box = t.closest('.md-typeset__scrollwrap');"
                " return [t.id, t.scrollWidth, box ? box.clientWidth : 0, box ? box.tabIndex : -1,"
                " box ? box.getAttribute('aria-label') || '' : '']; })"
            )
            for name, table_width, box_width, tab_index, label in tables:
                if table_width > box_width:
                    assert box_width > 0 and tab_index == 0 and label.startswith("Table:"), (page, name)
            overflowing = [name for name, table_width, box_width, *_ in tables if table_width > box_width and name]
            if overflowing:
                _assert_scroll_shadow(browser, page, overflowing[0])
            figures = browser.execute_script(
                "const column = document.querySelector('article').clientWidth;"
                "return Array.from(document.querySelectorAll('article figure img, article img[src$=\\'samples.png\\']'))"
                ".map(i => [i.getAttribute('src'), i.getBoundingClientRect().width, i.getAttribute('width'), column,"
                " i.getAttribute('alt') || '']);"
            )
            for source, shown, drawn, column, alt in figures:
                assert shown <= column + 1, (page, source, shown, column)
                # Fonts are FONT points in a figure `drawn` px wide (100 px per inch): as displayed,
                # FONT * 100 / 72 * shown / drawn.
                assert FONT * 100 / 72 * shown / float(drawn) >= 10, (page, source, shown, drawn)
                assert alt and "No description" not in alt, (page, source)
            _screenshot(browser, f"phone-{page.replace('/', '-').removesuffix('.html')}.png")
    finally:
        browser.set_window_size(1280, 1000)


def _flat(text: str) -> str:
    """Text without whitespace: a PDF's extracted text breaks lines wherever the print wrapped them."""
    return re.sub(r"\s+", "", text)


def _bookmarks(reader, items, level=0) -> list[tuple[int, str, int]]:
    """(level, title, page index) of every bookmark, in order."""
    found = []
    for item in items:
        if isinstance(item, list):
            found += _bookmarks(reader, item, level + 1)
        else:
            found.append((level, item.title, reader.get_destination_page_number(item)))
    return found


def test_the_pdf_holds_the_whole_report(built):
    """The PDF read back as a reader gets it: the whole report, numbered pages whose labels match
    the printed numbers, a table of contents whose numbers are where its bookmarks land, links to
    the published site only, and every table whole (each column header of each table printed)."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is absent: no PDF")
    from bs4 import BeautifulSoup
    from pypdf import PdfReader

    reader = PdfReader(built["site"] / "report.pdf")
    texts = [page.extract_text() for page in reader.pages]
    text = "\n".join(texts)
    assert len(reader.pages) > 5
    for run in built["runs"].values():
        total = json.loads((run / "metrics.json").read_text())["parameters"]["total"]
        assert f"{total:,}" in text, total
    synthetic = json.loads((built["root"] / "docs" / "generated" / "run.json").read_text())["synthetic"]
    assert ("Synthetic data" in text) == synthetic
    assert "Provenance" in texts[0]  # the title page
    assert str(built["root"]) not in text

    # One page number a page (the first line of its text), none on the title page; the labels a
    # viewer shows are the printed numbers.
    assert reader.page_labels == ["Title"] + [str(number) for number in range(2, len(reader.pages) + 1)]
    for label, page_text in zip(reader.page_labels[1:], texts[1:]):
        assert page_text.split("\n", 1)[0].strip() == label, page_text[:80]
    assert not re.search(r"\bPage \d+\b|\b\d+ / \d+\b", text)

    # Bookmarks: every page of the nav and the appendix, each landing on the page that holds its
    # title, and the contents (once, on the page after the title) give that page's number.
    bookmarks = _bookmarks(reader, reader.outline)
    titles = [title for _, title, _ in bookmarks]
    for expected in ("Context", "Background", "Comparison", "Test-set evidence", "Cite this report"):
        assert expected in titles, titles
    assert titles[-1] == "Appendix: provenance"
    assert text.count("Contents\n") == 1 and texts[1].split("\n")[1] == "Contents"
    contents = _flat("".join(texts[1 : bookmarks[0][2]]))  # from the title page to the first section
    for level, title, page in bookmarks:
        assert _flat(title).casefold() in _flat(texts[page]).casefold(), (title, page)  # nav sections print in capitals
        if level < 2:
            assert _flat(f"{title} {reader.page_labels[page]}") in contents, (title, page)

    # Links: inside the document, to the published site or to cited works; never to a file on the
    # build machine.
    addresses = [
        annotation.get_object()["/A"]["/URI"]
        for page in reader.pages
        for annotation in page.get("/Annots") or []
        if "/A" in annotation.get_object() and "/URI" in annotation.get_object()["/A"]
    ]
    assert any(address.startswith(SITE_URL) for address in addresses), addresses[:5]
    assert all(urllib.parse.urlsplit(address).scheme in ("https", "http") for address in addresses), addresses
    assert "file://" not in text

    # No table cut off at the page's edge: every column header of every table is printed.
    source = BeautifulSoup((built["site"] / "print_page.html").read_text(), "html.parser")
    headers = {cell.get_text(" ", strip=True) for cell in source.select("#print-site-page table thead th")}
    assert len(headers) > 20
    flat = _flat(text)
    missing = sorted(header for header in headers if _flat(header) not in flat)
    assert not missing, missing
    # No code cell printed (the notebook pages' cells all display through `site`).
    assert "site.figure(" not in text and "display(" not in text
