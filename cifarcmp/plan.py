"""The plan of a report: every run it needs, derived once from the configuration.

A report is a set of independent runs (models x seeds, plus the studies' arms x fractions x
seeds), each writing one results directory. `build(PlanSettings(...))` lists them, each with its
resolved `RunConfig`, its `cifarcmp train` arguments, its output directory and its status read
from disk:

- `done`: a finished run is there (its manifest says complete); it is never trained again;
- `running`: another command is training it now (it holds the run's lock, `<dir>.lock`);
- `queued`: a SLURM job array submitted for it has not started it yet (set by the caller, which
  asks squeue; building a plan asks no scheduler);
- `waiting`: a distilled run whose teacher (config `teacher`, another run's folder) has not
  finished yet: it can train only once that run is done (`run-plan` trains in rounds);
- `interrupted`: `<dir>.incomplete/` is there; training it again resumes from its last epoch;
- `missing`: nothing is there yet.

Runs are distinct by configuration, not by folder: the arms study's `resnet50` and `cnn` arms are
the main runs under another folder, so they are trained once, as main runs, and their study folders
get a copy once those finish (`copies`, each naming the run it copies in `same_as`).

Make (`make plan`, `make train`), the studies' summaries (cifarcmp/studies/) and the executors
(cifarcmp/executors/) all read this one list, so they cannot disagree about what a report is.
Nothing here writes a file or imports Keras: listing a plan costs a few small reads.
"""

from __future__ import annotations

import fcntl
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from cifarcmp import config, results
from cifarcmp.config import PROFILES, SEED_MODELS, RunConfig
from cifarcmp.errors import UserError
from cifarcmp.paths import RESULTS_ROOT
from cifarcmp.studies import STUDIES
from cifarcmp.studies.study import Request, Wanted

DEFAULT_FRACTIONS = (0.01, 0.1, 1.0)
STATUSES = ("done", "running", "queued", "waiting", "interrupted", "missing")
DERIVED_FIELDS = {"deviations", "lr_schedule", "image_size"}


@dataclass(frozen=True)
class PlanSettings:
    """What a report asks for: the Make variables PROFILE, SEED, SEEDS, STUDIES, FRACTIONS, DATA, WEIGHTS, PRECISION, LEARNING_RATES, BACKBONES."""

    profile: str
    seeds: int = 1  # seeds per run: 0..seeds-1, or just `seed` when 1
    seed: int = 0  # the one seed used when seeds is 1
    studies: tuple[str, ...] = ()
    fractions: tuple[float, ...] = DEFAULT_FRACTIONS
    data: str | None = None  # None: the profile's own data
    weights: str | None = None  # None: the profile's own weights
    precision: str | None = None  # None: float32, the seed's
    results_root: Path = field(default=RESULTS_ROOT)
    learning_rates: tuple[float, ...] = ()  # the learning-rate study's grid (empty: its default)
    backbones: tuple[str, ...] = ()  # the backbones study's networks (empty: its default)

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
    same_as: str | None = None  # a copy: the name of the run with this configuration, trained instead
    changes: dict = field(default_factory=dict)  # RunConfig fields a study changes (studies.study.Wanted)
    variant: str = ""  # the study's name for those changes

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
        for name, value in self.changes.items():  # each a `train` option of the field's name
            arguments += [f"--{name.replace('_', '-')}", f"{value:g}" if isinstance(value, float) else str(value)]
        return [*arguments, "--out", str(self.out)]

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "status": self.status,
            "out": str(self.out),
            "arm": self.arm,
            "fraction": self.fraction,
            "seed": self.seed,
            **({"variant": self.variant} if self.variant else {}),
            "arguments": self.train_arguments(),
            **({"same_as": self.same_as} if self.same_as else {}),
        }


@dataclass(frozen=True)
class Plan:
    settings: PlanSettings
    runs: list[PlannedRun]
    results: Path  # the main runs' folder, results/<tag>: what `cifarcmp render` reads
    studies_root: Path  # results/studies-<tag>
    groups: dict[str, list[PlannedRun]]  # "main", and each study's runs in its summary's order
    # Study folders whose configuration a run above already trains: filled by copying that run.
    copies: list[PlannedRun] = field(default_factory=list)

    def source(self, run: PlannedRun) -> PlannedRun:
        """The run that is trained for `run`: itself, or for a copy the run it copies."""
        return next(planned for planned in self.runs if planned.name == run.same_as) if run.same_as else run

    def with_status(self, *statuses: str) -> list[PlannedRun]:
        return [run for run in self.runs if run.status in statuses]

    def counts(self) -> dict[str, int]:
        return {status: len(self.with_status(status)) for status in STATUSES}

    def study_runs(self, study: str) -> list[PlannedRun]:
        """The runs a study's summary reads, in order (a study that trains nothing reads another's)."""
        return self.groups[STUDIES[study].reads or study]


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
    wanted: dict[str, list[Wanted]] = {
        "main": [
            Wanted(model, 1.0, seed, main / model / f"seed-{seed}")
            for model in SEED_MODELS
            for seed in settings.seed_list
        ]
    }
    request = Request(
        settings.seed_list,
        settings.fractions,
        studies_root,
        profile=settings.profile,
        main=main,
        learning_rates=settings.learning_rates,
        backbones=settings.backbones,
    )
    for study in STUDIES.values():  # in the registry's order, however STUDIES= lists them
        if study.name not in settings.studies:
            continue
        # A study that trains nothing plans the runs of the study it reads.
        planned = STUDIES[study.reads] if study.reads else study
        wanted.setdefault(planned.name, planned.runs(request))
    by_folder: dict[Path, PlannedRun] = {}
    by_config: dict[str, PlannedRun] = {}  # the first run of each configuration: the one trained
    for entry in (entry for entries in wanted.values() for entry in entries):
        if entry.folder in by_folder:
            continue
        run_config = config.resolve_arm(
            entry.arm,
            settings.profile,
            seed=entry.seed,
            train_fraction=entry.fraction,
            data=settings.data,
            weights=settings.weights,
            precision=settings.precision,
            **entry.changes,
        )
        key = json.dumps(run_config.to_dict(), sort_keys=True, default=str)
        trained = by_config.setdefault(key, None)
        by_folder[entry.folder] = PlannedRun(
            name=entry.folder.relative_to(settings.results_root).as_posix(),
            config=run_config,
            out=entry.folder,
            status=status(entry.folder, copy=trained is not None, teacher=run_config.teacher),
            arm=entry.arm,
            fraction=entry.fraction,
            seed=entry.seed,
            data=settings.data,
            weights=settings.weights,
            same_as=trained.name if trained is not None else None,
            changes=dict(entry.changes),
            variant=entry.variant,
        )
        if trained is None:
            by_config[key] = by_folder[entry.folder]
    groups = {group: [by_folder[entry.folder] for entry in entries] for group, entries in wanted.items()}
    runs = [run for run in by_folder.values() if run.same_as is None]
    copies = [run for run in by_folder.values() if run.same_as is not None]
    return Plan(settings, runs, main, studies_root, groups, copies)


def status(out: Path, copy: bool = False, teacher: str = "") -> str:
    """Where the run in `out` stands on disk (a copy is `done` once copied, else `missing`); a run
    distilled from `teacher` (a run's folder) is `waiting` until that run is finished."""
    if results.is_finished(out):
        return "done"
    if copy:
        return "missing"
    if lock_held(results.lock_path(out)):
        return "running"
    if teacher and not results.is_finished(Path(teacher)):
        return "waiting"
    if (results.incomplete_path(out) / "config.json").is_file():
        return "interrupted"
    return "missing"


def lock_held(path: Path) -> bool:
    """Whether a process holds the run lock at `path` now (cifarcmp.lock), asked without touching it.

    Linux lists every flock in /proc/locks by device and inode; reading it cannot get in the way of
    a command taking the lock at that moment, which trying the lock ourselves could.
    """
    try:
        found = path.stat()
    except OSError:  # no lock file: nobody ever trained it here
        return False
    wanted = f"{os.major(found.st_dev):02x}:{os.minor(found.st_dev):02x}:{found.st_ino}"
    try:
        listed = Path("/proc/locks").read_text()
    except OSError:  # not Linux: try it, briefly and shared
        return _try_lock(path)
    return any(
        len(fields) > 5 and fields[1] == "FLOCK" and fields[5] == wanted
        for fields in (line.split() for line in listed.splitlines())
    )


def _try_lock(path: Path) -> bool:
    try:
        with open(path) as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            fcntl.flock(handle, fcntl.LOCK_UN)
    except OSError:
        return False
    return False


# Fields added with the improvement studies. Every run trained before them had no augmentation and
# no teacher, which is what their defaults say, so a run that lacks them is the same run.
_ADDED_WITH_THEIR_DEFAULT = ("augmentation", "teacher", "distillation_temperature", "distillation_alpha")


def _as_planned_now(on_disk: dict | None) -> dict | None:
    """A config.json as today's RunConfig writes it: the fields above, where a run lacks them,
    take their default."""
    if on_disk is None:
        return None
    fields = RunConfig.__dataclass_fields__
    return {**{name: fields[name].default for name in _ADDED_WITH_THEIR_DEFAULT}, **on_disk}


def check(plan: Plan) -> None:
    """Refuse a plan that disagrees with a run already on disk (finished or interrupted), in one line."""
    conflicts = []
    for run in [*plan.runs, *plan.copies]:
        if run.status in ("missing", "running", "queued"):
            continue
        folder = run.out if run.status == "done" else results.incomplete_path(run.out)
        on_disk = _as_planned_now(_read_config(folder / "config.json"))
        if run.status == "waiting" and on_disk is None:  # its teacher is unfinished and nothing of it is on disk yet
            continue
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
