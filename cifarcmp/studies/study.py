"""What a study is: the runs it asks the plan for, the row it writes per run, and how it is described.

A study module (arms.py, data_efficiency.py, gradcam.py) defines one `Study` and nothing else
needs to know about it: the package's registry (`cifarcmp.studies.STUDIES`) lists it, the plan
asks it for its runs, `summaries` writes its rows, the contract checks them with its rules, the
report builds its table with the function it names and shows its section on its page.

A study that trains nothing names, in `reads`, the study whose finished runs it summarises (the
Grad-CAM study reads the arms' runs), and asks for no runs of its own.

No Keras, no plan, no analysis here: the plan imports this.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Request:
    """What the report asks of every study: its seeds, its training-split fractions, where studies
    go, and the settings some studies take (each study says what it makes of them)."""

    seeds: list[int]
    fractions: tuple[float, ...]
    root: Path  # results/studies-<tag>/
    profile: str = "paper"  # the studies' smoke forms shrink their grids (each module says how)
    main: Path | None = None  # results/<tag>/: the main runs (a distillation teacher is one)
    learning_rates: tuple[float, ...] = ()  # the learning-rate study's grid (empty: its default)
    backbones: tuple[str, ...] = ()  # the backbones study's networks (empty: its default)

    @property
    def smoke(self) -> bool:
        return self.profile == "smoke"

    def seeds_where_spread_is_not_the_point(self) -> list[int]:
        """Every seed, or in the smoke profile the first only: a smoke run checks that a study runs end
        to end, and a second seed of it adds minutes and no check."""
        return self.seeds[:1] if self.smoke else list(self.seeds)


@dataclass(frozen=True)
class Wanted:
    """One run a study needs: an arm (config.ARMS) on a fraction of the training split, one seed, one
    folder; and, for a study that varies the protocol, the RunConfig fields it changes and its name
    for that change (`variant`, as its table shows it: "flip and crop", "lr 0.001", "64 px")."""

    arm: str
    fraction: float
    seed: int
    folder: Path
    changes: Mapping[str, object] = field(default_factory=dict)  # RunConfig field -> value
    variant: str = ""  # empty: the arm's own protocol


def _keep_row(row: dict, folder: Path) -> dict:
    return row


@dataclass(frozen=True)
class Study:
    name: str  # as STUDIES= spells it, and its folder under results/studies-<tag>/
    description: str  # one line on the Studies page: what it compares
    title: str = ""  # its section's heading on its page (empty: the name)
    # Its section on its page, once it ran: Markdown and Jinja, rendered with the page's context and
    # `this` (this study's name, title and table name), so `{{ table(this.table) }}` shows its table.
    section: str = ""
    # The function that builds its table from the loaded studies, `(studies, synthetic) -> Table`,
    # named as "module:function": it lives in the analysis or report stage, which this stage must
    # not import; the report imports it by this name. Empty: the study has no table.
    table: str = ""
    page: str = "studies"  # the page its section is on: docs/templates/pages/<page>.md.j2
    # The runs it needs, in its summary's order; a study that trains nothing asks for none.
    runs: Callable[[Request], list[Wanted]] = lambda request: []
    # The study whose runs it summarises instead of its own (one that trains nothing).
    reads: str = ""
    # Its summary row for one finished run, from the row every study starts with (summaries.py).
    row: Callable[[dict, Path], dict] = _keep_row
    # The contract of its rows beyond the fields every row has (schema.STUDY_RUN): field -> JSON Schema.
    row_rules: Mapping[str, object] = field(default_factory=dict)
