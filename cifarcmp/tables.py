"""The report's tables: a table model, the tables built from the runs, and their downloads.

Cells are the strings a reader sees on the page ("95.33 %", "90.10 ± 0.20 %"), so a downloaded
table (CSV, LaTeX booktabs, Markdown) and the page agree character for character. Everything here
is a pure function of its arguments; only `write_table` touches disk. The builders take the
report's model groups (`report.ModelGroup`: `.model`, `.label`, `.count`, `.runs`, `.config`,
`.metric(key)`).
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path

from cifarcmp.stats import seed_spread

# Downloads sit next to the pages under generated/tables/. The Markdown form ends in `.md.txt`:
# a `.md` file under docs/ would be turned into a page by MkDocs instead of being offered as a file.
DOWNLOAD_SUFFIXES = {"CSV": ".csv", "LaTeX": ".tex", "Markdown": ".md.txt"}
SYNTHETIC_NOTE = "synthetic data — not CIFAR-10 results"


@dataclass
class Table:
    name: str  # file stem of the downloads, also the HTML anchor: letters, digits, dashes
    caption: str  # one sentence; the synthetic note is appended by `full_caption`
    columns: list[str]
    rows: list[list[str]]
    synthetic: bool = False  # any number in it comes from synthetic data
    align: list[str] = field(default_factory=list)  # "l" or "r" per column; default: first left

    def __post_init__(self) -> None:
        if not self.name.replace("-", "").isalnum():
            raise ValueError(f"table name {self.name!r}: use letters, digits and dashes only")
        for row in self.rows:
            if len(row) != len(self.columns):
                raise ValueError(f"table {self.name}: row {row!r} has {len(row)} cells, expected {len(self.columns)}")
        if not self.align:
            self.align = ["l"] + ["r"] * (len(self.columns) - 1)

    @property
    def full_caption(self) -> str:
        if not self.synthetic:
            return self.caption
        return f"{self.caption.rstrip('.')} ({SYNTHETIC_NOTE})."


# Formatting --------------------------------------------------------------------------------


def mean(values: list[float]) -> float:
    return seed_spread(values)["mean"]


def format_number(value: float, digits: int = 2, scale: float = 1.0, unit: str = "") -> str:
    text = f"{value * scale:,.{digits}f}"
    return f"{text} {unit}".rstrip()


def format_stat(values: list[float], digits: int = 2, scale: float = 1.0, unit: str = "",
                notes: tuple[str, ...] = ()) -> str:
    """One value as is; several as "mean ± std unit (n = 3; min a, max b)".

    Each cell carries its own n and range, so a cell copied on its own into coursework still says
    how many seeds it summarises. Min and max are whole numbers when every value is (epochs).
    `notes` are appended inside the parentheses of a multi-seed cell.
    """
    spread = seed_spread(values)
    if spread["n"] == 1:
        return format_number(spread["mean"], digits, scale, unit)
    whole = scale == 1.0 and all(float(value).is_integer() for value in values)
    low, high = (format_number(spread[key], 0 if whole else digits, scale) for key in ("min", "max"))
    details = "; ".join((f"n = {spread['n']}", f"min {low}, max {high}", *notes))
    head = f"{spread['mean'] * scale:,.{digits}f} ± {spread['std'] * scale:,.{digits}f} {unit}".rstrip()
    return f"{head} ({details})"


def format_percent(values: list[float], digits: int = 2) -> str:
    """Accuracies stored as fractions, shown as percentages."""
    return format_stat(values, digits, scale=100.0, unit="%")


def format_flops(values: list[float]) -> str:
    """FLOPs in the SI unit that keeps the mean between 1 and 1000 (GFLOP ... EFLOP)."""
    average = seed_spread(values)["mean"]
    scale, unit = next(((scale, unit) for scale, unit in ((1e18, "EFLOP"), (1e15, "PFLOP"), (1e12, "TFLOP"))
                        if average >= scale), (1e9, "GFLOP"))
    return format_stat(values, 3 if average / scale < 10 else 1, scale=1 / scale, unit=unit)


def format_count(value: int) -> str:
    return f"{int(value):,}"


def spread_label(count: int) -> str:
    return "single run" if count == 1 else f"mean ± std, n = {count} seeds"


# Writers ----------------------------------------------------------------------------------


def to_csv(table: Table) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(table.columns)
    writer.writerows(table.rows)
    return buffer.getvalue()


def to_markdown(table: Table) -> str:
    """A pipe table; the caption goes above it as an emphasised line."""

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"

    rule = ["---:" if align == "r" else ":---" for align in table.align]
    lines = [line(table.columns), "| " + " | ".join(rule) + " |"]
    lines += [line(row) for row in table.rows]
    return "\n".join(lines) + "\n"


_LATEX_ESCAPES = {
    "\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
    "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
    "±": r"$\pm$", "—": "---", "–": "--", "×": r"$\times$", "→": r"$\rightarrow$",
}


def latex_escape(text: str) -> str:
    return "".join(_LATEX_ESCAPES.get(character, character) for character in text)


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
    return f"{table.full_caption}\n\n{to_markdown(table)}"


def write_table(table: Table, directory: Path) -> dict[str, str]:
    """Write the three downloads of `table` into `directory`; return {format: file name}."""
    directory.mkdir(parents=True, exist_ok=True)
    contents = {"CSV": to_csv(table), "LaTeX": to_latex(table), "Markdown": to_markdown_file(table)}
    names = {}
    for label, suffix in DOWNLOAD_SUFFIXES.items():
        name = table.name + suffix
        (directory / name).write_text(contents[label], encoding="utf-8")
        names[label] = name
    return names


# The report's tables ------------------------------------------------------------------------

# The seed report's published figures, shown beside ours as a reference and never computed.
# It trained with plain SGD at 0.01, batch 64, and validated on the test set.
SEED_REPORT = {
    "resnet50": {"epochs": "6 of 6", "learning_rate": "0.01", "batch_size": "64",
                 "test_accuracy": "95.33 %", "test_accuracy_value": 0.9533, "test_loss": "0.1792",
                 "parameters": "26,215,818"},
    "cnn": {"epochs": "17 of 50 (early stop)", "learning_rate": "0.01", "batch_size": "64",
            "test_accuracy": "77 %", "test_accuracy_value": 0.77, "test_loss": "0.6967",
            "parameters": "1,250,858"},
}
NOT_RECORDED = "not recorded"  # a run made before this figure was written
NOT_REPORTED = "—"


def format_duration(values: list[float]) -> str:
    """Seconds, minutes or hours, chosen by the mean so every run shares the unit."""
    average = mean(values)
    if average < 120:
        return format_stat(values, 1, unit="s")
    if average < 2 * 3600:
        return format_stat(values, 1, scale=1 / 60, unit="min")
    return format_stat(values, 2, scale=1 / 3600, unit="h")


def format_rate(value: float) -> str:
    return f"{value:.4g}"


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
    """"5 of 6 (early stop)", or "5.3 ± 0.6 of 6 (n = 3; min 5, max 6; 2 stopped early)"."""
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
        rate = format_rate(rates[0]) if format_rate(rates[0]) == format_rate(rates[-1]) \
            else f"{format_rate(rates[0])} → {format_rate(rates[-1])}"
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
        seed = [reference.get(key, NOT_REPORTED) for key in (
            "epochs", "best_epoch", "learning_rate", "batch_size", "train_accuracy", "val_accuracy",
            "test_accuracy", "test_loss", "parameters", "trainable", "wall", "throughput", "test_images",
            "epoch_time", "forward_flops", "training_flops", "accuracy_per_compute")]
        columns += [f"{group.label} ({spread_label(group.count)})", f"{group.label}: seed report (reference)"]
        cells += [ours, seed]
    labels = ["Epochs run (of maximum)", "Best epoch (lowest validation loss)", "Learning rate (first → last epoch)",
              "Batch size", "Train accuracy (chosen weights)", "Validation accuracy (chosen weights)", "Test accuracy",
              "Test loss", "Parameters", "Trainable parameters", "Wall time", "Training throughput (images/s)",
              "Test images", "Wall time per epoch (training and validation)",
              "Forward FLOPs per image (counted)", "Training compute (counted FLOPs)",
              "Test accuracy per training PFLOP"]
    rows = [[label] + [column[index] for column in cells] for index, label in enumerate(labels)]
    return Table("comparison", "Our runs beside the seed report's published figures (reference columns; "
                 "— where the seed report gives none).", columns, rows, synthetic)


def _compute_cells(group) -> list[str]:
    """Time per epoch, counted FLOPs and accuracy per unit of compute; runs from before FLOPs were
    counted say so rather than showing a blank."""
    epoch_seconds = [sum(row["seconds"] for row in run.history) / len(run.history) for run in group.runs]
    counted = [run.metrics.get("compute") for run in group.runs]
    if not all(counted):
        return [format_duration(epoch_seconds), NOT_RECORDED, NOT_RECORDED, NOT_RECORDED]
    training = [compute["training_flops"] for compute in counted]
    per_petaflop = [run.metrics["test_accuracy"] * 100 / (flops / 1e15) for run, flops in zip(group.runs, training)]
    return [
        format_duration(epoch_seconds),
        format_flops([compute["forward_flops_per_image"] for compute in counted]),
        format_flops(training),
        format_stat(per_petaflop, 1, unit="% per PFLOP"),
    ]


def headline_table(groups, synthetic: bool) -> Table:
    rows = [[group.label, format_percent(group.metric("test_accuracy")), format_stat(group.metric("test_loss"), 4),
             _epochs_cell(group), format_count(group.runs[0].metrics["parameters"]["total"]),
             format_duration(group.metric("wall_seconds")), spread_label(group.count)] for group in groups]
    return Table("headline", "Test-set results of this build's runs.",
                 ["Model", "Test accuracy", "Test loss", "Epochs run", "Parameters", "Wall time", "Runs"],
                 rows, synthetic)


def counts_tables(groups, synthetic: bool) -> list[Table]:
    """Images per class; one table when every run used the same split sizes, else one per model."""
    per_model = {group.model: (group, group.runs[0].manifest["data"]) for group in groups}
    distinct = {json.dumps(data["counts"], sort_keys=True) for _, data in per_model.values()}
    chosen = list(per_model.values())[:1] if len(distinct) == 1 else list(per_model.values())
    tables = []
    for group, data in chosen:
        counts = data["counts"]
        rows = [[name] + [format_count(counts[split][index]) for split in ("train", "validation", "test")]
                for index, name in enumerate(data["class_names"])]
        rows.append(["Total"] + [format_count(sum(counts[split])) for split in ("train", "validation", "test")])
        scope = "every run" if len(chosen) == 1 else f"the {group.label} runs"
        name = "counts" if len(chosen) == 1 else f"counts-{group.model}"
        tables.append(Table(name, f"Images per class in each split, as used by {scope}.",
                            ["Class", "Train", "Validation", "Test"], rows, synthetic))
    return tables


def layer_table(group, synthetic: bool) -> Table:
    summary = group.runs[0].summary
    rows = [[layer["name"], layer["type"], layer["output_shape"], format_count(layer["params"]),
             "yes" if layer["trainable"] else "no"] for layer in summary["layers"]]
    return Table(f"layers-{group.model}", f"{group.label}: layers as built (summary.json).",
                 ["Layer", "Type", "Output shape", "Parameters", "Trainable"], rows, synthetic,
                 align=["l", "l", "l", "r", "l"])


def parameters_table(groups, synthetic: bool) -> Table:
    rows = [[group.label] + [format_count(group.runs[0].summary[key]) for key in
                             ("total_params", "trainable_params", "non_trainable_params")] for group in groups]
    return Table("parameters", "Parameter counts (summary.json).",
                 ["Model", "Total", "Trainable", "Non-trainable"], rows, synthetic)


def protocol_table(groups, synthetic: bool) -> Table:
    """The protocol as run, read from config.json and history.csv (first seed of each model)."""
    columns, cells = ["Setting"], []
    for group in groups:
        config, history = group.config, group.runs[0].history
        if group.model == "resnet50":
            size = f"32 px, upsampled ×{config['upsampling']} (nearest neighbour) to {config['image_size']} px"
        else:
            size = f"{config['image_size']} px"
        patience = config["early_stopping_patience"]
        splits = {split: sum(group.runs[0].manifest["data"]["counts"][split]) for split in ("train", "validation", "test")}
        cells.append([
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
        ])
        columns.append(group.label)
    labels = ["Initial weights", "Input size", "Optimiser and loss", "Initial learning rate", "Schedule (config.json)",
              "Rates used (history.csv)", "Batch size", "Maximum epochs", "Early stopping", "Split (images)", "Seeds"]
    rows = [[label] + [column[index] for column in cells] for index, label in enumerate(labels)]
    return Table("protocol", "The training protocol as run, from each run's config.json and history.csv.",
                 columns, rows, synthetic, align=["l"] * len(columns))


def rates_table(group, synthetic: bool) -> Table:
    planned = group.config["lr_schedule"]
    rows = [[str(row["epoch"]), format_rate(planned[row["epoch"] - 1]) if row["epoch"] <= len(planned) else NOT_REPORTED,
             format_rate(row["learning_rate"])] for row in group.runs[0].history]
    return Table(f"learning-rates-{group.model}", f"{group.label}: learning rate per epoch, planned and used.",
                 ["Epoch", "Planned (config.json)", "Used (history.csv)"], rows, synthetic)


def build_tables(groups, synthetic: bool) -> dict[str, Table]:
    tables = [comparison_table(groups, synthetic), headline_table(groups, synthetic),
              parameters_table(groups, synthetic), protocol_table(groups, synthetic)]
    tables += counts_tables(groups, synthetic)
    tables += [layer_table(group, synthetic) for group in groups]
    tables += [rates_table(group, synthetic) for group in groups]
    return {table.name: table for table in tables}
