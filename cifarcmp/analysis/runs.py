"""The runs the report reads, loaded and grouped: the main runs by model, the study runs by arm.

`load_groups(results_root)` gives one `RunGroup` per model (its seeds' finished runs, checked
against what the pages show); `load_studies(root)` gives the studies' summaries and the runs they
list. `provenance(groups)` summarises what made a set of runs (data, commit, device, versions)
for the banner at the top of every page. Reads through `cifarcmp.results`; writes nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cifarcmp import schema, stats
from cifarcmp.analysis import evaluation
from cifarcmp.analysis.formatting import format_fraction
from cifarcmp.analysis.measures import LABELS, label
from cifarcmp.architectures import ARCHITECTURES
from cifarcmp.errors import UserError
from cifarcmp.results import Run, find_runs, load_run, read_npz
from cifarcmp.studies import STUDIES

MODEL_ORDER = tuple(ARCHITECTURES)  # report order

GRADCAM_ARRAYS = ("images", "heatmaps", "labels", "predicted", "indices")


# The main runs ---------------------------------------------------------------------------------


@dataclass
class RunGroup:
    """Runs that the report shows as one line: a model's seeds, or a study arm's."""

    model: str
    runs: list[Run]
    label: str = ""  # defaults to the model's short name
    # Folders holding a copy of one of `runs` (same configuration, seed and data), counted once:
    # (the copy that was left out, the run that was kept).
    ignored: list[tuple[Path, Path]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.label = self.label or label(self.model, short=True)

    @property
    def count(self) -> int:
        return len(self.runs)

    @property
    def config(self) -> dict:
        """The first seed's configuration; seeds share everything else."""
        return self.runs[0].config

    @property
    def seeds(self) -> list[int]:
        return [run.config["seed"] for run in self.runs]

    def metric(self, key: str) -> list[float]:
        return [float(run.metrics[key]) for run in self.runs]


def group_runs(runs: list[Run]) -> list[RunGroup]:
    """Runs grouped by model in report order (ResNet50, then the CNN, then anything else)."""
    by_model: dict[str, list[Run]] = {}
    for run in sorted(runs, key=lambda run: run.config["seed"]):
        by_model.setdefault(run.model, []).append(run)
    order = [model for model in MODEL_ORDER if model in by_model]
    order += sorted(set(by_model) - set(order))
    return [RunGroup(model, by_model[model]) for model in order]


def load_groups(results_root: Path) -> list[RunGroup]:
    """Every finished run under `results_root`, checked, grouped by model in report order."""
    runs = [load_run(path) for path in find_runs(results_root)]
    if not runs:
        raise UserError(
            f"{results_root}: no finished runs (expected <model>/seed-<N>/ directories with a "
            "complete manifest.json; run `cifarcmp train` first)"
        )
    for run in runs:
        check_run(run, runs[0])
    kept, ignored = distinct_runs(runs)
    groups = group_runs(kept)
    for group in groups:
        group.ignored = [(copy.path, run.path) for copy, run in ignored if run.model == group.model]
    return groups


def run_identity(run: Run) -> str:
    """What makes a run the run it is: its whole configuration (seed included) and its data."""
    data = run.manifest["data"]
    return json.dumps([run.config, data.get("sha256") or data["source"]], sort_keys=True)


def distinct_runs(runs: list[Run]) -> tuple[list[Run], list[tuple[Run, Run]]]:
    """The runs, each counted once, and the (copy, kept run) pairs left out.

    A run folder copied under another seed's name, or nested in a backup, is still one run: two
    folders with the same configuration, seed and data are the same run, and counting both would
    report n = 2 from one seed. The one kept is the folder named as training names it
    (`seed-<N>`), then the shallower, then the first by path. Two different runs of one model and
    seed cannot both be counted either: that is one line.
    """

    def preference(run: Run) -> tuple:
        return (run.path.name != f"seed-{run.config['seed']}", len(run.path.parts), str(run.path))

    kept: dict[str, Run] = {}
    ignored = []
    for run in sorted(runs, key=preference):
        identity = run_identity(run)
        if identity in kept:
            ignored.append((run, kept[identity]))
        else:
            kept[identity] = run
    by_seed: dict[tuple[str, int], Run] = {}
    for run in kept.values():
        other = by_seed.setdefault((run.model, run.config["seed"]), run)
        if other is not run:
            raise UserError(
                f"{run.path} and {other.path}: two different runs of {run.model} with seed {run.config['seed']} "
                "(their configuration or data differ); one seed is one run, so move one of them out of the results"
            )
    return list(kept.values()), ignored


def check_run(run: Run, first: Run) -> None:
    """What the report needs beyond the results contract (which `load_run` checked).

    The pages show one set of class names for every run, so runs naming classes differently
    cannot be set side by side.
    """
    names, expected = run.manifest["data"]["class_names"], first.manifest["data"]["class_names"]
    if names != expected:
        raise UserError(
            f"{run.path / 'manifest.json'}: data.class_names differ from those of {first.path}; "
            "render runs of one data set together"
        )


def provenance(groups: list[RunGroup]) -> dict:
    """What made these numbers, per run and summarised (distinct values joined)."""
    entries = []
    for group in groups:
        for run in group.runs:
            manifest, data = run.manifest, run.manifest["data"]
            versions = manifest["versions"]
            entries.append(
                {
                    "model": group.label,
                    "seed": run.config["seed"],
                    "profile": run.config["profile"],
                    "data": data["source"],
                    "synthetic": bool(data["synthetic"]),
                    "sha256": data.get("sha256", ""),
                    "verified": bool(data.get("verified", False)),
                    "departures": list(data.get("departures", [])),
                    # git_state() writes a null commit where git was missing.
                    "commit": (manifest["git"]["commit"] or "unknown")[:10]
                    + (" (dirty)" if manifest["git"].get("dirty") else ""),
                    "keras": versions.get("keras"),
                    "backend": versions.get("backend") or "tensorflow",
                    "tensorflow": versions.get("tensorflow"),
                    "device": f"{manifest['device']['name']} ({manifest['device']['kind'].upper()})",
                    "finished": manifest["finished_at"],
                }
            )

    def distinct(key: str) -> str:
        return ", ".join(dict.fromkeys(str(entry[key]) for entry in entries))

    return {
        "runs": entries,
        "profile": distinct("profile"),
        "data": distinct("data"),
        "device": distinct("device"),
        "commit": distinct("commit"),
        "date": max(entry["finished"] for entry in entries)[:10],
        "synthetic": any(entry["synthetic"] for entry in entries),
        # How the data of any run differs from the official release (each said once), for the banner.
        "departures": list(dict.fromkeys(text for entry in entries for text in entry["departures"])),
    }


# The studies -----------------------------------------------------------------------------------


@dataclass
class Studies:
    root: Path
    summaries: dict[str, dict]  # study name -> its summary.json
    runs: dict[str, Run]  # a row's "run" (relative to root) -> the finished run

    def rows(self, study: str, arm: str | None = None, fraction: float | None = None) -> list[dict]:
        """The study's rows, optionally of one arm and fraction, by seed (empty when not run)."""
        rows = self.summaries.get(study, {}).get("runs", [])
        return sorted(
            (
                row
                for row in rows
                if arm in (None, row["arm"]) and (fraction is None or row.get("fraction") == fraction)
            ),
            key=lambda row: row["seed"],
        )

    def run(self, row: dict) -> Run:
        return self.runs[row["run"]]

    @property
    def synthetic(self) -> bool:
        return any(summary["synthetic"] for summary in self.summaries.values())

    @property
    def profile(self) -> str:
        return ", ".join(dict.fromkeys(str(summary.get("profile")) for summary in self.summaries.values()))

    def groups(self) -> list[RunGroup]:
        """One group per arm (below the whole split, per training fraction; for a study that changes
        the protocol, per variant): the banner's runs, each once however many studies copied it."""
        groups: dict[str, list[Run]] = {}
        seen: set[tuple[str, float, str]] = set()
        for relative, row in {row["run"]: row for study in self.summaries for row in self.rows(study)}.items():
            identity = (row["arm"], row.get("fraction", 1.0), run_identity(self.runs[relative]))
            if identity in seen:  # a copy of a run already listed (the main runs are in several studies)
                continue
            seen.add(identity)
            fraction = row.get("fraction", 1.0)
            share = "" if fraction == 1 else f", {format_fraction(fraction)} of the training split"
            variant = f", {row['variant']}" if row.get("variant") else ""
            groups.setdefault(label(row["arm"]) + share + variant, []).append(self.runs[relative])
        return [RunGroup(runs[0].model, runs, name) for name, runs in groups.items()]


def default_studies_root(results_root: Path | str) -> Path | None:
    """results/<tag>/ -> results/studies-<tag>/ (as `plan.Plan.studies_root` names it), None if absent."""
    candidate = Path(results_root).resolve().parent / f"studies-{Path(results_root).resolve().name}"
    return candidate if candidate.is_dir() else None


def load_studies(root: Path | str | None) -> Studies | None:
    """The studies under `root` (results/studies-<profile>/), None when none wrote a summary."""
    if root is None:
        return None
    root = Path(root)
    if not root.is_dir():
        raise UserError(f"{root}: no such studies directory (run `cifarcmp study` first)")
    summaries = {
        study: _checked_summary(root / study / "summary.json", study)
        for study in STUDIES
        if (root / study / "summary.json").is_file()
    }
    runs: dict[str, Run] = {}
    for study, summary in summaries.items():
        for row in summary["runs"]:
            if row["run"] not in runs:
                runs[row["run"]] = _study_run(root, row["run"], root / study / "summary.json")
    return Studies(root, summaries, runs) if summaries else None


def _checked_summary(path: Path, study: str) -> dict:
    """The study's summary.json, checked against the contract and for arms the report knows."""
    try:
        summary = json.loads(path.read_text())
    except (OSError, ValueError, RecursionError) as error:
        problem = "nested too deeply" if isinstance(error, RecursionError) else error
        raise UserError(f"{path}: unreadable ({problem}); rerun `cifarcmp study --studies {study}`") from None
    if not isinstance(summary, dict) or summary.get("study") != study:
        raise UserError(f"{path}: not the summary of the {study} study (needs study, synthetic and a runs list)")
    schema.check(path, summary, schema.study_summary(study, STUDIES[study].row_rules))
    for number, row in enumerate(summary["runs"], start=1):
        relative = row["run"]
        # Rows name runs relative to the studies root; anything else could point outside it.
        if Path(relative).is_absolute() or ".." in Path(relative).parts:
            raise UserError(f"{path}: run {number} has run {relative!r}, not a path inside the studies folder")
        if row["arm"] not in LABELS:
            raise UserError(f"{path}: run {number} has arm {row['arm']!r}, which the report does not know")
    return summary


def _study_run(root: Path, relative: str, summary_path: Path) -> Run:
    try:
        return load_run(root / relative)
    except UserError as error:
        raise UserError(f"{summary_path}: lists run {relative}, which is missing or unfinished ({error})") from None


def data_efficiency_series(studies: Studies | None) -> dict[str, dict[str, np.ndarray]] | None:
    """Per arm: fraction, mean test accuracy, std over seeds (NaN for one run) and n, for the curve."""
    if studies is None or "data-efficiency" not in studies.summaries:
        return None
    series = {}
    for arm in dict.fromkeys(row["arm"] for row in studies.rows("data-efficiency")):
        fractions = sorted({row["fraction"] for row in studies.rows("data-efficiency", arm)})
        spreads = [
            stats.seed_spread([row["test_accuracy"] for row in studies.rows("data-efficiency", arm, fraction)])
            for fraction in fractions
        ]
        series[arm] = {
            "fraction": np.array(fractions),
            "mean": np.array([spread["mean"] for spread in spreads]),
            "std": np.array([np.nan if spread["std"] is None else spread["std"] for spread in spreads]),
            "n": np.array([spread["n"] for spread in spreads]),
        }
    return series


def gradcam_rows(studies: Studies | None) -> list[dict]:
    return [row for row in studies.rows("gradcam") if row["has_gradcam"]] if studies else []


def read_gradcam(run: Run) -> dict:
    """A run's gradcam.npz, checked: N images, N heat maps in [0, 1], labels, predictions, indices."""
    path = run.path / "gradcam.npz"
    maps = read_npz(path, GRADCAM_ARRAYS)
    count = maps["images"].shape[0]
    if (
        maps["images"].ndim != 4
        or maps["images"].dtype != np.uint8
        or maps["heatmaps"].ndim != 3
        or any(maps[key].shape[0] != count for key in GRADCAM_ARRAYS)
    ):
        raise UserError(f"{path}: images {maps['images'].shape} and heat maps {maps['heatmaps'].shape} do not match")
    if maps["heatmaps"].size and not (maps["heatmaps"].min() >= 0 and maps["heatmaps"].max() <= 1 + 1e-6):
        raise UserError(f"{path}: heat maps must lie in [0, 1]")
    return maps


def gradcam_panels(studies: Studies | None, per_class: int = 2) -> dict | None:
    """Up to `per_class` test images of every class with every arm's heat map, from the lowest seed.

    Only images every arm has a map for can be shown side by side; the arms of one profile may
    test different subsets, so that can be fewer (None when there are none).
    """
    rows = gradcam_rows(studies)
    if not rows:
        return None
    seed = min(row["seed"] for row in rows)
    maps = {row["arm"]: read_gradcam(studies.run(row)) for row in rows if row["seed"] == seed}
    positions = {
        arm: {int(index): place for place, index in enumerate(arrays["indices"])} for arm, arrays in maps.items()
    }
    first = next(iter(maps))
    by_class: dict[int, list[int]] = {}
    for place, index in enumerate(maps[first]["indices"]):
        if all(int(index) in positions[arm] for arm in maps):
            picked = by_class.setdefault(int(maps[first]["labels"][place]), [])
            if len(picked) < per_class:
                picked.append(int(index))
    chosen = [index for label in sorted(by_class) for index in by_class[label]]
    if not chosen:
        return None

    def take(arm: str, key: str) -> np.ndarray:
        return np.stack([maps[arm][key][positions[arm][index]] for index in chosen])

    return {
        "seed": seed,
        "arms": list(maps),
        "images": take(first, "images"),
        "labels": take(first, "labels"),
        "heatmaps": {arm: take(arm, "heatmaps") for arm in maps},
        "predicted": {arm: take(arm, "predicted") for arm in maps},
        "class_names": evaluation.class_names(studies.run(rows[0])),
    }
