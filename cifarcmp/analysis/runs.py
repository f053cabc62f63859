"""The runs the report reads, loaded and grouped: the main runs by model, the study runs by arm.

`load_groups(results_root)` gives one `RunGroup` per model (its seeds' finished runs, checked
against what the pages show); `load_studies(root)` gives the studies' summaries and the runs they
list. `provenance(groups)` summarises what made a set of runs (data, commit, device, versions)
for the banner at the top of every page. Reads through `cifarcmp.results`; writes nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cifarcmp.analysis import evaluation, stats
from cifarcmp.analysis.formatting import format_fraction
from cifarcmp.analysis.measures import LABELS, label
from cifarcmp.config import STUDIES
from cifarcmp.errors import UserError
from cifarcmp.results import Run, find_runs, load_run, read_npz

MODEL_ORDER = ("resnet50", "cnn")

# What each file must hold for the report, beyond what `load_run` already checks.
_REQUIRED = {
    "metrics.json": (
        "train_accuracy",
        "train_loss",
        "val_accuracy",
        "val_loss",
        "test_accuracy",
        "test_loss",
        "best_epoch",
        "epochs_run",
        "stopped_early",
        "wall_seconds",
        "train_images_per_second",
        "test_images",
        "parameters",
    ),
    "summary.json": ("total_params", "trainable_params", "non_trainable_params", "layers"),
    "manifest.json": ("git", "versions", "device", "finished_at", "data"),
    "config.json": (
        "model",
        "profile",
        "seed",
        "learning_rate",
        "momentum",
        "batch_size",
        "epochs",
        "lr_constant_epochs",
        "lr_decay_per_epoch",
        "early_stopping_patience",
        "validation_size",
        "train_subset",
        "test_subset",
        "image_size",
        "lr_schedule",
        "deviations",
    ),
}
_STUDY_RUN_KEYS = (
    "arm",
    "fraction",
    "seed",
    "run",
    "test_accuracy",
    "val_accuracy",
    "train_accuracy",
    "train_images",
    "epochs_run",
    "wall_seconds",
    "train_images_per_second",
    "forward_flops_per_image",
    "training_flops",
    "parameters",
    "device",
    "synthetic",
)
_STUDY_ROW_KEYS = {
    "arms": _STUDY_RUN_KEYS,
    "data-efficiency": _STUDY_RUN_KEYS,
    "gradcam": ("arm", "seed", "run", "has_gradcam"),
}
GRADCAM_ARRAYS = ("images", "heatmaps", "labels", "predicted", "indices")


# The main runs ---------------------------------------------------------------------------------


@dataclass
class RunGroup:
    """Runs that the report shows as one line: a model's seeds, or a study arm's."""

    model: str
    runs: list[Run]
    label: str = ""  # defaults to the model's short name

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
        check_run(run)
    return group_runs(runs)


def check_run(run: Run) -> None:
    """Raise UserError naming the file when a run lacks something the report shows."""
    contents = {
        "metrics.json": run.metrics,
        "summary.json": run.summary,
        "manifest.json": run.manifest,
        "config.json": run.config,
    }
    for name, keys in _REQUIRED.items():
        missing = [key for key in keys if key not in contents[name]]
        if missing:
            raise UserError(f"{run.path / name}: missing {', '.join(missing)}")
    for key in ("train_accuracy", "val_accuracy", "test_accuracy"):
        value = run.metrics[key]
        if not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
            raise UserError(f"{run.path / 'metrics.json'}: {key} is {value!r}, expected a fraction in 0..1")
    epochs = len(run.history)
    if run.metrics["epochs_run"] != epochs:
        raise UserError(
            f"{run.path / 'history.csv'}: holds {epochs} epochs but metrics.json says "
            f"epochs_run is {run.metrics['epochs_run']}"
        )
    if not 1 <= run.metrics["best_epoch"] <= epochs:
        raise UserError(f"{run.path / 'metrics.json'}: best_epoch {run.metrics['best_epoch']} is not in 1..{epochs}")
    counts = run.manifest["data"].get("counts", {})
    if set(counts) != {"train", "validation", "test"}:
        raise UserError(f"{run.path / 'manifest.json'}: data.counts needs train, validation and test")


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
                    "commit": manifest["git"]["commit"][:10] + (" (dirty)" if manifest["git"].get("dirty") else ""),
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
        """One group per arm (and, below the whole split, per training fraction): the banner's runs."""
        groups: dict[str, list[Run]] = {}
        for relative, row in {row["run"]: row for study in self.summaries for row in self.rows(study)}.items():
            fraction = row.get("fraction", 1.0)
            share = "" if fraction == 1 else f", {format_fraction(fraction)} of the training split"
            groups.setdefault(label(row["arm"]) + share, []).append(self.runs[relative])
        return [RunGroup(runs[0].model, runs, name) for name, runs in groups.items()]


def default_studies_root(results_root: Path | str) -> Path | None:
    """results/<tag>/ -> results/studies-<tag>/ (as `train.studies.study_root` names it), None if absent."""
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
    try:
        summary = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise UserError(f"{path}: unreadable ({error}); rerun `cifarcmp study --studies {study}`") from None
    if (
        not isinstance(summary, dict)
        or summary.get("study") != study
        or not isinstance(summary.get("runs"), list)
        or not summary["runs"]
        or not isinstance(summary.get("synthetic"), bool)
    ):
        raise UserError(
            f"{path}: not the summary of the {study} study (needs study, synthetic and a non-empty runs list)"
        )
    for number, row in enumerate(summary["runs"], start=1):
        missing = [key for key in _STUDY_ROW_KEYS[study] if not isinstance(row, dict) or key not in row]
        if missing:
            raise UserError(f"{path}: run {number} lacks {', '.join(missing)}")
        relative = row["run"]
        # Rows name runs relative to the studies root; anything else could point outside it.
        if not isinstance(relative, str) or Path(relative).is_absolute() or ".." in Path(relative).parts:
            raise UserError(f"{path}: run {number} has run {relative!r}, not a path inside the studies folder")
        if not isinstance(row["seed"], int) or row["arm"] not in LABELS:
            raise UserError(f"{path}: run {number} has arm {row['arm']!r}, seed {row['seed']!r}")
        if study != "gradcam":
            bad = [
                key
                for key in ("test_accuracy", "val_accuracy", "train_accuracy")
                if not isinstance(row[key], (int, float)) or not 0 <= row[key] <= 1
            ]
            if bad or not isinstance(row["fraction"], (int, float)) or not 0 < row["fraction"] <= 1:
                raise UserError(f"{path}: run {number} has {bad[0] if bad else 'fraction'} outside 0..1")
    return summary


def _study_run(root: Path, relative: str, summary_path: Path) -> Run:
    try:
        run = load_run(root / relative)
    except UserError as error:
        raise UserError(f"{summary_path}: lists run {relative}, which is missing or unfinished ({error})") from None
    if len(run.history) != run.metrics.get("epochs_run"):
        raise UserError(
            f"{run.path / 'history.csv'}: holds {len(run.history)} epochs, metrics.json says "
            f"epochs_run is {run.metrics.get('epochs_run')}"
        )
    return run


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
