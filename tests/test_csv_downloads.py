"""The CSV downloads hold numbers: one parser reads display cells back, and every golden CSV parses."""

from __future__ import annotations

import csv

import pytest
from golden import render_golden

from cifarcmp.analysis.formatting import SYNTHETIC_NOTE, Table, format_duration, format_flops, format_percent
from cifarcmp.report.tables import Quantity, parse_quantity, to_csv
from cifarcmp.text import escape_markup


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("95.33 %", Quantity("95.33", "%")),
        ("1,250,858", Quantity("1250858")),
        ("27.2 s", Quantity("27.2", "s")),
        ("3.0 min", Quantity("3.0", "min")),
        ("0.163 GFLOP", Quantity("0.163", "GFLOP")),
        ("7.3e-12", Quantity("7.3e-12")),
        (
            "6,746 ± 27 % per PFLOP (n = 2; min 6,727, max 6,765)",
            Quantity("6746", "% per PFLOP", "27", "2", "6727", "6765"),
        ),
        ("90.10 ± 0.20 % (n = 3; min 89.9, max 90.3)", Quantity("90.10", "%", "0.20", "3", "89.9", "90.3")),
    ],
)
def test_display_cells_parse_to_numbers(text, expected):
    assert parse_quantity(text) == expected


@pytest.mark.parametrize(
    "text",
    ["—", "not recorded", "ResNet50", "0.01 → 0.001", "5 of 6 (early stop)", "26,215,818 / 26,162,698", "12 apples"],
)
def test_text_cells_stay_text(text):
    assert parse_quantity(text) is None


UNIT_HEADERS = ("(%)", "(s)", "(FLOP)", "(% per PFLOP)", "(pp)", "(×)")


def _read(text: str) -> tuple[dict[str, str], list[str], list[list[str]]]:
    comments = dict(line[2:].split(": ", 1) for line in text.splitlines() if line.startswith("# "))
    header, *rows = list(csv.reader(line for line in text.splitlines() if not line.startswith("#")))
    return comments, header, rows


def test_durations_share_seconds_and_flops_share_flop():
    table = Table(
        "mixed",
        "Rows that chose different units.",
        ["Run", "Time", "Compute", "Accuracy"],
        [
            ["a", format_duration([27.2]), format_flops([0.163e9]), format_percent([0.9533])],
            ["b", format_duration([180.0]), format_flops([13.2e12]), "—"],
        ],
    )
    comments, header, rows = _read(to_csv(table, commit="abc1234"))
    assert comments == {
        "table": "mixed",
        "caption": "Rows that chose different units.",
        "synthetic": "false",
        "commit": "abc1234",
    }
    assert header == ["Run", "Time (s)", "Compute (FLOP)", "Accuracy (%)"]
    assert rows == [["a", "27.2", "163000000", "95.33"], ["b", "180", "13200000000000", ""]]


def test_every_golden_csv_is_machine_readable(tmp_path):
    rendered = render_golden(tmp_path)
    csvs = {name: text for name, text in rendered.items() if name.endswith(".csv")}
    assert len(csvs) > 20
    numeric_columns = 0
    for name, text in csvs.items():
        comments, header, rows = _read(text)
        markdown = rendered[name.removesuffix(".csv") + ".md.txt"]
        caption = markdown.split("\n\n", 1)[0]
        assert comments["caption"] == caption, name
        assert comments["synthetic"] == ("true" if SYNTHETIC_NOTE in caption else "false"), name
        assert comments["commit"] and comments["commit"] != "unknown", name
        for index, column in enumerate(header):
            cells = [row[index] for row in rows]
            # A column whose header carries a unit, or is a mean ± std part, holds numbers only;
            # but for one with a unit column beside it (a table of one quantity per row, such as
            # the comparison), whose text rows stay text and are checked below.
            mixed = any(other.endswith(" unit") and column.startswith(other[:-4]) for other in header)
            if not mixed and (
                column.endswith(UNIT_HEADERS) or column.endswith((" mean", " std", " n", " min", " max"))
            ):
                numeric_columns += 1
                assert all(cell == "" or isinstance(float(cell), float) for cell in cells), (name, column)
            for cell in cells:
                try:
                    float(cell)
                except ValueError:
                    # Text is the page's text, cell for cell, and no display number is left in it.
                    # A cell that would start like a spreadsheet formula carries a leading ' (OWASP).
                    shown = cell[1:] if cell.startswith("'") and cell[1:2] in ("+", "-", "=", "@") else cell
                    assert parse_quantity(shown) is None, (name, column, cell)
                    assert escape_markup(shown) in markdown, (name, cell)
    assert numeric_columns > 30
