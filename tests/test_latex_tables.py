"""Every LaTeX download compiles with pdflatex and fits the page (where pdflatex is installed).

All tables go into one document (one pdflatex run, about a second): each is announced in the log,
so an error or an overfull box names its table. A table fits when no box is overfull by more than
a point, and no float is taller than the page.
"""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
from golden import render_golden

from cifarcmp.analysis.formatting import COUNT, Table, number
from cifarcmp.report.tables import LATEX_PACKAGES, LONG_TABLE_ROWS, to_latex

PDFLATEX = shutil.which("pdflatex")
pytestmark = pytest.mark.skipif(PDFLATEX is None, reason="pdflatex is not installed")

_OVERFULL = re.compile(r"Overfull \\[hv]box \((?P<points>[\d.]+)pt too (?:wide|high)\)")


def _compile(tables: dict[str, str], folder) -> dict[str, list[str]]:
    """{table: [problems]} after compiling every table in one article."""
    parts = [
        r"\documentclass[a4paper]{article}",
        r"\usepackage[T1]{fontenc}",
        rf"\usepackage{{{','.join(LATEX_PACKAGES)}}}",
        r"\begin{document}",
    ]
    for name, text in tables.items():
        parts += [rf"\typeout{{TABLE {name}}}", text, r"\clearpage"]
    parts.append(r"\end{document}")
    (folder / "tables.tex").write_text("\n".join(parts), encoding="utf-8")
    run = subprocess.run(
        [PDFLATEX, "-interaction=nonstopmode", "-halt-on-error", "tables.tex"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=120,
    )
    log = (folder / "tables.log").read_text(encoding="latin-1")
    problems: dict[str, list[str]] = {name: [] for name in tables}
    current = None
    for line in log.splitlines():
        if line.startswith("TABLE "):
            current = line.removeprefix("TABLE ")
            continue
        overfull = _OVERFULL.search(line)
        error = line.startswith("!") or "Float too large" in line
        if current and (error or (overfull and float(overfull["points"]) > 1.0)):
            problems[current].append(line)
    assert run.returncode == 0 or any(problems.values()), run.stdout[-2000:]
    return problems


def test_every_rendered_latex_table_compiles_and_fits(tmp_path):
    rendered = render_golden(tmp_path / "golden")
    tables = {name: text for name, text in rendered.items() if name.endswith(".tex")}
    assert len(tables) > 20
    problems = _compile(tables, tmp_path)
    assert not any(problems.values()), {name: found for name, found in problems.items() if found}


def test_unicode_wide_and_long_tables_compile_and_fit(tmp_path):
    wide = Table(
        "wide",
        "A caption with − minus, ± and × signs, ≥ 1 … and “quotes”.",
        [f"A long column header number {index}" for index in range(14)],
        [[f"cell−{index} ± 1"] + [number(123456789 * index, COUNT) for _ in range(13)] for index in range(3)],
    )
    prose = Table(
        "prose",
        "Long text beside numbers.",
        ["Setting", "Value"],
        [["Optimiser", "SGD with momentum 0.9, sparse categorical cross-entropy, and a schedule " * 3]],
        align=["l", "l"],
    )
    long = Table(
        "long",
        "More rows than a page holds.",
        ["Layer", "Parameters"],
        [[f"layer_{index}", number(index * 1000, COUNT)] for index in range(LONG_TABLE_ROWS * 4)],
    )
    for table in (wide, prose, long):
        assert "−" not in to_latex(table)
    assert r"\resizebox" in to_latex(wide) and "tabularx" in to_latex(prose) and "longtable" in to_latex(long)
    problems = _compile({table.name: to_latex(table) for table in (wide, prose, long)}, tmp_path)
    assert not any(problems.values()), problems
