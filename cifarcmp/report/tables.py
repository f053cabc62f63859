"""The report's tables: those of the main pages built from the run groups, and their downloads.

The table model and every number's text are `analysis.formatting`'s; the builders here take the
report's run groups (`analysis.runs.RunGroup`) and the studies, and `write_table` writes each table
as CSV, LaTeX (booktabs) and Markdown next to the pages. Only `write_table` touches disk.
"""

from __future__ import annotations

import csv
import html
import io
import json
from pathlib import Path

from cifarcmp import architectures
from cifarcmp.analysis.formatting import (
    COUNT,
    EPOCHS,
    FLOPS,
    NOT_RECORDED,
    NOT_REPORTED,
    PER_PFLOP,
    PERCENT,
    PLACEHOLDERS,
    RATE,
    SECONDS,
    Interval,
    Number,
    Table,
    format_rate,
    number,
    plain,
)
from cifarcmp.analysis.measures import accuracy_per_petaflop, label, mean_epoch_seconds
from cifarcmp.config import SEED_REPORT
from cifarcmp.text import escape_markup, one_line, spreadsheet_cell, spreadsheet_line

# Downloads sit next to the pages under generated/tables/. The Markdown form ends in `.md.txt`:
# a `.md` file under docs/ would be turned into a page by MkDocs instead of being offered as a file.
DOWNLOAD_SUFFIXES = {"CSV": ".csv", "LaTeX": ".tex", "Markdown": ".md.txt"}


# CSV: written from the numbers -------------------------------------------------------------------
#
# The CSV is for a spreadsheet or pandas: every number is a plain number in one unit per column,
# named in the header ("Wall time (s)", "Training FLOPs (FLOP)"), whatever unit the page chose. A
# column with figures over several seeds becomes `<column> mean (unit)`, `std`, `n`, `min`, `max`;
# an interval `<column> lower (unit)` and `upper`. A table of one quantity per row (`by_row`: the
# comparison) gets a `Unit` column instead. Placeholders ("—", "not recorded") are empty cells;
# text stays text.

_STAT_PARTS = ("mean", "std", "n", "min", "max")


def csv_number(value: float | None) -> str:
    """A number as a spreadsheet reads it: integers without a decimal point, no float noise."""
    if value is None:
        return ""
    value = float(f"{value:.12g}")  # 12 significant digits: 4.99999999999999 pp is 5
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def _parts(cell, kind_factor: float, several: bool, interval: bool) -> list[str]:
    """The CSV cells of one typed cell: one number, five (mean ... max) or two (lower, upper)."""
    width = 2 if interval else 5 if several else 1
    if cell is None or (isinstance(cell, str) and cell in PLACEHOLDERS):
        return [""] * width
    if isinstance(cell, Interval):
        return [csv_number(cell.lower * kind_factor), csv_number(cell.upper * kind_factor)]
    if isinstance(cell, Number):
        spread = cell.spread
        scaled = {
            key: None if spread[key] is None else spread[key] * kind_factor for key in ("mean", "std", "min", "max")
        }
        if not several:
            return [csv_number(scaled["mean"])]
        return [
            csv_number(scaled["mean"]),
            csv_number(scaled["std"]),
            str(cell.n),
            csv_number(scaled["min"]),
            csv_number(scaled["max"]),
        ]
    return [str(cell)] + [""] * (width - 1)


def _unit_suffix(unit: str) -> str:
    return f" ({unit})" if unit else ""


def _csv_layout(table: Table) -> tuple[list[str], list[list[str]]]:
    cells = table.cells
    typed = (Number, Interval)
    if table.by_row:
        data = list(range(1, len(table.columns)))
        several = {j: any(isinstance(row[j], Number) and row[j].n > 1 for row in cells) for j in data}
        headers = [table.columns[0], "Unit"]
        for j in data:
            name = table.columns[j]
            headers += [f"{name} {part}" for part in _STAT_PARTS] if several[j] else [name]
        rows = []
        for row in cells:
            kinds = {cell.kind.csv_unit: cell.kind for cell in row if isinstance(cell, typed)}
            if len(kinds) > 1:
                raise ValueError(f"table {table.name}: row {row[0]!r} mixes units {sorted(kinds)}")
            kind = next(iter(kinds.values()), None)
            line = [str(row[0]), kind.csv_unit if kind else ""]
            for j in data:
                line += _parts(row[j], kind.csv_factor if kind else 1.0, several[j], False)
            rows.append(line)
        return headers, rows
    headers, columns = [], []
    for j, name in enumerate(table.columns):
        column = [row[j] for row in cells]
        kinds = {cell.kind.csv_unit: cell.kind for cell in column if isinstance(cell, typed)}
        if len(kinds) > 1:
            raise ValueError(f"table {table.name}: column {name!r} mixes units {sorted(kinds)}")
        if not kinds:
            headers.append(name)
            columns.append([["" if cell is None else str(cell)] for cell in column])  # text stays text
            continue
        kind = next(iter(kinds.values()))
        unit = _unit_suffix(kind.csv_unit)
        # A page header that already names the unit ("Change (pp)") names it once in the CSV too.
        name = name.removesuffix(unit) if unit else name
        interval = any(isinstance(cell, Interval) for cell in column)
        several = any(isinstance(cell, Number) and cell.n > 1 for cell in column)
        if interval:
            headers += [f"{name} lower{unit}", f"{name} upper{unit}"]
        elif several:
            headers += [
                f"{name} mean{unit}",
                f"{name} std{unit}",
                f"{name} n",
                f"{name} min{unit}",
                f"{name} max{unit}",
            ]
        else:
            headers.append(f"{name}{unit}")
        columns.append([_parts(cell, kind.csv_factor, several, interval) for cell in column])
    rows = [sum((column[i] for column in columns), []) for i in range(len(cells))]
    return headers, rows


def to_csv(table: Table, commit: str = "unknown") -> str:
    """`#` lines (name, caption, synthetic flag, commit), a header, then numbers as plain numbers."""
    buffer = io.StringIO()
    # Free text goes on one line, and neither it nor any cell can be run as a spreadsheet formula.
    buffer.write(f"# table: {spreadsheet_line(table.name)}\n")
    buffer.write(f"# caption: {spreadsheet_line(table.download_caption)}\n")
    buffer.write(f"# synthetic: {'true' if table.synthetic else 'false'}\n")
    buffer.write(f"# commit: {spreadsheet_line(commit)}\n")
    headers, rows = _csv_layout(table)
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([spreadsheet_cell(header) for header in headers])
    writer.writerows([[spreadsheet_cell(cell) for cell in row] for row in rows])
    return buffer.getvalue()


# Markdown: the page's table, and the download ------------------------------------------------------


def _page_cell(text: str, tooltip: str) -> str:
    """A cell as the page shows it: its one number, and what it stands for in a tooltip."""
    if not tooltip:
        return escape_markup(text)
    title = escape_markup(html.escape(tooltip, quote=True))
    return f'<span class="spread" title="{title}">{escape_markup(text)}</span>'


def to_markdown(table: Table, page: bool = True) -> str:
    """A pipe table, every cell escaped as text. On a page (`page`) a figure over several runs
    shows its mean with the spread in a tooltip; in the download, "mean ± std"."""

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(cells) + " |"

    rule = ["---:" if align == "r" else ":---" for align in table.align]
    lines = [line([escape_markup(column) for column in table.columns]), "| " + " | ".join(rule) + " |"]
    for row in table.shown(spread=not page):
        lines.append(line([_page_cell(text, tooltip) if page else escape_markup(text) for text, tooltip in row]))
    return "\n".join(lines) + "\n"


def to_markdown_file(table: Table) -> str:
    """The Markdown download: caption, then the table."""
    return f"{escape_markup(table.download_caption)}\n\n{to_markdown(table, page=False)}"


# LaTeX: compiles with pdflatex, fits the text width ------------------------------------------------

LATEX_PACKAGES = ("booktabs", "tabularx", "graphicx", "longtable")
_LATEX_ESCAPES = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
    "|": r"\textbar{}",
    "±": r"$\pm$",
    "−": r"$-$",
    "—": "---",
    "–": "--",
    "×": r"$\times$",
    "→": r"$\rightarrow$",
    "≥": r"$\geq$",
    "≤": r"$\leq$",
    "…": r"\ldots{}",
    "‘": "`",
    "’": "'",
    "“": "``",
    "”": "''",
    "\N{NO-BREAK SPACE}": "~",
    "\N{NARROW NO-BREAK SPACE}": r"\,",
}


def latex_escape(text: str) -> str:
    """Text as pdflatex prints it: one line (a blank line would end the cell), no command in it,
    and no character outside what pdflatex's default fonts hold (anything else becomes "?")."""
    return "".join(
        _LATEX_ESCAPES.get(character, character if ord(character) < 0x100 else "?") for character in one_line(text)
    )


PROSE_CHARACTERS = 40  # a text column with a cell this long wraps (tabularx) instead of widening the table
LONG_TABLE_ROWS = 35  # more rows than a float holds on an A4 or letter page: a longtable
# A table of numbers is set in a box first, and scaled down to the text width only when LaTeX
# measures it wider: exact whatever the document's fonts and margins (graphicx's \resizebox).
_MEASURED = [
    r"\ifdefined\cifarcmptable\else\newsavebox{\cifarcmptable}\fi",
    r"\sbox{\cifarcmptable}{%",
]
_PLACED = (
    r"\ifdim\wd\cifarcmptable>\linewidth\resizebox{\linewidth}{!}{\usebox{\cifarcmptable}}"
    r"\else\usebox{\cifarcmptable}\fi"
)


def to_latex(table: Table) -> str:
    """A booktabs table that compiles with pdflatex and fits `\\linewidth`.

    Needs the packages in LATEX_PACKAGES. Headers wrap at spaces; text columns of long cells wrap
    (tabularx); a table of numbers wider than the text is scaled down to it; a table longer than a
    page is a longtable.
    """
    shown = [[text for text, _ in row] for row in table.shown(spread=True)]
    lengths = [max([len(row[j]) for row in shown] + [1]) for j in range(len(table.columns))]
    prose = [j for j, align in enumerate(table.align) if align == "l" and lengths[j] > PROSE_CHARACTERS]

    def header(name: str, align: str) -> str:
        # A header wraps at its spaces inside a one-column tabular; the cell keeps its alignment.
        return rf"\textbf{{\begin{{tabular}}[b]{{@{{}}{align}@{{}}}}{_wrap_header(name)}\end{{tabular}}}}"

    head = " & ".join(header(column, align) for column, align in zip(table.columns, table.align)) + r" \\"
    rows = [" & ".join(latex_escape(cell) for cell in row) + r" \\" for row in shown]
    caption = latex_escape(table.download_caption)
    needs = "% Needs \\usepackage{" + ",".join(LATEX_PACKAGES) + "} (pdflatex)."
    if len(rows) > LONG_TABLE_ROWS:
        # Taller than a page: a longtable breaks across pages, repeating its header.
        return (
            "\n".join(
                [
                    needs,
                    r"\begingroup\small",
                    rf"\begin{{longtable}}{{{''.join(table.align)}}}",
                    rf"\caption{{{caption}}}\label{{tab:{table.name}}} \\",
                    r"\toprule",
                    head,
                    r"\midrule",
                    r"\endfirsthead",
                    r"\toprule",
                    head,
                    r"\midrule",
                    r"\endhead",
                    r"\bottomrule",
                    r"\endfoot",
                    *rows,
                    r"\end{longtable}",
                    r"\endgroup",
                ]
            )
            + "\n"
        )
    if prose:
        # The prose columns share what the others leave, in proportion to their longest cell.
        share = sum(lengths[j] for j in prose)
        specs = "".join(
            rf">{{\raggedright\arraybackslash\hsize={lengths[j] * len(prose) / share:.2f}\hsize}}X"
            if j in prose
            else align
            for j, align in enumerate(table.align)
        )
        body = [rf"\begin{{tabularx}}{{\linewidth}}{{{specs}}}", r"\toprule", head, r"\midrule", *rows]
        body += [r"\bottomrule", r"\end{tabularx}"]
    else:
        body = [*_MEASURED, rf"\begin{{tabular}}{{{''.join(table.align)}}}", r"\toprule", head, r"\midrule"]
        body += [*rows, r"\bottomrule", r"\end{tabular}}", _PLACED]
    lines = [
        needs,
        r"\begin{table}[ht]",
        r"\centering",
        r"\small",
        rf"\caption{{{caption}}}",
        rf"\label{{tab:{table.name}}}",
        *body,
        r"\end{table}",
    ]
    return "\n".join(lines) + "\n"


def _wrap_header(name: str, width: int = 14) -> str:
    """A header broken into lines of about `width` characters at its spaces."""
    lines, current = [], ""
    for word in name.split():
        if current and len(current) + 1 + len(word) > width:
            lines.append(current)
            current = word
        else:
            current = f"{current} {word}".strip()
    lines.append(current)
    return r" \\ ".join(latex_escape(line) for line in lines)


def write_table(table: Table, directory: Path, commit: str = "unknown") -> dict[str, str]:
    """Write the three downloads of `table` into `directory`; return {format: file name}.

    `commit` (the short commit(s) of the runs behind the table) goes into the CSV's `#` lines.
    """
    directory.mkdir(parents=True, exist_ok=True)
    contents = {"CSV": to_csv(table, commit), "LaTeX": to_latex(table), "Markdown": to_markdown_file(table)}
    names = {}
    for kind, suffix in DOWNLOAD_SUFFIXES.items():
        name = table.name + suffix
        (directory / name).write_text(contents[kind], encoding="utf-8")
        names[kind] = name
    return names


# The main pages' tables ------------------------------------------------------------------------


def describe_rates(rates: list[float], limit: int = 4) -> str:
    """Per-epoch learning rates, runs of equal values folded: "0.01 (epochs 1–10), 0.009048 (epoch 11)".

    Past `limit` distinct stretches the middle is elided; the Method page has the full table.
    """
    parts, start = [], 0
    for index in range(1, len(rates) + 1):
        if index == len(rates) or format_rate(rates[index]) != format_rate(rates[start]):
            span = f"epoch {start + 1}" if index - start == 1 else f"epochs {start + 1}–{index}"
            parts.append(f"{format_rate(rates[start])} ({span})")
            start = index
    if len(parts) > limit:
        parts = parts[: limit - 2] + ["…"] + parts[-1:]
    return ", ".join(parts)


def _epochs(group) -> Number:
    """Epochs run, with the maximum and early stops said in the tooltip."""
    stopped = sum(bool(run.metrics["stopped_early"]) for run in group.runs)
    note = f"of at most {group.config['epochs']}"
    if stopped:
        note += "; stopped early" if group.count == 1 else f"; {stopped} of {group.count} stopped early"
    return number(group.metric("epochs_run"), EPOCHS, note)


def comparison_table(groups, synthetic: bool) -> Table:
    """Ours beside the seed report's, one column (or pair of columns) per model, one quantity per row."""
    labels = {
        "Seeds (runs)": None,
        "Epochs run": "epochs",
        "Maximum epochs": None,
        "Runs stopped early": None,
        "Best epoch (lowest validation loss)": "best_epoch",
        "Learning rate, first epoch": "learning_rate",
        "Learning rate, last epoch": None,
        "Batch size": "batch_size",
        "Train accuracy (chosen weights)": "train_accuracy",
        "Validation accuracy (chosen weights)": "val_accuracy",
        "Test accuracy": "test_accuracy",
        "Test loss": "test_loss",
        "Parameters": "parameters",
        "Trainable parameters": "trainable",
        "Wall time": "wall",
        "Training throughput (images/s)": "throughput",
        "Test images": "test_images",
        "Wall time per epoch (training and validation)": "epoch_time",
        "Forward FLOPs per image (counted)": "forward_flops",
        "Training compute (counted FLOPs)": "training_flops",
        "Test accuracy per training PFLOP": "accuracy_per_compute",
    }
    columns, cells = ["Quantity"], []
    for group in groups:
        rates = [row["learning_rate"] for row in group.runs[0].history]
        parameters = group.runs[0].metrics["parameters"]
        ours = [
            number(group.count, COUNT),
            number(group.metric("epochs_run"), EPOCHS),
            number(group.config["epochs"], COUNT),
            number(sum(bool(run.metrics["stopped_early"]) for run in group.runs), COUNT),
            number(group.metric("best_epoch"), EPOCHS),
            number(rates[0], RATE),
            number(rates[-1], RATE),
            number(group.config["batch_size"], COUNT),
            number(group.metric("train_accuracy"), PERCENT),
            number(group.metric("val_accuracy"), PERCENT),
            number(group.metric("test_accuracy"), PERCENT),
            number(group.metric("test_loss"), plain(4)),
            number(parameters["total"], COUNT),
            number(parameters["trainable"], COUNT),
            number(group.metric("wall_seconds"), SECONDS),
            number(group.metric("train_images_per_second"), plain(1)),
            number(group.runs[0].metrics["test_images"], COUNT),
            *_compute_cells(group),
        ]
        columns.append(group.label)
        cells.append(ours)
        # The seed report's figures are CIFAR-10 results: beside synthetic runs they would invite
        # a comparison that means nothing, so they are left out then.
        if not synthetic:
            reference = SEED_REPORT.get(group.model, {})
            columns.append(f"{group.label}: seed report (reference)")
            cells.append([reference.get(key, NOT_REPORTED) if key else NOT_REPORTED for key in labels.values()])
    rows = [[name] + [column[index] for column in cells] for index, name in enumerate(labels)]
    return Table(
        "comparison",
        "Our runs. The seed report's CIFAR-10 figures are left out: not comparable with synthetic data."
        if synthetic
        else "Our runs beside the seed report's published figures (reference columns; — where the seed report gives none).",
        columns,
        rows,
        synthetic,
        by_row=True,
    )


def _compute_cells(group) -> list:
    """Time per epoch, counted FLOPs and accuracy per unit of compute; runs from before FLOPs were
    counted say so rather than showing a blank."""
    epoch_seconds = number([mean_epoch_seconds(run.history) for run in group.runs], SECONDS)
    counted = [run.metrics.get("compute") for run in group.runs]
    if not all(counted):
        return [epoch_seconds, NOT_RECORDED, NOT_RECORDED, NOT_RECORDED]
    training = [compute["training_flops"] for compute in counted]
    per_petaflop = [
        accuracy_per_petaflop(run.metrics["test_accuracy"], flops) for run, flops in zip(group.runs, training)
    ]
    return [
        epoch_seconds,
        number([compute["forward_flops_per_image"] for compute in counted], FLOPS),
        number(training, FLOPS),
        number(per_petaflop, PER_PFLOP),
    ]


def headline_table(groups, synthetic: bool) -> Table:
    rows = [
        [
            group.label,
            number(group.metric("test_accuracy"), PERCENT),
            number(group.metric("test_loss"), plain(4)),
            _epochs(group),
            number(group.runs[0].metrics["parameters"]["total"], COUNT),
            number(group.metric("wall_seconds"), SECONDS),
            number(group.count, COUNT),
        ]
        for group in groups
    ]
    return Table(
        "headline",
        "Test-set results of this build's runs.",
        ["Model", "Test accuracy", "Test loss", "Epochs run", "Parameters", "Wall time", "Seeds"],
        rows,
        synthetic,
    )


def counts_tables(groups, synthetic: bool) -> list[Table]:
    """Images per class; one table when every run used the same split sizes, else one per model."""
    per_model = {group.model: (group, group.runs[0].manifest["data"]) for group in groups}
    distinct = {json.dumps(data["counts"], sort_keys=True) for _, data in per_model.values()}
    chosen = list(per_model.values())[:1] if len(distinct) == 1 else list(per_model.values())
    tables = []
    for group, data in chosen:
        counts = data["counts"]
        rows = [
            [name] + [number(counts[split][index], COUNT) for split in ("train", "validation", "test")]
            for index, name in enumerate(data["class_names"])
        ]
        rows.append(["Total"] + [number(sum(counts[split]), COUNT) for split in ("train", "validation", "test")])
        scope = "every run" if len(chosen) == 1 else f"the {group.label} runs"
        name = "counts" if len(chosen) == 1 else f"counts-{group.model}"
        tables.append(
            Table(
                name,
                f"Images per class in each split, as used by {scope}.",
                ["Class", "Train", "Validation", "Test"],
                rows,
                synthetic,
            )
        )
    return tables


def layer_table(group, synthetic: bool) -> Table:
    summary = group.runs[0].summary
    rows = [
        [
            layer["name"],
            layer["type"],
            layer["output_shape"],
            number(layer["params"], COUNT),
            "yes" if layer["trainable"] else "no",
        ]
        for layer in summary["layers"]
    ]
    return Table(
        f"layers-{group.model}",
        f"{group.label}: layers as built (summary.json).",
        ["Layer", "Type", "Output shape", "Parameters", "Trainable"],
        rows,
        synthetic,
        align=["l", "l", "l", "r", "l"],
    )


def parameters_table(groups, synthetic: bool) -> Table:
    rows = [
        [group.label]
        + [
            number(group.runs[0].summary[key], COUNT)
            for key in ("total_params", "trainable_params", "non_trainable_params")
        ]
        for group in groups
    ]
    return Table(
        "parameters",
        "Parameter counts (summary.json).",
        ["Model", "Total", "Trainable", "Non-trainable"],
        rows,
        synthetic,
    )


def protocol_table(groups, synthetic: bool) -> Table:
    """The protocol as run, read from config.json and history.csv (first seed of each model)."""
    columns, cells = ["Setting"], []
    for group in groups:
        config, history = group.config, group.runs[0].history
        if architectures.get(group.model).transfer:
            size = f"32 px, upsampled ×{config['upsampling']} (nearest neighbour) to {config['image_size']} px"
        else:
            size = f"{config['image_size']} px"
        patience = config["early_stopping_patience"]
        splits = {
            split: sum(group.runs[0].manifest["data"]["counts"][split]) for split in ("train", "validation", "test")
        }
        cells.append(
            [
                str(config.get("weights", NOT_REPORTED)),
                size,
                f"SGD, momentum {config['momentum']:g}, sparse categorical cross-entropy",
                number(config["learning_rate"], RATE),
                f"constant for {config['lr_constant_epochs']} epochs, then × exp(−{config['lr_decay_per_epoch']:g}) per epoch",
                describe_rates([row["learning_rate"] for row in history]),
                number(config["batch_size"], COUNT),
                number(config["epochs"], COUNT),
                f"on validation loss, patience {patience}, best weights restored" if patience else "off",
                *(number(splits[split], COUNT) for split in ("train", "validation", "test")),
                ", ".join(str(seed) for seed in group.seeds),
            ]
        )
        columns.append(group.label)
    labels = [
        "Initial weights",
        "Input size",
        "Optimiser and loss",
        "Initial learning rate",
        "Schedule (config.json)",
        "Rates used (history.csv)",
        "Batch size",
        "Maximum epochs",
        "Early stopping",
        "Training images (stratified, seeded split)",
        "Validation images",
        "Test images",
        "Seeds",
    ]
    rows = [[label] + [column[index] for column in cells] for index, label in enumerate(labels)]
    return Table(
        "protocol",
        "The training protocol as run, from each run's recorded configuration and per-epoch history.",
        columns,
        rows,
        synthetic,
        align=["l"] * len(columns),
        by_row=True,
    )


def rates_table(group, synthetic: bool) -> Table:
    planned = group.config["lr_schedule"]
    rows = [
        [
            number(row["epoch"], COUNT),
            number(planned[row["epoch"] - 1], RATE) if row["epoch"] <= len(planned) else NOT_REPORTED,
            number(row["learning_rate"], RATE),
        ]
        for row in group.runs[0].history
    ]
    return Table(
        f"learning-rates-{group.model}",
        f"{group.label}: learning rate per epoch, planned and used.",
        ["Epoch", "Planned (config.json)", "Used (history.csv)"],
        rows,
        synthetic,
    )


def build_tables(groups, synthetic: bool) -> dict[str, Table]:
    tables = [
        comparison_table(groups, synthetic),
        headline_table(groups, synthetic),
        parameters_table(groups, synthetic),
        protocol_table(groups, synthetic),
    ]
    tables += counts_tables(groups, synthetic)
    tables += [layer_table(group, synthetic) for group in groups]
    tables += [rates_table(group, synthetic) for group in groups]
    return {table.name: table for table in tables}


def arms_table(studies, synthetic: bool) -> Table:
    """Compute accounting per arm: time, throughput, device, parameters, FLOPs, accuracy per PFLOP."""
    rows = []
    for arm in dict.fromkeys(row["arm"] for row in studies.rows("arms")):
        arm_rows = studies.rows("arms", arm)
        epoch_seconds = [mean_epoch_seconds(studies.run(row).history) for row in arm_rows]
        devices = dict.fromkeys(
            f"{row['device'].get('name', '?')} ({str(row['device'].get('kind', '?')).upper()})" for row in arm_rows
        )
        parameters = arm_rows[0]["parameters"]
        rows.append(
            [
                label(arm),
                number(len(arm_rows), COUNT),
                number([row["test_accuracy"] for row in arm_rows], PERCENT),
                number(epoch_seconds, SECONDS),
                number([row["wall_seconds"] for row in arm_rows], SECONDS),
                number([row["train_images_per_second"] for row in arm_rows], plain(1)),
                ", ".join(devices),
                number(parameters["total"], COUNT),
                number(parameters["trainable"], COUNT),
                number([row["forward_flops_per_image"] for row in arm_rows], FLOPS),
                number([row["training_flops"] for row in arm_rows], FLOPS),
                number(
                    [accuracy_per_petaflop(row["test_accuracy"], row["training_flops"]) for row in arm_rows], PER_PFLOP
                ),
            ]
        )
    return Table(
        "studies-arms",
        "Compute accounting per arm (arms study): wall time per epoch (training and "
        "validation) and in all, training throughput, device, parameters, FLOPs counted from the layers, "
        "and test accuracy (%) per training PFLOP.",
        [
            "Arm",
            "Runs",
            "Test accuracy",
            "Wall time per epoch",
            "Wall time in all",
            "Train images/s",
            "Device",
            "Parameters",
            "Trainable parameters",
            "Forward FLOPs per image",
            "Training FLOPs",
            "Accuracy per PFLOP",
        ],
        rows,
        synthetic,
        align=["l", "r", "r", "r", "r", "r", "l", "r", "r", "r", "r", "r"],
    )


def published_table(beside_synthetic: bool = False) -> Table:
    """Published CIFAR-10 results (report.published): figures others measured under their own
    protocols, in a table of their own, never beside our columns. The page lists each row's source
    below it, linked, in the table's order (a column of them would not fit a printed page). Its
    numbers are CIFAR-10 results whatever data our runs used, so the table is not marked synthetic;
    beside synthetic runs (`beside_synthetic`) its caption says that ours cannot be set against it."""
    from cifarcmp.report.published import PUBLISHED

    rows = [
        [
            entry.model,
            entry.pretraining,
            number(entry.accuracy, PERCENT),
            number(entry.accuracy_high, PERCENT) if entry.accuracy_high is not None else NOT_REPORTED,
            number(entry.parameters, COUNT) if entry.parameters else NOT_REPORTED,
        ]
        for entry in PUBLISHED
    ]
    caption = (
        "Published CIFAR-10 test accuracies, each under its authors' own protocol (not our runs), in the order "
        "of the sources listed below it; where a source gives a range, its high end is in the next column."
    )
    if beside_synthetic:
        caption += (
            " This build's runs used synthetic data — not CIFAR-10 results — so none of ours can be set against these."
        )
    return Table(
        "published",
        caption,
        ["Model and training", "Pre-training", "CIFAR-10 test accuracy", "Up to", "Parameters"],
        rows,
        False,
        align=["l", "l", "r", "r", "r"],
    )
