"""How every number reads, and the table as data: the one place a figure becomes text.

Cells are the strings a reader sees on the page ("95.33 %", "90.10 ± 0.20 %"), so a downloaded
table and the page agree character for character. The renderer registers the `format_*`
functions below as Jinja filters (`report.render.FILTERS`), so the templates format numbers with
the same code the tables use. Pure functions; nothing here reads or writes a file.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cifarcmp.stats import seed_spread

SYNTHETIC_NOTE = "synthetic data — not CIFAR-10 results"
NOT_RECORDED = "not recorded"  # a run made before this figure was written
NOT_REPORTED = "—"


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


def mean(values: list[float]) -> float:
    return seed_spread(values)["mean"]


def format_number(value: float, digits: int = 2, scale: float = 1.0, unit: str = "") -> str:
    text = f"{value * scale:,.{digits}f}"
    return f"{text} {unit}".rstrip()


def format_stat(
    values: list[float], digits: int = 2, scale: float = 1.0, unit: str = "", notes: tuple[str, ...] = ()
) -> str:
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
    scale, unit = next(
        ((scale, unit) for scale, unit in ((1e18, "EFLOP"), (1e15, "PFLOP"), (1e12, "TFLOP")) if average >= scale),
        (1e9, "GFLOP"),
    )
    return format_stat(values, 3 if average / scale < 10 else 1, scale=1 / scale, unit=unit)


def format_duration(values: list[float]) -> str:
    """Seconds, minutes or hours, chosen by the mean so every run shares the unit."""
    average = mean(values)
    if average < 120:
        return format_stat(values, 1, unit="s")
    if average < 2 * 3600:
        return format_stat(values, 1, scale=1 / 60, unit="min")
    return format_stat(values, 2, scale=1 / 3600, unit="h")


def format_count(value: int) -> str:
    return f"{int(value):,}"


def format_rate(value: float) -> str:
    """A learning rate: four significant digits."""
    return f"{value:.4g}"


def format_p_value(p_value: float) -> str:
    """Three decimals, or scientific notation below 0.001 so a tiny p-value never reads as 0."""
    return f"{p_value:.3f}" if p_value >= 0.001 else f"{p_value:.1e}"


def format_fraction(fraction: float) -> str:
    """A share of the training split: 0.01 -> "1 %"."""
    return f"{fraction * 100:g} %"


def format_pp(value: float, signed: bool = False) -> str:
    """A difference of accuracies in percentage points, one decimal ("+2.5 pp" when `signed`)."""
    return f"{value:+.1f} pp" if signed else f"{value:.1f} pp"


def format_accuracy(percent: float) -> str:
    """An accuracy already in percent, two decimals ("63.30 %")."""
    return f"{percent:.2f} %"


def format_epoch(value: float) -> str:
    """An epoch number, or a mean of epochs over seeds with one decimal."""
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"


def format_ratio(value: float) -> str:
    return f"{value:.1f} ×"


def format_decimals(value: float, digits: int = 3) -> str:
    return f"{value:.{digits}f}"


def spread_label(count: int) -> str:
    return "single run" if count == 1 else f"mean ± std, n = {count} seeds"
