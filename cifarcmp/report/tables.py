"""The report's tables: those of the main pages built from the run groups, and their downloads.

The table model and every number's text are `analysis.formatting`'s; the builders here take the
report's run groups (`analysis.runs.RunGroup`) and the studies, and `write_table` writes each table
as CSV, LaTeX (booktabs) and Markdown next to the pages. Only `write_table` touches disk.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from cifarcmp import architectures
from cifarcmp.analysis.formatting import (
    NOT_RECORDED,
    NOT_REPORTED,
    Table,
    format_count,
    format_duration,
    format_flops,
    format_percent,
    format_rate,
    format_stat,
    spread_label,
)
from cifarcmp.analysis.measures import accuracy_per_petaflop, label, mean_epoch_seconds
from cifarcmp.config import SEED_REPORT
from cifarcmp.text import escape_markup, one_line, spreadsheet_cell, spreadsheet_line

# Downloads sit next to the pages under generated/tables/. The Markdown form ends in `.md.txt`:
# a `.md` file under docs/ would be turned into a page by MkDocs instead of being offered as a file.
DOWNLOAD_SUFFIXES = {"CSV": ".csv", "LaTeX": ".tex", "Markdown": ".md.txt"}
# Writers ----------------------------------------------------------------------------------


# CSV: numbers, not display strings -------------------------------------------------------------
#
# The page and the LaTeX show "90.10 ± 0.20 % (n = 3; min 89.90, max 90.30)"; the CSV is for a
# spreadsheet or pandas, so each such cell is parsed back (one parser, `parse_quantity`) into plain
# numbers with the unit moved to the header. A mean ± std cell becomes five columns, `<column> mean
# (unit)`, `std (unit)`, `n`, `min (unit)`, `max (unit)`, for every row of that column, so no figure
# on the page is lost. Durations are converted to seconds and FLOPs to FLOP (the page picks s, min
# or h and GFLOP ... EFLOP per row); a column whose numbers still differ in unit (the comparison
# table, one quantity per row) gets a `<column> unit` column instead. Placeholders ("—", "not
# recorded") become empty cells; any other text stays as it reads on the page.

_NUMBER = r"-?\d[\d,]*(?:\.\d+)?(?:e[+-]?\d+)?"
# Units as the formatters write them; anything else after a number (e.g. "of 6") leaves the cell text.
_UNITS = ("% per PFLOP", "%", "s", "min", "h", "GFLOP", "TFLOP", "PFLOP", "EFLOP", "pp", "×")
_UNIT = "|".join(re.escape(unit) for unit in _UNITS)
_SINGLE = re.compile(rf"^(?P<mean>{_NUMBER})(?: (?P<unit>{_UNIT}))?$")
_STAT = re.compile(
    rf"^(?P<mean>{_NUMBER}) ± (?P<std>{_NUMBER})(?: (?P<unit>{_UNIT}))? "
    rf"\(n = (?P<n>\d+); min (?P<min>{_NUMBER}), max (?P<max>{_NUMBER})\)$"
)
# unit -> (unit written in the CSV, factor): one unit per quantity whatever the page chose per row.
_BASE_UNITS = {
    "min": ("s", Decimal(60)),
    "h": ("s", Decimal(3600)),
    "GFLOP": ("FLOP", Decimal(10) ** 9),
    "TFLOP": ("FLOP", Decimal(10) ** 12),
    "PFLOP": ("FLOP", Decimal(10) ** 15),
    "EFLOP": ("FLOP", Decimal(10) ** 18),
}
_PLACEHOLDERS = {NOT_REPORTED, NOT_RECORDED, ""}
_STAT_PARTS = ("mean", "std", "n", "min", "max")


@dataclass(frozen=True)
class Quantity:
    """A display cell read back: numbers as CSV text ("1250858", "27.2"), and the displayed unit."""

    mean: str
    unit: str = ""
    std: str | None = None  # these four only for a "mean ± std (n = ...; min ..., max ...)" cell
    n: str | None = None
    min: str | None = None
    max: str | None = None


def parse_quantity(text: str) -> Quantity | None:
    """ "95.33 %" -> Quantity("95.33", "%"); "1,250,858" -> Quantity("1250858"); a mean ± std cell
    -> its mean, std, n, min and max; None for anything else (text, "—", "5 of 6 (early stop)")."""
    match = _STAT.match(text) or _SINGLE.match(text)
    if not match:
        return None
    parts = {key: value.replace(",", "") for key, value in match.groupdict().items() if key != "unit" and value}
    return Quantity(unit=match["unit"] or "", **parts)


def _in_base_unit(number: str | None, unit: str) -> str | None:
    """`number` (in `unit`) in the CSV's unit for it, exactly: Decimal, so 0.160 GFLOP is 160000000."""
    if number is None or unit not in _BASE_UNITS:
        return number
    value = Decimal(number) * _BASE_UNITS[unit][1]
    return format(value.normalize(), "f") if value == value.to_integral_value() else format(value, "f")


def _csv_columns(name: str, cells: list[str]) -> tuple[list[str], list[list[str]]]:
    """One table column as CSV columns: (headers, cells per row)."""
    parsed = [parse_quantity(cell) for cell in cells]
    if not any(parsed):
        return [name], [[cell] for cell in cells]
    units = {_BASE_UNITS.get(quantity.unit, (quantity.unit,))[0] for quantity in parsed if quantity}
    unit = units.pop() if len(units) == 1 else None
    suffix = f" ({unit})" if unit else ""
    stats = any(quantity and quantity.std is not None for quantity in parsed)
    headers = [f"{name} mean{suffix}" if stats else f"{name}{suffix}"]
    if unit is None:
        headers.append(f"{name} unit")
    if stats:
        headers += [f"{name} std{suffix}", f"{name} n", f"{name} min{suffix}", f"{name} max{suffix}"]
    rows = []
    for cell, quantity in zip(cells, parsed):
        if quantity is None:
            # Text in a numeric column (only the one-quantity-per-row tables have it) stays as is.
            row = ["" if cell in _PLACEHOLDERS else cell] + [""] * (len(headers) - 1)
        else:
            values = [_in_base_unit(getattr(quantity, part), quantity.unit) for part in _STAT_PARTS]
            values[2] = quantity.n  # a count, never scaled
            row = [values[0]]
            if unit is None:
                row.append(_BASE_UNITS.get(quantity.unit, (quantity.unit,))[0])
            if stats:
                row += values[1:]
            row = ["" if value is None else value for value in row]
        rows.append(row)
    return headers, rows


def to_csv(table: Table, commit: str = "unknown") -> str:
    """`#` lines (name, caption, synthetic flag, commit), a header, then numbers as plain numbers."""
    buffer = io.StringIO()
    # Free text goes on one line, and neither it nor any cell can be run as a spreadsheet formula.
    buffer.write(f"# table: {spreadsheet_line(table.name)}\n")
    buffer.write(f"# caption: {spreadsheet_line(table.full_caption)}\n")
    buffer.write(f"# synthetic: {'true' if table.synthetic else 'false'}\n")
    buffer.write(f"# commit: {spreadsheet_line(commit)}\n")
    headers, columns = [], []
    for index, name in enumerate(table.columns):
        column_headers, cells = _csv_columns(name, [row[index] for row in table.rows])
        headers += column_headers
        columns.append(cells)
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([spreadsheet_cell(header) for header in headers])
    rows = [sum((column[index] for column in columns), []) for index in range(len(table.rows))]
    writer.writerows([[spreadsheet_cell(cell) for cell in row] for row in rows])
    return buffer.getvalue()


def to_markdown(table: Table) -> str:
    """A pipe table; the caption goes above it as an emphasised line. Cells are escaped as text."""

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(escape_markup(cell) for cell in cells) + " |"

    rule = ["---:" if align == "r" else ":---" for align in table.align]
    lines = [line(table.columns), "| " + " | ".join(rule) + " |"]
    lines += [line(row) for row in table.rows]
    return "\n".join(lines) + "\n"


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
    "±": r"$\pm$",
    "—": "---",
    "–": "--",
    "×": r"$\times$",
    "→": r"$\rightarrow$",
}


def latex_escape(text: str) -> str:
    """Text as LaTeX prints it: on one line (a blank line would end the cell), no command in it."""
    return "".join(_LATEX_ESCAPES.get(character, character) for character in one_line(text))


def to_latex(table: Table) -> str:
    """A booktabs table (needs \\usepackage{booktabs})."""
    header = " & ".join(rf"\textbf{{{latex_escape(column)}}}" for column in table.columns)
    body = [" & ".join(latex_escape(cell) for cell in row) + r" \\" for row in table.rows]
    lines = [
        r"\begin{table}[ht]",
        r"\centering",
        rf"\caption{{{latex_escape(table.full_caption)}}}",
        rf"\label{{tab:{table.name}}}",
        rf"\begin{{tabular}}{{{''.join(table.align)}}}",
        r"\toprule",
        header + r" \\",
        r"\midrule",
        *body,
        r"\bottomrule",
        r"\end{tabular}",
        r"\end{table}",
    ]
    return "\n".join(lines) + "\n"


def to_markdown_file(table: Table) -> str:
    """The Markdown download: caption, then the table."""
    return f"{escape_markup(table.full_caption)}\n\n{to_markdown(table)}"


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


def _epochs_cell(group) -> str:
    """ "5 of 6 (early stop)", or "5.3 ± 0.6 of 6 (n = 3; min 5, max 6; 2 stopped early)"."""
    stopped = sum(bool(run.metrics["stopped_early"]) for run in group.runs)
    maximum = f"of {group.config['epochs']}"
    if group.count == 1:
        return format_stat(group.metric("epochs_run"), 0, unit=maximum) + (" (early stop)" if stopped else "")
    notes = (f"{stopped} stopped early",) if stopped else ()
    return format_stat(group.metric("epochs_run"), 1, unit=maximum, notes=notes)


def comparison_table(groups, synthetic: bool) -> Table:
    """Ours beside the seed report's, one pair of columns per model."""
    columns, cells = ["Quantity"], []
    for group in groups:
        reference = SEED_REPORT.get(group.model, {})
        rates = [row["learning_rate"] for row in group.runs[0].history]
        rate = (
            format_rate(rates[0])
            if format_rate(rates[0]) == format_rate(rates[-1])
            else f"{format_rate(rates[0])} → {format_rate(rates[-1])}"
        )
        ours = [
            _epochs_cell(group),
            format_stat(group.metric("best_epoch"), 0 if group.count == 1 else 1),
            rate,
            str(group.config["batch_size"]),
            format_percent(group.metric("train_accuracy")),
            format_percent(group.metric("val_accuracy")),
            format_percent(group.metric("test_accuracy")),
            format_stat(group.metric("test_loss"), 4),
            format_count(group.runs[0].metrics["parameters"]["total"]),
            format_count(group.runs[0].metrics["parameters"]["trainable"]),
            format_duration(group.metric("wall_seconds")),
            format_stat(group.metric("train_images_per_second"), 1),
            format_count(group.runs[0].metrics["test_images"]),
            *_compute_cells(group),
        ]
        seed = [
            reference.get(key, NOT_REPORTED)
            for key in (
                "epochs",
                "best_epoch",
                "learning_rate",
                "batch_size",
                "train_accuracy",
                "val_accuracy",
                "test_accuracy",
                "test_loss",
                "parameters",
                "trainable",
                "wall",
                "throughput",
                "test_images",
                "epoch_time",
                "forward_flops",
                "training_flops",
                "accuracy_per_compute",
            )
        ]
        columns.append(f"{group.label} ({spread_label(group.count)})")
        cells.append(ours)
        # The seed report's figures are CIFAR-10 results: beside synthetic runs they would invite
        # a comparison that means nothing, so they are left out then.
        if not synthetic:
            columns.append(f"{group.label}: seed report (reference)")
            cells.append(seed)
    labels = [
        "Epochs run (of maximum)",
        "Best epoch (lowest validation loss)",
        "Learning rate (first → last epoch)",
        "Batch size",
        "Train accuracy (chosen weights)",
        "Validation accuracy (chosen weights)",
        "Test accuracy",
        "Test loss",
        "Parameters",
        "Trainable parameters",
        "Wall time",
        "Training throughput (images/s)",
        "Test images",
        "Wall time per epoch (training and validation)",
        "Forward FLOPs per image (counted)",
        "Training compute (counted FLOPs)",
        "Test accuracy per training PFLOP",
    ]
    rows = [[label] + [column[index] for column in cells] for index, label in enumerate(labels)]
    return Table(
        "comparison",
        "Our runs. The seed report's CIFAR-10 figures are left out: not comparable with synthetic data."
        if synthetic
        else "Our runs beside the seed report's published figures (reference columns; — where the seed report gives none).",
        columns,
        rows,
        synthetic,
    )


def _compute_cells(group) -> list[str]:
    """Time per epoch, counted FLOPs and accuracy per unit of compute; runs from before FLOPs were
    counted say so rather than showing a blank."""
    epoch_seconds = [mean_epoch_seconds(run.history) for run in group.runs]
    counted = [run.metrics.get("compute") for run in group.runs]
    if not all(counted):
        return [format_duration(epoch_seconds), NOT_RECORDED, NOT_RECORDED, NOT_RECORDED]
    training = [compute["training_flops"] for compute in counted]
    per_petaflop = [
        accuracy_per_petaflop(run.metrics["test_accuracy"], flops) for run, flops in zip(group.runs, training)
    ]
    return [
        format_duration(epoch_seconds),
        format_flops([compute["forward_flops_per_image"] for compute in counted]),
        format_flops(training),
        format_stat(per_petaflop, _per_compute_digits(per_petaflop), unit="% per PFLOP"),
    ]


def _per_compute_digits(values: list[float]) -> int:
    """Accuracy per PFLOP runs into the thousands for tiny runs: no decimals there, one below 100."""
    return 1 if abs(sum(values) / len(values)) < 100 else 0


def _per_compute_cell(values: list[float]) -> str:
    return format_stat(values, _per_compute_digits(values))


def headline_table(groups, synthetic: bool) -> Table:
    rows = [
        [
            group.label,
            format_percent(group.metric("test_accuracy")),
            format_stat(group.metric("test_loss"), 4),
            _epochs_cell(group),
            format_count(group.runs[0].metrics["parameters"]["total"]),
            format_duration(group.metric("wall_seconds")),
            spread_label(group.count),
        ]
        for group in groups
    ]
    return Table(
        "headline",
        "Test-set results of this build's runs.",
        ["Model", "Test accuracy", "Test loss", "Epochs run", "Parameters", "Wall time", "Runs"],
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
            [name] + [format_count(counts[split][index]) for split in ("train", "validation", "test")]
            for index, name in enumerate(data["class_names"])
        ]
        rows.append(["Total"] + [format_count(sum(counts[split])) for split in ("train", "validation", "test")])
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
            format_count(layer["params"]),
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
            format_count(group.runs[0].summary[key])
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
                format_rate(config["learning_rate"]),
                f"constant for {config['lr_constant_epochs']} epochs, then × exp(−{config['lr_decay_per_epoch']:g}) per epoch",
                describe_rates([row["learning_rate"] for row in history]),
                str(config["batch_size"]),
                str(config["epochs"]),
                f"on validation loss, patience {patience}, best weights restored" if patience else "off",
                f"{format_count(splits['train'])} train / {format_count(splits['validation'])} validation "
                f"(stratified, seeded) / {format_count(splits['test'])} test",
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
        "Split (images)",
        "Seeds",
    ]
    rows = [[label] + [column[index] for column in cells] for index, label in enumerate(labels)]
    return Table(
        "protocol",
        "The training protocol as run, from each run's config.json and history.csv.",
        columns,
        rows,
        synthetic,
        align=["l"] * len(columns),
    )


def rates_table(group, synthetic: bool) -> Table:
    planned = group.config["lr_schedule"]
    rows = [
        [
            str(row["epoch"]),
            format_rate(planned[row["epoch"] - 1]) if row["epoch"] <= len(planned) else NOT_REPORTED,
            format_rate(row["learning_rate"]),
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
                str(len(arm_rows)),
                format_percent([row["test_accuracy"] for row in arm_rows]),
                format_duration(epoch_seconds),
                format_duration([row["wall_seconds"] for row in arm_rows]),
                format_stat([row["train_images_per_second"] for row in arm_rows], 1),
                ", ".join(devices),
                f"{parameters['total']:,} / {parameters['trainable']:,}",
                format_flops([row["forward_flops_per_image"] for row in arm_rows]),
                format_flops([row["training_flops"] for row in arm_rows]),
                _per_compute_cell(
                    [accuracy_per_petaflop(row["test_accuracy"], row["training_flops"]) for row in arm_rows]
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
            "Parameters (total / trainable)",
            "Forward FLOPs per image",
            "Training FLOPs",
            "Accuracy per PFLOP",
        ],
        rows,
        synthetic,
        align=["l", "r", "r", "r", "r", "r", "l", "r", "r", "r", "r"],
    )
