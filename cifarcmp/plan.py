"""The plan of a report: every run it needs, derived once from the configuration.

A report is a set of independent runs (models x seeds, plus the studies' arms x fractions x
seeds), each writing one results directory. `build(PlanSettings(...))` lists them, each with its
resolved `RunConfig`, its `cifarcmp train` arguments, its output directory and its status read
from disk:

- `done`: a finished run is there (its manifest says complete); it is never trained again;
- `interrupted`: `<dir>.incomplete/` is there; training it again resumes from its last epoch;
- `missing`: nothing is there yet.

Make (`make plan`, `make train`), the studies' summaries (cifarcmp/studies/) and the executors
(cifarcmp/executors/) all read this one list, so they cannot disagree about what a report is.
Nothing here writes a file or imports Keras: listing a plan costs a few small reads.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from cifarcmp import config, results
from cifarcmp.config import MODELS, PROFILES, STUDIES, RunConfig
from cifarcmp.errors import UserError
from cifarcmp.paths import RESULTS_ROOT

DEFAULT_FRACTIONS = (0.01, 0.1, 1.0)
# The arms trained on fractions of the training split (the data-efficiency study).
DATA_EFFICIENCY_ARMS = ("resnet50", "resnet50-frozen", "cnn")
STATUSES = ("done", "interrupted", "missing")
DERIVED_FIELDS = {"deviations", "lr_schedule", "image_size"}


@dataclass(frozen=True)
class PlanSettings:
    """What a report asks for: the Make variables PROFILE, SEED, SEEDS, STUDIES, FRACTIONS, DATA, WEIGHTS, PRECISION."""

    profile: str
    seeds: int = 1  # seeds per run: 0..seeds-1, or just `seed` when 1
    seed: int = 0  # the one seed used when seeds is 1
    studies: tuple[str, ...] = ()
    fractions: tuple[float, ...] = DEFAULT_FRACTIONS
    data: str | None = None  # None: the profile's own data
    weights: str | None = None  # None: the profile's own weights
    precision: str | None = None  # None: float32, the seed's
    results_root: Path = field(default=RESULTS_ROOT)

    @property
    def seed_list(self) -> list[int]:
        return [self.seed] if self.seeds == 1 else list(range(self.seeds))


@dataclass(frozen=True)
class PlannedRun:
    """One run of the plan: what to train, where it goes, and where it stands."""

    name: str  # its output directory relative to the results root, e.g. smoke/cnn/seed-0
    config: RunConfig
    out: Path
    status: str  # done, interrupted or missing (see the module docstring)
    arm: str  # the study arm, or the model for the main runs
    fraction: float
    seed: int
    data: str | None  # as asked for (None: the profile's), so the arguments below say the same
    weights: str | None

    def train_arguments(self) -> list[str]:
        """The `cifarcmp train` arguments that train exactly this run into `out`."""
        arguments = ["--model", self.config.model, "--profile", self.config.profile, "--seed", str(self.seed)]
        if self.config.arm:
            arguments += ["--arm", self.config.arm]
        if self.fraction != 1:
            arguments += ["--fraction", f"{self.fraction:g}"]
        if self.data is not None:
            arguments += ["--data", self.data]
        if self.weights is not None:  # the random-initialisation arm overrides it, as in config.resolve_arm
            arguments += ["--weights", self.weights]
        if self.config.precision != "float32":
            arguments += ["--precision", self.config.precision]
        return [*arguments, "--out", str(self.out)]

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "status": self.status,
            "out": str(self.out),
            "arm": self.arm,
            "fraction": self.fraction,
            "seed": self.seed,
            "arguments": self.train_arguments(),
        }


@dataclass(frozen=True)
class Plan:
    settings: PlanSettings
    runs: list[PlannedRun]
    results: Path  # the main runs' folder, results/<tag>: what `cifarcmp render` reads
    studies_root: Path  # results/studies-<tag>
    groups: dict[str, list[PlannedRun]]  # "main", and each study's runs in its summary's order

    def with_status(self, *statuses: str) -> list[PlannedRun]:
        return [run for run in self.runs if run.status in statuses]

    def counts(self) -> dict[str, int]:
        return {status: len(self.with_status(status)) for status in STATUSES}

    def study_runs(self, study: str) -> list[PlannedRun]:
        """The runs a study's summary reads, in order (gradcam reads the arms' runs)."""
        return self.groups["arms" if study == "gradcam" else study]


def parse_studies(text: str) -> tuple[str, ...]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in STUDIES]
    if unknown or not names:
        raise UserError(f"unknown study {', '.join(unknown) or repr(text)}; choose from: {', '.join(STUDIES)}")
    return tuple(names)


def parse_fractions(text: str) -> tuple[float, ...]:
    try:
        fractions = [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise UserError(f"fractions {text!r}: not a comma-separated list of numbers") from None
    bad = [fraction for fraction in fractions if not 0 < fraction <= 1]  # NaN fails this too
    if bad or not fractions:
        raise UserError(f"fraction {bad[0] if bad else text!r} is outside (0, 1]; use e.g. 0.01,0.1,1")
    return tuple(sorted(set(fractions)))


def results_folder(settings: PlanSettings) -> Path:
    """results/<tag>/ for the main runs (the tag says when the data is not the profile's own)."""
    return settings.results_root / config.results_tag(config.resolve("cnn", settings.profile, data=settings.data))


def build(settings: PlanSettings) -> Plan:
    """Every run the settings ask for, main runs first, each directory once, with its status."""
    if settings.profile not in PROFILES:
        raise UserError(f"unknown profile {settings.profile!r}; choose one of: {', '.join(PROFILES)}")
    if settings.seeds < 1:
        raise UserError(f"seeds {settings.seeds}: need at least one seed")
    main = results_folder(settings)
    studies_root = main.with_name(f"studies-{main.name}")
    wanted: dict[str, list[tuple[str, float, int, Path]]] = {
        "main": [(model, 1.0, seed, main / model / f"seed-{seed}") for model in MODELS for seed in settings.seed_list]
    }
    if "arms" in settings.studies or "gradcam" in settings.studies:
        wanted["arms"] = [
            (arm, 1.0, seed, studies_root / "arms" / arm / f"seed-{seed}")
            for arm in config.ARMS
            for seed in settings.seed_list
        ]
    if "data-efficiency" in settings.studies:
        wanted["data-efficiency"] = []
        for arm in DATA_EFFICIENCY_ARMS:
            for fraction in settings.fractions:
                for seed in settings.seed_list:
                    # The full-data point is the arms study's run: one directory, trained once.
                    folder = (
                        studies_root / "arms" / arm / f"seed-{seed}"
                        if fraction == 1
                        else studies_root / "data-efficiency" / arm / f"fraction-{fraction:g}" / f"seed-{seed}"
                    )
                    wanted["data-efficiency"].append((arm, fraction, seed, folder))
    by_folder: dict[Path, PlannedRun] = {}
    for arm, fraction, seed, out in (entry for entries in wanted.values() for entry in entries):
        if out in by_folder:
            continue
        run_config = config.resolve_arm(
            arm,
            settings.profile,
            seed=seed,
            train_fraction=fraction,
            data=settings.data,
            weights=settings.weights,
            precision=settings.precision,
        )
        by_folder[out] = PlannedRun(
            name=out.relative_to(settings.results_root).as_posix(),
            config=run_config,
            out=out,
            status=status(out),
            arm=arm,
            fraction=fraction,
            seed=seed,
            data=settings.data,
            weights=settings.weights,
        )
    groups = {group: [by_folder[entry[3]] for entry in entries] for group, entries in wanted.items()}
    return Plan(settings, list(by_folder.values()), main, studies_root, groups)


def status(out: Path) -> str:
    if results.is_finished(out):
        return "done"
    if (results.incomplete_path(out) / "config.json").is_file():
        return "interrupted"
    return "missing"


def check(plan: Plan) -> None:
    """Refuse a plan that disagrees with a run already on disk (finished or interrupted), in one line."""
    conflicts = []
    for run in plan.runs:
        if run.status == "missing":
            continue
        folder = run.out if run.status == "done" else results.incomplete_path(run.out)
        on_disk = _read_config(folder / "config.json")
        planned = json.loads(json.dumps(run.config.to_dict()))
        if on_disk != planned:
            differing = sorted(
                key for key in planned.keys() | (on_disk or {}).keys() if (on_disk or {}).get(key) != planned.get(key)
            )
            conflicts.append((folder, differing))
    if conflicts:
        folder, differing = conflicts[0]
        more = f" (and {len(conflicts) - 1} more)" if len(conflicts) > 1 else ""
        # Fields computed from the others say nothing new; name the ones a user set.
        named = [key for key in differing if key not in DERIVED_FIELDS] or differing
        shown = ", ".join(named[:4]) + (", ..." if len(named) > 4 else "")
        raise UserError(
            f"{folder}: holds a run with other settings than the plan ({shown}){more}; "
            "move it away, or ask for the settings it was trained with"
        )


def _read_config(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None
