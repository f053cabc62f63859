"""Numbers as analysis computes them, the table as data, and the one place a figure becomes text.

Analysis puts typed cells into a `Table`: a `Number` (one figure, or one figure over several
seeds, with its `Kind`: percent, seconds, FLOPs, count, p-value ...) or an `Interval`; text cells
stay text. The report then prints each cell (`Table.shown`), choosing one unit per column (or per
row, for a table of one quantity per row): a column never mixes seconds and minutes, nor GFLOP and
TFLOP. A cell shows one number with its unit; the spread over seeds (std, n, min, max) goes into
the cell's tooltip, the LaTeX cell (mean ± std) and columns of its own in the CSV, which is written
from the numbers (`report.tables.to_csv`), never read back from the text.

The `format_*` functions give the text a sentence prints; the renderer registers some of them as
Jinja filters (`report.render.FILTERS`), so the templates print numbers with the same code. Those
that format a measured figure return `Shown`: its text, still carrying its `Number`, so a table
built from sentences' pieces (the Claims page's) still writes numbers into its CSV. Pure
functions; nothing here reads or writes a file.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

from cifarcmp.stats import seed_spread

SYNTHETIC_NOTE = "synthetic data — not CIFAR-10 results"
NOT_RECORDED = "not recorded"  # a run made before this figure was written
NOT_REPORTED = "—"
# A figure the protocol leaves unread on purpose: the test accuracy of a learning rate that was not
# chosen (the test set is read for the rate chosen on validation only).
NOT_READ = "not read"
PLACEHOLDERS = frozenset({NOT_RECORDED, NOT_REPORTED, NOT_READ, ""})
# What a figure over several seeds stands for, said under each table that has one: on the page
# (one number per cell, the spread in its tooltip) and in the downloads (mean ± std; the CSV has it all).
SPREAD_NOTE = "Values over several seeds are means; hover over or tab to a value for its std, min and max"
DOWNLOAD_SPREAD_NOTE = "Values over several seeds are mean ± std; the CSV also has n, min and max"


# Kinds of quantity ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Unit:
    """How a column prints: stored value × `factor`, `digits` decimals, then `symbol`."""

    factor: float = 1.0
    symbol: str = ""
    digits: int = 0


@dataclass(frozen=True)
class Kind:
    """A kind of quantity: the unit it is stored and downloaded in, and how a column of it prints.

    `unit(values)` chooses one `Unit` for all the values of a column (by the largest), so every
    cell of the column shares it. The CSV holds the stored value × `csv_factor`, in `csv_unit`.
    """

    name: str
    csv_unit: str
    unit: Callable[[list[float]], Unit]
    csv_factor: float = 1.0
    whole: bool = False  # a whole number when single (counts, epochs)
    signed: bool = False  # a difference: "+3.6 pp" and "-3.7 pp" alike


def _fixed(symbol: str, digits: int, factor: float = 1.0) -> Callable[[list[float]], Unit]:
    return lambda values: Unit(factor, symbol, digits)


def _digits(values: list[float], factor: float, digits: int) -> int:
    """At least `digits` decimals, more (up to six) so the smallest non-zero value of a column
    that shares a unit with much larger ones keeps two significant digits instead of reading 0.0."""
    smallest = min((abs(value) * factor for value in values if value), default=0.0)
    if not smallest:
        return digits
    return min(6, max(digits, 1 - math.floor(math.log10(smallest))))


def _seconds_unit(values: list[float]) -> Unit:
    largest = max(values, default=0.0)
    if largest < 120:
        return Unit(1.0, "s", _digits(values, 1.0, 1))
    if largest < 2 * 3600:
        return Unit(1 / 60, "min", _digits(values, 1 / 60, 1))
    return Unit(1 / 3600, "h", _digits(values, 1 / 3600, 2))


def _flops_unit(values: list[float]) -> Unit:
    """The SI prefix that keeps the column's largest value between 1 and 1000 (GFLOP ... EFLOP)."""
    largest = max(values, default=0.0)
    scale, symbol = next(
        ((scale, symbol) for scale, symbol in ((1e18, "EFLOP"), (1e15, "PFLOP"), (1e12, "TFLOP")) if largest >= scale),
        (1e9, "GFLOP"),
    )
    return Unit(1 / scale, symbol, _digits(values, 1 / scale, 3 if largest / scale < 10 else 1))


def _per_compute_unit(values: list[float]) -> Unit:
    """Accuracy per PFLOP runs into the thousands for tiny runs: no decimals there, one below 100."""
    return Unit(1.0, "% per PFLOP", 1 if max(map(abs, values), default=0.0) < 100 else 0)


PERCENT = Kind("percent", "%", _fixed("%", 2, 100.0), csv_factor=100.0)  # stored as a fraction
SHARE = Kind("share", "%", _fixed("", 1, 100.0), csv_factor=100.0)  # a fraction in a table whose caption says %
PP = Kind("pp", "pp", _fixed("pp", 1))  # percentage points
SIGNED_PP = Kind("signed-pp", "pp", _fixed("pp", 1), signed=True)  # a difference in percentage points
SECONDS = Kind("seconds", "s", _seconds_unit)
FLOPS = Kind("flops", "FLOP", _flops_unit)
PER_PFLOP = Kind("per-pflop", "% per PFLOP", _per_compute_unit)
COUNT = Kind("count", "", _fixed("", 0), whole=True)
EPOCHS = Kind("epochs", "", _fixed("", 1), whole=True)
RATE = Kind("rate", "", _fixed("", 0))  # a learning rate: four significant digits (see `_number_text`)
P_VALUE = Kind("p", "", _fixed("", 4))
RATIO = Kind("ratio", "×", _fixed("×", 2))


def plain(digits: int, symbol: str = "") -> Kind:
    """A quantity without a unit of its own (a loss, an F1 score), or with a fixed one."""
    return Kind(f"plain-{digits}{symbol}", symbol, _fixed(symbol, digits))


# Cells --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Number:
    """One figure, or one figure over seeds (`values`, one per run), in its kind's stored unit."""

    values: tuple[float, ...]
    kind: Kind
    note: str = ""  # said in the tooltip, after the spread ("at most 6 epochs; 2 stopped early")

    def __post_init__(self) -> None:
        object.__setattr__(self, "values", tuple(float(value) for value in self.values))
        if not self.values:
            raise ValueError("a Number needs at least one value")

    @property
    def spread(self) -> dict:
        return seed_spread(list(self.values))

    @property
    def mean(self) -> float:
        return self.spread["mean"]

    @property
    def n(self) -> int:
        return len(self.values)

    @property
    def varies(self) -> bool:
        """Several runs that differ: only then is there a spread to show."""
        return self.n > 1 and min(self.values) != max(self.values)


@dataclass(frozen=True)
class Interval:
    """A confidence interval of a quantity: one cell on the page, lower and upper in the CSV."""

    lower: float
    upper: float
    kind: Kind = PERCENT


def number(values, kind: Kind, note: str = "") -> Number:
    """A Number from one value or a list of values over seeds."""
    return Number(tuple(values) if isinstance(values, list | tuple) else (values,), kind, note)


def _number_text(value: float, kind: Kind, unit: Unit, whole: bool = False) -> str:
    """`value` (stored unit) as text in `unit`: thousands separated, the unit after a space."""
    if kind is P_VALUE:
        return format_p_value(value)
    if kind is RATE:
        return format_rate(value)
    digits = 0 if whole else unit.digits
    sign = "+" if kind.signed else ""
    return f"{value * unit.factor:{sign},.{digits}f} {unit.symbol}".rstrip()


def _whole(cell: Number) -> bool:
    return cell.kind.whole and all(value.is_integer() for value in cell.values)


def number_text(cell: Number, unit: Unit | None = None, spread: bool = False) -> str:
    """The cell as a table prints it: the mean in `unit`; with `spread`, "mean ± std unit"."""
    unit = unit or cell.kind.unit(list(cell.values))
    whole = _whole(cell) and not cell.varies
    mean = _number_text(cell.mean, cell.kind, unit, whole)
    if not (spread and cell.varies):
        return mean
    std = cell.spread["std"] * unit.factor
    head, _, symbol = mean.partition(" ") if unit.symbol else (mean, "", "")
    return f"{head} ± {std:,.{max(unit.digits, 1 if cell.kind.whole else 0)}f} {symbol}".rstrip()


def spread_text(cell: Number, unit: Unit | None = None) -> str:
    """The tooltip of a cell: what its one number stands for ("mean of 3 runs; std 0.20 %; ..."),
    empty for runs that agree (a constant has no spread) unless the cell carries a note."""
    unit = unit or cell.kind.unit(list(cell.values))
    parts = []
    if cell.varies:
        spread = cell.spread
        whole = _whole(cell)
        low, high = (_number_text(spread[key], cell.kind, unit, whole) for key in ("min", "max"))
        std = _number_text(spread["std"], cell.kind, unit)
        parts.append(f"mean of {cell.n} runs; std {std}; min {low}, max {high}")
    if cell.note:
        parts.append(cell.note)
    return "; ".join(parts)


def interval_cell_text(cell: Interval, unit: Unit | None = None) -> str:
    unit = unit or cell.kind.unit([cell.upper])
    low, high = (_number_text(value, cell.kind, unit) for value in (cell.lower, cell.upper))
    return f"{low.removesuffix(' ' + unit.symbol) if unit.symbol else low} – {high}"


class Shown(str):
    """A measured figure's text as a sentence prints it, still carrying its `Number`.

    It is a str, so it reads into a sentence as any text; a `Table` given one prints the number
    in its column's unit and writes it to the CSV as a number.
    """

    number: Number

    def __new__(cls, text: str, cell: Number) -> Shown:
        shown = super().__new__(cls, text)
        shown.number = cell
        return shown


def typed(cell):
    """The typed value of a table cell: a `Shown` as its Number, anything else as it is (None
    reads "—"; a placeholder such as "not recorded" is text on the page, an empty CSV cell)."""
    return cell.number if isinstance(cell, Shown) else cell


# The table -----------------------------------------------------------------------------------


@dataclass
class Table:
    """A table as data: cells are `Number`, `Interval`, text, or a `Shown` figure.

    `by_row`: a table of one quantity per row (the comparison), whose units are chosen per row.
    """

    name: str  # file stem of the downloads, also the HTML anchor: letters, digits, dashes
    caption: str  # one sentence; the synthetic note is appended by `full_caption`
    columns: list[str]
    rows: list[list]
    synthetic: bool = False  # any number in it comes from synthetic data
    align: list[str] = field(default_factory=list)  # "l" or "r" per column; default: first left
    by_row: bool = False

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
        """The caption on the page: with how to read a mean, and the synthetic note."""
        return self._caption(SPREAD_NOTE)

    @property
    def download_caption(self) -> str:
        """The caption of the downloads, whose cells read "mean ± std"."""
        return self._caption(DOWNLOAD_SPREAD_NOTE)

    def _caption(self, spread_note: str) -> str:
        caption = self.caption
        if self.varies:
            caption = f"{caption.rstrip('.')}. {spread_note}."
        if not self.synthetic:
            return caption
        return f"{caption.rstrip('.')} ({SYNTHETIC_NOTE})."

    @property
    def cells(self) -> list[list]:
        """Every cell typed (see `typed`)."""
        return [[typed(cell) for cell in row] for row in self.rows]

    @property
    def varies(self) -> bool:
        """Some cell stands for several runs that differ (the caption then says how to read it)."""
        return any(isinstance(cell, Number) and cell.varies for row in self.cells for cell in row)

    def units(self) -> list[list[Unit | None]]:
        """The unit of every cell: one per kind in each column (each row when `by_row`)."""
        cells = self.cells
        lines = cells if self.by_row else [list(column) for column in zip(*cells)] if cells else []
        chosen = []
        for line in lines:
            values: dict[str, list[float]] = {}
            for cell in line:
                if isinstance(cell, Number):
                    values.setdefault(cell.kind.name, []).extend(cell.values)
                elif isinstance(cell, Interval):
                    values.setdefault(cell.kind.name, []).append(cell.upper)
            kinds = {cell.kind.name: cell.kind for cell in line if isinstance(cell, Number | Interval)}
            units = {name: kinds[name].unit(found) for name, found in values.items()}
            chosen.append([units[cell.kind.name] if isinstance(cell, Number | Interval) else None for cell in line])
        if self.by_row:
            return chosen
        return [list(row) for row in zip(*chosen)] if chosen else [[] for _ in self.rows]

    def shown(self, spread: bool = False) -> list[list[tuple[str, str]]]:
        """Every cell as (text, tooltip): text as the page prints it, the tooltip its spread.

        With `spread` (LaTeX), a cell over several runs reads "mean ± std unit" instead.
        """
        result = []
        for row, units in zip(self.cells, self.units()):
            line = []
            for cell, unit in zip(row, units):
                if cell is None:
                    line.append((NOT_REPORTED, ""))
                elif isinstance(cell, Number):
                    line.append((number_text(cell, unit, spread), "" if spread else spread_text(cell, unit)))
                elif isinstance(cell, Interval):
                    line.append((interval_cell_text(cell, unit), ""))
                else:
                    line.append((str(cell), ""))
            result.append(line)
        return result


# Text for sentences ---------------------------------------------------------------------------


def mean(values: list[float]) -> float:
    return seed_spread(values)["mean"]


def _sentence(cell: Number, unit: Unit) -> Shown:
    """ "90.10 ± 0.20 % (n = 3; min 89.90, max 90.30)" for runs that differ, else the one value."""
    text = number_text(cell, unit, spread=True)
    if cell.varies:
        whole = unit.factor == 1.0 and all(value.is_integer() for value in cell.values)
        bare = Unit(unit.factor, "", unit.digits)
        low, high = (_number_text(cell.spread[key], cell.kind, bare, whole) for key in ("min", "max"))
        text += f" (n = {cell.n}; min {low}, max {high})"
    return Shown(text, cell)


def format_stat(values: list[float], digits: int = 2, unit: str = "") -> Shown:
    """One value as is; several that differ as "mean ± std unit (n = 3; min a, max b)"."""
    kind = plain(digits, unit)
    cell = number(list(values), kind)
    return _sentence(cell, kind.unit(list(cell.values)))


def format_percent(values: list[float], digits: int = 2) -> Shown:
    """Accuracies stored as fractions, shown as percentages."""
    cell = number(list(values), PERCENT)
    return _sentence(cell, Unit(100.0, "%", digits))


def format_flops(values: list[float]) -> Shown:
    """FLOPs in the SI unit that keeps the largest between 1 and 1000 (GFLOP ... EFLOP)."""
    cell = number(list(values), FLOPS)
    return _sentence(cell, FLOPS.unit(list(cell.values)))


def format_duration(values: list[float]) -> Shown:
    """Seconds, minutes or hours, chosen by the largest so every run shares the unit."""
    cell = number(list(values), SECONDS)
    return _sentence(cell, SECONDS.unit(list(cell.values)))


def format_count(value: int) -> Shown:
    return Shown(f"{int(value):,}", number(int(value), COUNT))


def format_rate(value: float) -> str:
    """A learning rate: four significant digits."""
    return f"{value:.4g}"


P_VALUE_FLOOR = 1e-4


def format_p_value(p_value: float) -> Shown:
    """Plain decimals: three, or four below 0.001; below 0.0001 "< 0.0001" (never "2.2e-126")."""
    if p_value < P_VALUE_FLOOR:
        text = f"< {P_VALUE_FLOOR:.4f}"
    else:
        text = f"{p_value:.3f}" if p_value >= 0.001 else f"{p_value:.4f}"
    return Shown(text, Number((p_value,), P_VALUE))


def format_p_clause(p_value: float) -> str:
    """A p-value in a sentence: "p = 0.032", or "p < 0.0001" (never "p = < 0.0001")."""
    text = str(format_p_value(p_value))
    return f"p {text}" if text.startswith("<") else f"p = {text}"


def format_fraction(fraction: float) -> str:
    """A share of the training split: 0.01 -> "1 %"."""
    return f"{fraction * 100:g} %"


def format_pp(value: float, signed: bool = False) -> Shown:
    """A difference of accuracies in percentage points, one decimal ("+2.5 pp" when `signed`)."""
    return Shown(f"{value:+.1f} pp" if signed else f"{value:.1f} pp", number(value, SIGNED_PP if signed else PP))


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
