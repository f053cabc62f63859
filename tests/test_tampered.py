"""Tampered or damaged results, and a hostile --out: one line naming the file, old pages kept.

Each case edits one file of a finished fixture run (tests/fixtures.py, the exact contract) the
way a damaged disk or a hand edit would; `render` and `evaluate` must refuse it with one line
naming the file, never a traceback and never a page showing "nan" or "inf h". The injection test
builds the site from a run whose every free-text field holds markup, and looks for real tags.
"""

from __future__ import annotations

import csv
import errno
import json
import os
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from conftest import assert_one_line_error, run_cli
from fixtures import build_site, write_fixture_results, write_fixture_run, write_fixture_study

from cifarcmp.analysis.runs import load_groups
from cifarcmp.errors import UserError
from cifarcmp.lock import hold
from cifarcmp.paths import PROJECT_ROOT
from cifarcmp.report.render import MARKER, render


def _results(root: Path) -> Path:
    return write_fixture_results(root)


def _edit_json(name: str, change):
    def edit(run: Path) -> None:
        data = json.loads((run / name).read_text())
        change(data)  # in place; what it returns (a popped item) is ignored
        (run / name).write_text(json.dumps(data))

    return edit


def _edit_history(change):
    def edit(run: Path) -> None:
        with (run / "history.csv").open(newline="") as handle:
            rows = list(csv.reader(handle))
        change(rows)
        with (run / "history.csv").open("w", newline="") as handle:
            csv.writer(handle).writerows(rows)

    return edit


def _edit_npz(name: str, **arrays):
    def edit(run: Path) -> None:
        with np.load(run / name) as archive:
            content = {key: archive[key] for key in archive.files}
        content.update(arrays)
        np.savez(run / name, **content)

    return edit


def _truncate(name: str):
    def edit(run: Path) -> None:
        data = (run / name).read_bytes()
        (run / name).write_bytes(data[: len(data) // 2])

    return edit


def _set(*keys, value):
    """A change setting data[k1][k2]... = value."""

    def change(data):
        for key in keys[:-1]:
            data = data[key]
        data[keys[-1]] = value

    return change


NAN = float("nan")
# (file, what the line names, the edit)
CASES = {
    "truncated predictions": ("predictions.npz", "unreadable", _truncate("predictions.npz")),
    "truncated samples": ("samples.npz", "unreadable", _truncate("samples.npz")),
    "manifest holds a list": ("manifest.json", "not 'complete'", lambda run: (run / "manifest.json").write_text("[]")),
    "metrics holds a list": ("metrics.json", "JSON object", lambda run: (run / "metrics.json").write_text("[]")),
    "deeply nested metrics": (
        "metrics.json",
        "nested too deeply",
        lambda run: (run / "metrics.json").write_text("[" * 200_000 + "]" * 200_000),
    ),
    "empty metrics": ("metrics.json", "not valid JSON", lambda run: (run / "metrics.json").write_text("")),
    "NaN loss in history": ("history.csv", "loss", _edit_history(lambda rows: rows[2].__setitem__(1, "nan"))),
    "infinite seconds in history": (
        "history.csv",
        "seconds",
        _edit_history(lambda rows: rows[1].__setitem__(rows[0].index("seconds"), "inf")),
    ),
    "short history row": ("history.csv", "cells", _edit_history(lambda rows: rows[1].pop())),
    "long history row": ("history.csv", "cells", _edit_history(lambda rows: rows[1].append("1"))),
    "duplicated epoch": ("history.csv", "epoch", _edit_history(lambda rows: rows.insert(2, list(rows[1])))),
    "text in history": ("history.csv", "not a number", _edit_history(lambda rows: rows[1].__setitem__(2, "high"))),
    "eleven class names": (
        "manifest.json",
        "class_names",
        _edit_json("manifest.json", lambda data: data["data"]["class_names"].append("extra")),
    ),
    "class name with a newline": (
        "manifest.json",
        "class_names[0]",
        _edit_json("manifest.json", _set("data", "class_names", 0, value="cat\ndog")),
    ),
    "no class names": (
        "manifest.json",
        "class_names",
        _edit_json("manifest.json", lambda data: data["data"].pop("class_names")),
    ),
    "NaN test loss": ("metrics.json", "test_loss", _edit_json("metrics.json", _set("test_loss", value=NAN))),
    "infinite wall time": (
        "metrics.json",
        "wall_seconds",
        _edit_json("metrics.json", _set("wall_seconds", value=1e400)),
    ),
    "negative wall time": (
        "metrics.json",
        "wall_seconds",
        _edit_json("metrics.json", _set("wall_seconds", value=-5.0)),
    ),
    "accuracy true": ("metrics.json", "test_accuracy", _edit_json("metrics.json", _set("test_accuracy", value=True))),
    "accuracy as text": ("metrics.json", "val_accuracy", _edit_json("metrics.json", _set("val_accuracy", value="0.9"))),
    "best epoch 1.5": ("metrics.json", "best_epoch", _edit_json("metrics.json", _set("best_epoch", value=1.5))),
    "best epoch past the end": ("metrics.json", "best_epoch", _edit_json("metrics.json", _set("best_epoch", value=99))),
    "epochs run as bool": ("metrics.json", "epochs_run", _edit_json("metrics.json", _set("epochs_run", value=True))),
    "parameters as text": (
        "metrics.json",
        "parameters.total",
        _edit_json("metrics.json", _set("parameters", "total", value="many")),
    ),
    "zero training FLOPs": (
        "metrics.json",
        "compute.training_flops",
        _edit_json("metrics.json", _set("compute", "training_flops", value=0)),
    ),
    "device name a number": (
        "manifest.json",
        "device.name",
        _edit_json("manifest.json", _set("device", "name", value=7)),
    ),
    "finished at no date": (
        "manifest.json",
        "finished_at",
        _edit_json("manifest.json", _set("finished_at", value="yesterday")),
    ),
    "synthetic as text": (
        "manifest.json",
        "data.synthetic",
        _edit_json("manifest.json", _set("data", "synthetic", value="yes")),
    ),
    "test counts of nine classes": (
        "manifest.json",
        "data.counts.test",
        _edit_json("manifest.json", lambda data: data["data"]["counts"]["test"].pop()),
    ),
    "versions nested": (
        "manifest.json",
        "versions.keras",
        _edit_json("manifest.json", _set("versions", "keras", value={})),
    ),
    "no layers": ("summary.json", "layers", _edit_json("summary.json", _set("layers", value=[]))),
    "layer with negative parameters": (
        "summary.json",
        "layers[1].params",
        _edit_json("summary.json", _set("layers", 1, "params", value=-1)),
    ),
    "seed as text": ("config.json", "seed", _edit_json("config.json", _set("seed", value="0"))),
    "short learning-rate schedule": (
        "config.json",
        "lr_schedule",
        _edit_json("config.json", lambda data: data["lr_schedule"].pop()),
    ),
    "unknown model": ("config.json", "model", _edit_json("config.json", _set("model", value="vgg"))),
    "empty samples": (
        "samples.npz",
        "images",
        _edit_npz("samples.npz", images=np.zeros((0, 32, 32, 3), np.uint8), labels=np.zeros(0, np.int64)),
    ),
    "misshapen samples": ("samples.npz", "images", _edit_npz("samples.npz", images=np.zeros((20, 32, 32), np.uint8))),
    "float samples": ("samples.npz", "images", _edit_npz("samples.npz", images=np.zeros((20, 32, 32, 3), np.float32))),
    "sample labels out of range": ("samples.npz", "labels", _edit_npz("samples.npz", labels=np.full(20, 12))),
    "NaN probabilities": (
        "predictions.npz",
        "probabilities",
        _edit_npz("predictions.npz", probabilities=np.full((200, 10), np.nan, np.float32)),
    ),
    "pickled predictions": (
        "predictions.npz",
        "unreadable",
        _edit_npz("predictions.npz", labels=np.array([object()] * 200, dtype=object)),
    ),
    "fewer predictions than test images": (
        "predictions.npz",
        "probabilities",
        _edit_npz("predictions.npz", probabilities=np.full((100, 10), 0.1, np.float32)),
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_tampered_run_is_refused_in_one_line_naming_the_file(tmp_path, case):
    """Every case on the loader the report reads the runs with (milliseconds, no rendering)."""
    name, fragment, edit = CASES[case]
    root = _results(tmp_path / "results")
    edit(root / "cnn" / "seed-0")
    with pytest.raises(UserError) as error:
        load_groups(root)
    message = str(error.value)
    assert "\n" not in message and name in message and fragment in message, message


@pytest.mark.parametrize("case", ["NaN loss in history", "eleven class names", "truncated predictions"])
def test_a_render_refused_on_a_tampered_run_keeps_the_previous_pages(tmp_path, case):
    """What render adds to the loader's refusal: the pages it made before are kept, byte for byte."""
    name, fragment, edit = CASES[case]
    root = _results(tmp_path / "results")
    out = tmp_path / "generated"
    render(root, out)
    before = {path: path.read_bytes() for path in out.rglob("*") if path.is_file()}
    edit(root / "cnn" / "seed-0")
    with pytest.raises(UserError, match=fragment):
        render(root, out)
    assert {path: path.read_bytes() for path in out.rglob("*") if path.is_file()} == before
    assert sorted(entry.name for entry in tmp_path.iterdir()) == [".generated.lock", "generated", "results"]


@pytest.mark.parametrize(
    "case", ["NaN loss in history", "eleven class names", "truncated predictions", "best epoch 1.5"]
)
@pytest.mark.parametrize("command", ["render", "evaluate"])
def test_the_commands_refuse_a_tampered_run_in_one_line(tmp_path, case, command):
    name, fragment, edit = CASES[case]
    root = _results(tmp_path / "results")
    edit(root / "cnn" / "seed-0")
    extra = ["--out", tmp_path / "generated"] if command == "render" else []
    assert_one_line_error(run_cli(command, root, *extra), name, fragment)
    assert not (root / "cnn" / "seed-0" / "evaluation.json").exists()


def test_a_null_git_commit_reads_as_unknown(tmp_path):
    """git_state() writes null where git is missing; the banner then says so."""
    root = _results(tmp_path / "results")
    _edit_json("manifest.json", _set("git", value={"commit": None, "dirty": None}))(root / "cnn" / "seed-0")
    render(root, tmp_path / "generated")
    assert "commit <code>unknown</code>" in (tmp_path / "generated" / "snippets" / "banner.md").read_text()


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        (lambda row: row.update(wall_seconds="long"), "runs[0].wall_seconds"),
        (lambda row: row.update(epochs_run=2.5), "runs[0].epochs_run"),
        (lambda row: row.update(device="cpu"), "runs[0].device"),
        (lambda row: row.update(test_accuracy=float("nan")), "runs[0].test_accuracy"),
        (lambda row: row.update(seed=True), "runs[0].seed"),
    ],
)
def test_wrong_types_in_a_study_summary_are_refused(tmp_path, change, fragment):
    root = _results(tmp_path / "smoke")
    studies = tmp_path / "studies-smoke"
    write_fixture_study(studies, "arms", [{"arm": "resnet50"}, {"arm": "cnn"}])
    summary = json.loads((studies / "arms" / "summary.json").read_text())
    change(summary["runs"][0])
    (studies / "arms" / "summary.json").write_text(json.dumps(summary))
    with pytest.raises(UserError) as error:
        render(root, tmp_path / "generated")
    assert "summary.json" in str(error.value) and fragment in str(error.value), str(error.value)


def test_evaluate_on_a_read_only_file_system_fails_in_one_line(tmp_path, monkeypatch, capsys):
    from cifarcmp import cli, results

    root = _results(tmp_path / "results")

    def read_only(*arguments, **options):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    monkeypatch.setattr(results.tempfile, "mkstemp", read_only)
    assert cli.main(["evaluate", str(root)]) == 1
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("cifarcmp: error:") and "Read-only file system" in lines[0]


# --out safety ------------------------------------------------------------------------------------


def test_render_refuses_to_replace_the_results_or_the_root(tmp_path):
    root = _results(tmp_path / "results")
    for out in (root, tmp_path, Path("/"), root / "cnn"):
        result = run_cli("render", root, "--out", out)
        assert_one_line_error(result, "--out")
    assert (root / "cnn" / "seed-0" / "manifest.json").is_file()
    assert (root / "resnet50" / "seed-0" / "manifest.json").is_file()


def test_render_keeps_a_users_folder_and_replaces_its_own(tmp_path):
    root = _results(tmp_path / "results")
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.md").write_text("my notes")
    assert_one_line_error(run_cli("render", root, "--out", out), "notes.md", "not a folder `cifarcmp render` made")
    assert (out / "notes.md").read_text() == "my notes"
    # An empty folder, and then the folder render made, are rendered into.
    empty = tmp_path / "empty"
    empty.mkdir()
    render(root, empty)
    assert (empty / MARKER).is_file() and (empty / "comparison.md").is_file()
    render(root, empty)
    assert (empty / MARKER).is_file()
    # The executed pages draw their figures into it during the site build; a second report renders again.
    (empty / "figures" / "confusion-cnn-seed-0.png").write_bytes(b"\x89PNG")
    (empty / "figures" / ".drawn-by-pages").write_text("confusion-cnn-seed-0.png\n")  # as report.site lists it
    render(root, empty)
    assert not (empty / "figures" / "confusion-cnn-seed-0.png").exists()
    (empty / "figures" / "mine").mkdir()
    assert_one_line_error(run_cli("render", root, "--out", empty), "figures/mine", "did not write")


def test_a_folder_without_the_marker_is_never_replaced(tmp_path):
    # Even one holding only render's own names: without the marker it may be a user's (issue 19).
    root = _results(tmp_path / "results")
    out = tmp_path / "generated"
    render(root, out)
    (out / MARKER).unlink()
    with pytest.raises(UserError, match="not a folder `cifarcmp render` made"):
        render(root, out)
    assert (out / "comparison.md").is_file()


def test_a_second_render_of_the_same_folder_is_refused_while_one_runs(tmp_path):
    root = _results(tmp_path / "results")
    out = tmp_path / "generated"
    render(root, out)
    before = (out / "comparison.md").read_text()
    # Another process holds the lock, as a running render does.
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from cifarcmp.lock import hold\n"
            f"with hold({str(tmp_path / '.generated.lock')!r}, 'render'):\n"
            "    print('held', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])},
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        result = run_cli("render", root, "--out", out)
        assert_one_line_error(result, "another render", "in use by process")
    finally:
        holder.kill()
        holder.wait()
    assert (out / "comparison.md").read_text() == before
    # Once the holder is gone (killed, even), the next render goes ahead.
    render(root, out)


def test_the_render_lock_is_the_one_cifarcmp_lock_holds(tmp_path):
    root = _results(tmp_path / "results")
    with hold(tmp_path / ".generated.lock", "render"), pytest.raises(UserError, match="in use"):
        render(root, tmp_path / "generated")


@pytest.mark.parametrize("failing", ["write_text", "rename"])
def test_a_full_disk_keeps_the_previous_pages_and_no_temporary_folder(tmp_path, monkeypatch, failing):
    root = _results(tmp_path / "results")
    out = tmp_path / "generated"
    render(root, out)
    before = {path: path.read_bytes() for path in out.rglob("*") if path.is_file()}
    original = getattr(Path, failing)

    def full(self, *arguments, **options):
        if ".generated.rendering" in str(self) and (
            failing == "write_text" or self.name.startswith(".generated.rendering")
        ):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self))
        return original(self, *arguments, **options)

    monkeypatch.setattr(Path, failing, full)
    with pytest.raises(UserError, match="No space left on device") as error:
        render(root, out)
    assert "\n" not in str(error.value) and "unchanged" in str(error.value)
    assert {path: path.read_bytes() for path in out.rglob("*") if path.is_file()} == before
    assert sorted(entry.name for entry in tmp_path.iterdir()) == [".generated.lock", "generated", "results"]


# Markup from results never reaches the site -----------------------------------------------------

SCRIPT = "<script>alert(1)</script>"
IMAGE = "<img src=x onerror=alert(1)>"
# Markdown links need no angle brackets; the second hides its scheme behind an entity.
LINKS = "[click](javascript:alert(1)) [click](&#106;avascript:alert(1))"
# Jinja, as the print-site plugin would evaluate it in the cover: an expression (49 if evaluated),
# a command (it would create the file RAN), and delimiters that would break a template.
JINJA = "/data/{{ 7*7 }}/x {% endraw %} {# c"
JINJA_COMMAND = "{{ cycler.__init__.__globals__.os.popen('touch RAN').read() }}"
# Python-Markdown's attribute lists: `{: onclick=... }` after a cell or a paragraph.
ATTRIBUTES = "cat {: onclick=alert(3) }"
# Blocks that a value with newlines could open on the Data page, and a right-to-left override.
BLOCKS = 'real\n\n!!! danger "Fake warning"\n    boo\n\n# Fake heading\n\n```\nfenced\n```\n\u202ereversed'


def _hostile_run(path: Path, model: str) -> None:
    """A fixture run whose every free-text field carries markup of some kind. (Class names with
    markup are refused at the contract: test_class_names_with_markup_are_refused_at_the_contract.)"""
    write_fixture_run(path, model)
    manifest = json.loads((path / "manifest.json").read_text())
    manifest["data"].update(
        source=f"cifar10 {SCRIPT} {JINJA} {JINJA_COMMAND}", description=f"{IMAGE} {BLOCKS}", sha256=SCRIPT
    )
    manifest["device"]["name"] = f"GPU {IMAGE} {LINKS} {ATTRIBUTES}"
    manifest["versions"].update(keras=SCRIPT, tensorflow=IMAGE, backend=JINJA_COMMAND[:64])
    manifest["git"]["commit"] = SCRIPT[:20]
    (path / "manifest.json").write_text(json.dumps(manifest))
    summary = json.loads((path / "summary.json").read_text())
    for layer in summary["layers"]:
        layer.update(name=f"{layer['name']}{SCRIPT} {ATTRIBUTES}", type=IMAGE, output_shape=f"{IMAGE} {JINJA}")
    (path / "summary.json").write_text(json.dumps(summary))
    config = json.loads((path / "config.json").read_text())
    config["deviations"] = [f"changed {SCRIPT}", f"changed {IMAGE}", f"changed {LINKS}", JINJA_COMMAND, ATTRIBUTES]
    config["data"] = SCRIPT
    (path / "config.json").write_text(json.dumps(config))


class _Tags(HTMLParser):
    """Every element of a page, with its attributes: a `<script>`, `onerror=` or script link here is real."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[str] = []
        self.handlers: list[tuple[str, str]] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        self._in_script = tag == "script"
        self.handlers += [(tag, name) for name, _ in attrs if name.startswith("on")]
        # HTMLParser has decoded the entities, as a browser does before it follows a link.
        self.handlers += [
            (tag, value)
            for name, value in attrs
            if name == "href"
            and "".join((value or "").split()).lower().startswith(("javascript:", "vbscript:", "data:"))
        ]

    def handle_data(self, data):
        if self._in_script:
            self.scripts.append(data)

    def handle_endtag(self, tag):
        self._in_script = False


def test_the_pages_have_no_markup_of_their_own(tmp_path):
    root = tmp_path / "results"
    for model in ("resnet50", "cnn"):
        _hostile_run(root / model / "seed-0", model)
    out = tmp_path / "generated"
    render(root, out)
    for path in out.rglob("*.md"):
        text = path.read_text()
        assert "<script" not in text and "<img" not in text, path
        # No Jinja delimiter, attribute list or bidirectional override survives into a page (but
        # the templates' own ids on table captions, `{: #table-... }` lines).
        text = re.sub(r"(?m)^ *\{: #table-[a-z0-9-]+ \}$", "", text)
        # and the BibTeX's own double braces, {{ResNet50} ...}: a value in it has lost its braces.
        text = re.sub(r"(?m)^  (title|author) += \{\{.*$", "", text)
        assert not any(token in text for token in ("{{", "{%", "{#", "{:", "\u202e")), path
    for path in out.rglob("*.html"):
        tags = _Tags()
        tags.feed(path.read_text())
        assert not tags.handlers and not any("alert" in script for script in tags.scripts), path
    data_page = (out / "data.md").read_text()
    assert "&#91;click&#93;(javascript:alert(1))" in (out / "method.md").read_text()  # shown, as text
    # The description's newlines are gone: no block of its own starts a line of the page.
    assert not any(line.startswith(("!!! danger", "# Fake", "```")) for line in data_page.splitlines())
    assert "Fake warning" in data_page  # still shown, as text


def test_the_cover_is_inert_for_the_print_site_plugins_jinja(tmp_path):
    """mkdocs-print-site renders the cover snippet again, as a template of a plain Jinja environment:
    rendered that way, it must come out unchanged (no value is a template expression)."""
    import jinja2

    root = tmp_path / "results"
    for model in ("resnet50", "cnn"):
        _hostile_run(root / model / "seed-0", model)
    out = tmp_path / "generated"
    render(root, out)
    cover = (out / "snippets" / "cover.html").read_text()
    assert jinja2.Environment().from_string(cover).render() == cover


@pytest.mark.parametrize("name", ["cat {: onclick=alert(3) }", "=1+1", "@SUM(1+1)", "$\\foo{$", "<b>", "a\nb"])
def test_class_names_with_markup_are_refused_at_the_contract(tmp_path, name):
    root = _results(tmp_path / "results")
    manifest = json.loads((root / "cnn" / "seed-0" / "manifest.json").read_text())
    manifest["data"]["class_names"][3] = name
    (root / "cnn" / "seed-0" / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(UserError, match="class_names"):
        load_groups(root)
    if name.startswith("cat"):  # and through the command, in one line, with nothing written
        result = run_cli("render", root, "--out", tmp_path / "generated")
        assert_one_line_error(result, "manifest.json", "class_names")
        assert not (tmp_path / "generated").exists()


@pytest.mark.slow
def test_markup_in_results_never_becomes_markup_in_the_site(tmp_path):
    root = tmp_path / "results"
    for model in ("resnet50", "cnn"):
        _hostile_run(root / model / "seed-0", model)
    built = build_site(root, tmp_path / "copy")
    site = built["site"]
    pages = sorted(site.rglob("*.html"))
    assert len(pages) > 5
    shown = 0
    for page in pages:
        text = page.read_text(encoding="utf-8")
        tags = _Tags()
        tags.feed(text)
        assert not tags.handlers, (page, tags.handlers)
        assert not any("alert(1)" in script for script in tags.scripts), page
        assert "/data/49/" not in text and "\u202e" not in text, page
        assert 'class="admonition danger"' not in text and "Fake heading</h1>" not in text, page
        shown += "alert(1)" in text
    assert shown >= 5  # the values are there, as text
    # The whole report as one PDF, as `make site` prints it: the cover's Jinja was never evaluated.
    from pypdf import PdfReader

    from cifarcmp.report.pdf import print_pdf

    text = "".join(page.extract_text() for page in PdfReader(print_pdf(site)).pages)
    assert "/data/{{ 7*7 }}/x" in "".join(text.split("\n")) and "/data/49/" not in text
    assert not (built["root"] / "RAN").exists() and not (PROJECT_ROOT / "RAN").exists()


def test_the_config_schema_is_made_from_run_config_and_refuses_what_the_report_cannot_show():
    from dataclasses import fields

    from cifarcmp import schema
    from cifarcmp.config import RunConfig, resolve

    assert {item.name for item in fields(RunConfig)} <= set(schema.CONFIG["properties"])
    written = json.loads(json.dumps(resolve("resnet50", "smoke").to_dict()))
    assert schema.problem(written, schema.CONFIG) is None
    for change, said in (
        ({"seed": 2.0}, "seed is 2.0, expected an integer"),
        ({"learning_rate": NAN}, "learning_rate is nan, expected a finite number"),
        ({"freeze_base": 1}, "freeze_base is 1, expected true or false"),
        ({"precision": "half"}, "precision is 'half', expected one of: float32, mixed"),
        ({"dropout": [0.25, 2.0]}, "dropout[1] is 2.0, expected a fraction in 0..1"),
    ):
        assert schema.problem({**written, **change}, schema.CONFIG) == said
    assert schema.problem({key: value for key, value in written.items() if key != "epochs"}, schema.CONFIG) == (
        "lacks epochs"
    )
