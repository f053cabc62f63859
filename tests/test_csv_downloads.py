"""The CSV downloads hold numbers, written from the tables' typed cells: one unit per column, the
spread over seeds and intervals in columns of their own, and every golden CSV reads back as numbers."""

from __future__ import annotations

import csv
import re

from golden import render_golden

from cifarcmp.analysis.formatting import (
    COUNT,
    FLOPS,
    P_VALUE,
    PERCENT,
    PP,
    SECONDS,
    SYNTHETIC_NOTE,
    Interval,
    Table,
    format_duration,
    format_p_value,
    format_pp,
    number,
)
from cifarcmp.report.tables import to_csv, to_markdown


def _read(text: str) -> tuple[dict[str, str], list[str], list[list[str]]]:
    comments = dict(line[2:].split(": ", 1) for line in text.splitlines() if line.startswith("# "))
    header, *rows = list(csv.reader(line for line in text.splitlines() if not line.startswith("#")))
    return comments, header, rows


def test_one_unit_per_column_on_the_page_and_base_units_in_the_csv():
    table = Table(
        "mixed",
        "Runs of very different sizes.",
        ["Run", "Time", "Compute", "Accuracy", "Gap"],
        [
            ["a", number(27.2, SECONDS), number(0.163e9, FLOPS), number(0.9533, PERCENT), format_pp(3.6, signed=True)],
            ["b", number(180.0, SECONDS), number(13.2e12, FLOPS), "—", format_pp(-3.7, signed=True)],
        ],
    )
    page = to_markdown(table)
    # The page: one unit for the whole column, chosen by its largest value; a sign changes nothing.
    # A small value in a column of large ones keeps two significant digits.
    assert "| a | 0.45 min | 0.00016 TFLOP | 95.33 % | +3.6 pp |" in page
    assert "| b | 3.00 min | 13.20000 TFLOP | — | -3.7 pp |" in page
    comments, header, rows = _read(to_csv(table, commit="abc1234"))
    assert comments == {
        "table": "mixed",
        "caption": "Runs of very different sizes.",
        "synthetic": "false",
        "commit": "abc1234",
    }
    assert header == ["Run", "Time (s)", "Compute (FLOP)", "Accuracy (%)", "Gap (pp)"]
    assert rows == [["a", "27.2", "163000000", "95.33", "3.6"], ["b", "180", "13200000000000", "", "-3.7"]]


def test_seeds_and_intervals_get_columns_of_their_own():
    table = Table(
        "spread",
        "Over seeds.",
        ["Model", "Accuracy", "Interval", "Seeds", "p-value"],
        [
            ["A", number([0.90, 0.92], PERCENT), Interval(0.8821, 0.9345), number(2, COUNT), format_p_value(2e-126)],
            ["B", number([0.70], PERCENT), Interval(0.6, 0.75), number(1, COUNT), format_p_value(0.0312)],
        ],
    )
    _, header, rows = _read(to_csv(table))
    assert header == [
        "Model",
        "Accuracy mean (%)",
        "Accuracy std (%)",
        "Accuracy n",
        "Accuracy min (%)",
        "Accuracy max (%)",
        "Interval lower (%)",
        "Interval upper (%)",
        "Seeds",
        "p-value",
    ]
    assert rows[0][:8] == ["A", "91", "1.41421356237", "2", "90", "92", "88.21", "93.45"]
    assert float(rows[0][9]) == 2e-126 and rows[1][9] == "0.0312"
    assert rows[1][1:6] == ["70", "", "1", "70", "70"]  # one run: no standard deviation
    page = to_markdown(table)
    assert "| &#60; 0.0001 |" in page and "| 0.031 |" in page  # plain p-values
    assert 'title="mean of 2 runs; std 1.41 %; min 90.00 %, max 92.00 %">91.00 %</span>' in page
    assert "88.21 – 93.45 %" in page


def test_constants_have_no_spread():
    table = Table("flat", "Same in every run.", ["Arm", "FLOPs"], [["A", number([0.163e9] * 3, FLOPS)]])
    assert "| A | 0.163 GFLOP |" in to_markdown(table)
    assert "±" not in to_markdown(table, page=False) and "Values over several seeds" not in table.full_caption
    assert format_duration([20.0, 20.0]) == "20.0 s"


NUMERIC_HEADER = re.compile(r"\((?:%|s|FLOP|% per PFLOP|pp|×)\)$| (?:mean|std|n|min|max|lower|upper)(?: \(.*\))?$")


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
        # Published results are CIFAR-10 figures whatever our runs used: their caption says ours cannot
        # be set against them beside synthetic runs, and their flag stays false.
        synthetic = SYNTHETIC_NOTE in caption and name != "tables/published.csv"
        assert comments["synthetic"] == ("true" if synthetic else "false"), name
        assert comments["commit"] and comments["commit"] != "unknown", name
        for index, column in enumerate(header):
            cells = [row[index] for row in rows]
            units = re.findall(r"\(([^()]+)\)", column)
            assert len(units) == len(set(units)), (name, column)  # a unit is named once: not "Change (pp) (pp)"
            if NUMERIC_HEADER.search(column):
                numeric_columns += 1
                assert all(cell == "" or isinstance(float(cell), float) for cell in cells), (name, column, cells)
            for cell in cells:
                # No display number is left in a cell: no "100 of 1,000", "8.21 – 12.03 %", "1.0 ± 0.0".
                assert not re.search(r"\d ± \d|\d – \d|\d of \d|\d,\d{3}", cell), (name, column, cell)
    assert numeric_columns > 60
    # The columns issue 18 found as text are numbers.
    _, header, rows = _read(csvs["tables/evidence-accuracy.csv"])
    assert header[2:4] == ["Right", "Test images"] and all(row[2].isdigit() and row[3].isdigit() for row in rows)
    _, header, rows = _read(csvs["tables/headline.csv"])
    assert "Epochs run mean" in header and all(float(row[header.index("Epochs run mean")]) for row in rows)
    _, header, rows = _read(csvs["tables/studies-arms.csv"])
    assert "Parameters" in header and "Trainable parameters" in header
    _, header, rows = _read(csvs["tables/evidence-mcnemar.csv"])
    assert all(float(row[header.index("p-value")]) < 0.05 for row in rows)
    assert P_VALUE and PP  # the kinds the golden tables use are those tested above
