"""Nothing from a results folder, an archive or a Make variable is ever executed or acted on.

Values reach Markdown pages (and every pass after: Python-Markdown's extensions, the print-site
plugin's Jinja), CSV downloads opened in spreadsheets, matplotlib labels and shell command lines.
These tests hold each destination to its rule (cifarcmp/text.py, the Makefile's `quote`), most of
them in milliseconds; the whole site built from hostile results is in test_tampered.py.
"""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import time
import zipfile
from html.parser import HTMLParser
from pathlib import Path

import jinja2
import markdown
import numpy as np
import pytest
from conftest import assert_one_line_error, run_cli
from fixtures import write_fixture_run

from cifarcmp.analysis.formatting import Table
from cifarcmp.paths import PROJECT_ROOT
from cifarcmp.report.render import snippet_html
from cifarcmp.report.tables import to_csv
from cifarcmp.results import MAX_NPZ_ARRAY_BYTES, confusion_csv, read_npz
from cifarcmp.text import escape_markup, spreadsheet_cell

# Python-Markdown as mkdocs.yml configures it (the extensions that act on text).
EXTENSIONS = ["tables", "attr_list", "admonition", "pymdownx.details", "pymdownx.superfences", "toc"]

HOSTILE_VALUES = [
    "cat {: onclick=alert(3) }",
    "{{ 7*7 }}",
    "{% endraw %}{{ 1 }}",
    "{# open comment",
    '!!! danger "Fake"',
    '??? note "Fold"',
    "# Heading",
    " ## Heading after a space",
    "- item",
    "1. item",
    "---",
    "```python",
    "~~~",
    "    indented code",
    'line one\n\n!!! danger "Fake"\n    body',
    "`code` <b>bold</b> [link](javascript:alert(1)) ![i](x.png)",
    "| a | b |",
    "\u202ereversed\u2066",
]


def _attributes(html: str) -> list:
    """Every attribute of every element in `html`."""
    found = []

    class Parser(HTMLParser):
        def handle_starttag(self, tag, attrs):
            found.extend((tag, name) for name, _ in attrs)

    Parser().feed(html)
    return found


@pytest.mark.parametrize("value", HOSTILE_VALUES)
def test_an_escaped_value_is_one_line_of_plain_text_wherever_a_template_prints_it(value):
    escaped = escape_markup(value)
    assert "\n" not in escaped and escape_markup(escaped) == escaped  # one line; idempotent
    # At the start of a line, mid-paragraph, in a table cell, in a list item: only a paragraph's text.
    for page in (f"{escaped}\n", f"Text {escaped} text.\n", f"| h |\n| --- |\n| {escaped} |\n", f"- {escaped}\n"):
        html = markdown.markdown(page, extensions=EXTENSIONS)
        tags = {
            tag
            for tag in ("<h1", "<div", "<details", "<pre", "<code", "<b>", "<a ", "<img", "<ol", "<hr")
            if tag in html
        }
        assert not tags, (value, html)
        assert not _attributes(html), (value, html)  # no element got an attribute from the value
        assert "\u202e" not in html and "\u2066" not in html
    # A later Jinja pass (the print-site plugin's) finds no template in it.
    assert jinja2.Environment().from_string(escaped).render() == escaped


def test_escaping_keeps_numbers_and_plain_words_as_they_are():
    for value in ("-3.7 pp", "+3.6 pp", "95.33 %", "ResNet50", "1,250,858", "synthetic-3", "0.1792"):
        assert escape_markup(value) == value
    assert "<code>&#123;&#123; 7*7 &#125;&#125;</code>" in snippet_html(
        "<code>" + escape_markup("{{ 7*7 }}") + "</code>"
    )


FORMULAS = ["=1+1", "@SUM(1+1)", "+1+1", "-1+1", '=HYPERLINK("http://x","y")', "\t=1", "\r=1"]


def _csv_cells(text: str) -> list[str]:
    body = "\n".join(line for line in text.split("\n") if not line.startswith("#"))
    return [cell for row in csv.reader(io.StringIO(body, newline="")) for cell in row]


def test_csv_cells_cannot_run_as_spreadsheet_formulas():
    table = Table(
        name="t",
        caption="a caption, =1+1, @x",
        columns=["Class", "Value"],
        rows=[[formula, "1"] for formula in FORMULAS] + [["minus", "-3.7"]],
        align=["l", "r"],
        synthetic=False,
    )
    text = to_csv(table)
    cells = _csv_cells(text)
    assert not any(cell.startswith(("=", "+", "@", "\t", "\r")) for cell in cells), cells
    assert not any(cell.startswith("-") and cell != "-3.7" for cell in cells), cells
    assert -3.7 in [float(cell) for cell in cells if cell.lstrip("-").replace(".", "").isdigit()]  # a number
    caption = next(line for line in text.splitlines() if line.startswith("# caption:"))
    assert not any(piece.strip().startswith(("=", "@")) for piece in caption.split(","))
    confusion = _csv_cells(confusion_csv([[1] * len(FORMULAS)] * len(FORMULAS), FORMULAS))
    assert not any(cell.startswith(("=", "+", "-", "@", "\t", "\r")) for cell in confusion), confusion
    assert spreadsheet_cell(-3.7) == -3.7 and spreadsheet_cell("-3.7") == "-3.7"


def test_a_dollar_sign_in_a_label_draws_as_itself():
    from cifarcmp.report import figures

    images = np.zeros((2, 32, 32, 3), np.uint8)
    figure = figures.sample_grid(images, np.array([0, 1]), ["$\\foo{$", "a $x$ b"] + ["c"] * 8)
    figure.savefig(io.BytesIO())  # mathtext would fail here on the first name


# Bounded .npz reads -----------------------------------------------------------------------------


def _npz_claiming(path: Path, key: str, shape: tuple, payload: int) -> None:
    """An .npz whose member `key` declares `shape` of float64 but holds `payload` zero bytes."""
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False, "shape": shape})
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(f"{key}.npy", header.getvalue() + bytes(payload))


@pytest.mark.parametrize(
    "shape, payload, problem",
    [
        ((40_000, 40_000), 1000, "more than a run stores"),  # 12 GiB declared in a tiny file
        ((2**62, 2**62), 1000, "more than a run stores"),  # a product past int64
        ((100,), 8, "more than the file holds"),
        ((4_000_000,), 4_000_000 * 8, "more than a run stores"),  # really that large
    ],
)
def test_npz_arrays_are_bounded_before_numpy_allocates_them(tmp_path, shape, payload, problem):
    from cifarcmp.errors import UserError

    _npz_claiming(tmp_path / "p.npz", "probabilities", shape, payload)
    with pytest.raises(UserError, match=problem):
        read_npz(tmp_path / "p.npz", ("probabilities",))


@pytest.mark.slow  # over 2.5 s (Keras, a child process or a whole rendering): make test runs it, test-fast not
def test_a_run_whose_predictions_claim_12_gib_is_refused_in_one_line(tmp_path):
    run = tmp_path / "results" / "cnn" / "seed-0"
    write_fixture_run(run, "cnn")
    with np.load(run / "predictions.npz") as archive:
        content = {key: archive[key] for key in archive.files}
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f4", "fortran_order": False, "shape": (3 * 2**30, 1)})
    with zipfile.ZipFile(run / "predictions.npz", "w", zipfile.ZIP_DEFLATED) as archive:
        for key in ("labels", "indices"):
            buffer = io.BytesIO()
            np.save(buffer, content[key])
            archive.writestr(f"{key}.npy", buffer.getvalue())
        archive.writestr("probabilities.npy", header.getvalue() + bytes(MAX_NPZ_ARRAY_BYTES // 4))
    for command in ("render", "evaluate"):
        arguments = [command, run] + (["--out", tmp_path / "generated"] if command == "render" else [])
        assert_one_line_error(run_cli(*arguments), "predictions.npz", "probabilities")


@pytest.mark.parametrize("make_file", ["fifo", "sparse"])
@pytest.mark.parametrize("name", ["manifest.json", "summary.json", "history.csv"])
def test_a_results_file_that_never_ends_is_refused_before_it_is_read(tmp_path, name, make_file):
    """A FIFO would block a reader forever, a sparse file unzipped from a small archive fill memory."""
    root = tmp_path / "results"
    for model in ("resnet50", "cnn"):
        write_fixture_run(root / model / "seed-0", model)
    target = root / "cnn" / "seed-0" / name
    target.unlink()
    if make_file == "fifo":
        os.mkfifo(target)
    else:
        with target.open("wb") as handle:
            handle.truncate(3 * 2**30)
    result = run_cli("render", root, "--out", tmp_path / "generated", timeout=60)
    assert_one_line_error(result, name)


# Make variables reach the program as one argument each -----------------------------------------

# A stand-in for `cifarcmp`: it records its arguments, so a test sees exactly what Make passed.
RECORDER = """#!/usr/bin/env python3
import json, os, sys, time
with open(os.environ["ARGV_LOG"], "a") as log:
    log.write(json.dumps(sys.argv[1:]) + "\\n")
if "train" in sys.argv[1:2] and os.environ.get("PUBLISH"):
    out = sys.argv[sys.argv.index("--out") + 1]
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "manifest.json"), "w") as manifest:
        manifest.write('{"status": "complete"}')
    time.sleep(30)  # as train does for a few seconds after publishing
"""


# The project's Makefile, run from a scratch folder (its results/ land there); `-o` the install
# target, so the recipes under test run and `pip install` never does.
MAKE = ["make", "--no-print-directory", "-f", str(PROJECT_ROOT / "Makefile"), "-o", ".venv/.installed-cpu"]


@pytest.fixture
def recorder(tmp_path):
    """BIN=<folder> for make: its `cifarcmp` logs each argument vector to ARGV_LOG."""
    folder = tmp_path / "bin"
    folder.mkdir()
    (folder / "cifarcmp").write_text(RECORDER)
    (folder / "cifarcmp").chmod(0o755)
    return folder


def _make(recorder: Path, tmp_path: Path, *arguments: str, **environment) -> tuple[subprocess.CompletedProcess, list]:
    log = tmp_path / "argv.jsonl"
    log.unlink(missing_ok=True)
    # `-o` the install target: the recipes under test run, never `pip install`.
    result = subprocess.run(
        [*MAKE, f"BIN={recorder}", *arguments],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "ARGV_LOG": str(log), "HOME": str(tmp_path), **environment},
    )
    calls = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    return result, calls


SHELL_TEXT = [
    "x; touch {ran}",
    "$$(touch {ran})",
    "`touch {ran}`",
    "a & touch {ran} &",
    "it's; touch {ran}",
    "/my data/x y",
]


@pytest.mark.parametrize("variable", ["DATA", "WEIGHTS", "PRECISION", "STUDIES", "JOBS", "PARTITION", "TIME", "GPUS"])
@pytest.mark.parametrize("text", SHELL_TEXT)
def test_a_make_variable_is_one_argument_and_never_shell_code(recorder, tmp_path, variable, text):
    ran = tmp_path / "ran"
    value = text.format(ran=ran)
    result, calls = _make(recorder, tmp_path, "train", "PROFILE=smoke", f"{variable}={value}")
    assert not ran.exists(), result.stdout + result.stderr
    assert result.returncode == 0, result.stderr
    flag = {"DATA": "--data", "WEIGHTS": "--weights", "PRECISION": "--precision", "STUDIES": "--studies"}.get(
        variable,
        {"JOBS": "--jobs", "PARTITION": "--partition", "TIME": "--time", "GPUS": "--gpus-per-run"}.get(variable),
    )
    (call,) = calls
    # Make's own `$$` is its escape for one `$`: what the program gets is what the shell would have seen.
    assert call[call.index(flag) + 1] == value.replace("$$", "$")


def test_sbatch_args_reach_the_program_whole_for_it_to_split(recorder, tmp_path):
    result, calls = _make(
        recorder, tmp_path, "train", "PROFILE=smoke", "EXECUTOR=slurm", 'SBATCH_ARGS=--comment="two words" --mem=1G'
    )
    assert result.returncode == 0, result.stderr
    (call,) = calls
    assert call[call.index("--sbatch-args") + 1] == '--comment="two words" --mem=1G'


def test_a_profile_with_shell_or_make_syntax_is_the_programs_one_line(tmp_path):
    ran = tmp_path / "ran"
    for profile in (f"x; touch {ran}", "a:b", "smoke paper", f"$$(touch {ran})"):
        result = subprocess.run(
            [*MAKE, f"BIN={PROJECT_ROOT / '.venv' / 'bin'}", "plan", f"PROFILE={profile}"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode != 0 and not ran.exists()
        assert "missing separator" not in result.stderr and "mixed implicit" not in result.stderr, result.stderr
        assert "cifarcmp: error: unknown profile" in result.stderr, result.stderr


def test_a_data_path_that_names_nothing_is_one_line_before_any_plan(tmp_path):
    result = run_cli("plan", "--profile", "smoke", "--data", f"x; touch {tmp_path / 'ran'}")
    assert_one_line_error(result, "--data", "no such file or folder")


def test_ctrl_c_after_a_run_is_published_never_deletes_it(recorder, tmp_path):
    """Make deletes a target whose recipe it interrupts unless the target is precious: a finished
    run's manifest.json, published seconds before train exits, must survive a Ctrl-C."""
    run = tmp_path / "results" / "smoke" / "cnn" / "seed-0"
    make = subprocess.Popen(
        [*MAKE, f"BIN={recorder}", "results/smoke/cnn/seed-0/manifest.json", "PROFILE=smoke"],
        cwd=tmp_path,
        env={**os.environ, "ARGV_LOG": str(tmp_path / "argv.jsonl"), "PUBLISH": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not (run / "manifest.json").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert (run / "manifest.json").exists()
        os.killpg(make.pid, signal.SIGINT)  # Ctrl-C: the terminal signals the whole group
        _, stderr = make.communicate(timeout=30)
        assert "Deleting file" not in stderr, stderr
        assert (run / "manifest.json").is_file()
    finally:
        if make.poll() is None:
            os.killpg(make.pid, signal.SIGKILL)
