"""Executors: where the plan's runs (cifarcmp/plan.py) are trained; nothing about a run depends on it.

- `local`: on this machine, N runs at a time, each a `python -m cifarcmp.cli train ...` process
  with its own GPU where GPUs are visible;
- `slurm`: the missing and interrupted runs as one SLURM job array, one run per task, on a
  cluster whose nodes share the results folder.

Each returns one `Outcome` per run it was given; the caller reads the runs' status from disk
afterwards, which is the only truth about whether a run finished.

May import: `cifarcmp.plan`, `cifarcmp.config`, `cifarcmp.results`, `cifarcmp.paths`,
`cifarcmp.errors`, the standard library. Never Keras: executors start processes, they train nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

EXECUTORS = ("local", "slurm")


@dataclass(frozen=True)
class Outcome:
    name: str  # the run's name in the plan
    state: str  # how its process or task ended: "exit 0", "exit 1", or SLURM's state (COMPLETED, FAILED, ...)
    log: Path | None  # where its output went (None: this terminal)
