"""The studies' pages: "Claims tested" (claims.md), the study tables (studies.md), and what the
executed page docs/studies-figures.md reads (studies.json and the studies' banner snippet).

`render_studies(studies_root, out_dir, environment, common)` is one call from `report.render`,
with its Jinja environment and template context. The templates sit in docs/templates/studies/:
`report.render` renders every top-level template with its own context, which has no studies.
Without studies (root None, or no summary.json under it) every page still renders and says which
studies exist and how to run them, so the site's navigation never depends on them.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import jinja2
import numpy as np

from cifarcmp import claims, evaluate, paths, results, stats
from cifarcmp.claims import ARM_LABELS, format_flops, label
from cifarcmp.errors import UserError
from cifarcmp.results import Run
from cifarcmp.study import STUDIES
from cifarcmp.tables import Table, format_duration, format_percent, format_stat, write_table

RUN_COMMAND = "make report STUDIES=arms,data-efficiency,gradcam"
STUDY_DESCRIPTIONS = {
    "arms": "ResNet50 fine-tuned (the seed's), ResNet50 as a frozen feature extractor, ResNet50 from random "
            "initialisation, and the CNN, on the same split",
    "data-efficiency": "the fine-tuned, frozen and scratch arms on stratified fractions of the training split "
                       "(1 %, 10 %, 100 % by default)",
    "gradcam": "Grad-CAM heat maps of two test images per class for every arm",
}
PAGES = ("claims.md", "studies.md")  # rendered from docs/templates/studies/<page>.j2
GRADCAM_ARRAYS = ("images", "heatmaps", "labels", "predicted", "indices")
_RUN_KEYS = ("arm", "fraction", "seed", "run", "test_accuracy", "val_accuracy", "train_accuracy",
             "train_images", "epochs_run", "wall_seconds", "train_images_per_second",
             "forward_flops_per_image", "training_flops", "parameters", "device", "synthetic")
_ROW_KEYS = {"arms": _RUN_KEYS, "data-efficiency": _RUN_KEYS, "gradcam": ("arm", "seed", "run", "has_gradcam")}


# Loading ------------------------------------------------------------------------------------


@dataclass
class Studies:
    root: Path
    summaries: dict[str, dict]  # study name -> its summary.json
    runs: dict[str, Run]  # a row's "run" (relative to root) -> the finished run

    def rows(self, study: str, arm: str | None = None, fraction: float | None = None) -> list[dict]:
        """The study's rows, optionally of one arm and fraction, by seed (empty when not run)."""
        rows = self.summaries.get(study, {}).get("runs", [])
        return sorted((row for row in rows if arm in (None, row["arm"])
                       and (fraction is None or row.get("fraction") == fraction)), key=lambda row: row["seed"])

    def run(self, row: dict) -> Run:
        return self.runs[row["run"]]

    @property
    def synthetic(self) -> bool:
        return any(summary["synthetic"] for summary in self.summaries.values())

    @property
    def profile(self) -> str:
        return ", ".join(dict.fromkeys(str(summary.get("profile")) for summary in self.summaries.values()))


def load_studies(root: Path | str | None) -> Studies | None:
    """The studies under `root` (results/studies-<profile>/), None when none wrote a summary."""
    if root is None:
        return None
    root = Path(root)
    if not root.is_dir():
        raise UserError(f"{root}: no such studies directory (run `cifarcmp study` first)")
    summaries = {study: _checked_summary(root / study / "summary.json", study)
                 for study in STUDIES if (root / study / "summary.json").is_file()}
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
    if not isinstance(summary, dict) or summary.get("study") != study or not isinstance(summary.get("runs"), list) \
            or not summary["runs"] or not isinstance(summary.get("synthetic"), bool):
        raise UserError(f"{path}: not the summary of the {study} study "
                        "(needs study, synthetic and a non-empty runs list)")
    for number, row in enumerate(summary["runs"], start=1):
        missing = [key for key in _ROW_KEYS[study] if not isinstance(row, dict) or key not in row]
        if missing:
            raise UserError(f"{path}: run {number} lacks {', '.join(missing)}")
        relative = row["run"]
        # Rows name runs relative to the studies root; anything else could point outside it.
        if not isinstance(relative, str) or Path(relative).is_absolute() or ".." in Path(relative).parts:
            raise UserError(f"{path}: run {number} has run {relative!r}, not a path inside the studies folder")
        if not isinstance(row["seed"], int) or row["arm"] not in ARM_LABELS:
            raise UserError(f"{path}: run {number} has arm {row['arm']!r}, seed {row['seed']!r}")
        if study != "gradcam":
            bad = [key for key in ("test_accuracy", "val_accuracy", "train_accuracy")
                   if not isinstance(row[key], (int, float)) or not 0 <= row[key] <= 1]
            if bad or not isinstance(row["fraction"], (int, float)) or not 0 < row["fraction"] <= 1:
                raise UserError(f"{path}: run {number} has {bad[0] if bad else 'fraction'} outside 0..1")
    return summary


def _study_run(root: Path, relative: str, summary_path: Path) -> Run:
    try:
        run = results.load_run(root / relative)
    except UserError as error:
        raise UserError(f"{summary_path}: lists run {relative}, which is missing or unfinished ({error})") from None
    if len(run.history) != run.metrics.get("epochs_run"):
        raise UserError(f"{run.path / 'history.csv'}: holds {len(run.history)} epochs, metrics.json says "
                        f"epochs_run is {run.metrics.get('epochs_run')}")
    return run


def default_studies_root(results_root: Path | str) -> Path | None:
    """results/<tag>/ -> results/studies-<tag>/ (as `study.study_root` names it), None if absent."""
    candidate = Path(results_root).resolve().parent / f"studies-{Path(results_root).resolve().name}"
    return candidate if candidate.is_dir() else None


# Tables and figure data ------------------------------------------------------------------------


def arms_table(studies: Studies, synthetic: bool) -> Table:
    """Compute accounting per arm: time, throughput, device, parameters, FLOPs, accuracy per PFLOP."""
    rows = []
    for arm in dict.fromkeys(row["arm"] for row in studies.rows("arms")):
        arm_rows = studies.rows("arms", arm)
        epoch_seconds = [float(np.mean([entry["seconds"] for entry in studies.run(row).history])) for row in arm_rows]
        devices = dict.fromkeys(f"{row['device'].get('name', '?')} ({str(row['device'].get('kind', '?')).upper()})"
                                for row in arm_rows)
        parameters = arm_rows[0]["parameters"]
        rows.append([
            label(arm), str(len(arm_rows)), format_percent([row["test_accuracy"] for row in arm_rows]),
            format_duration(epoch_seconds), format_duration([row["wall_seconds"] for row in arm_rows]),
            format_stat([row["train_images_per_second"] for row in arm_rows], 1), ", ".join(devices),
            f"{parameters['total']:,} / {parameters['trainable']:,}",
            format_flops([row["forward_flops_per_image"] for row in arm_rows]),
            format_flops([row["training_flops"] for row in arm_rows]),
            format_stat([row["test_accuracy"] * 100 / (row["training_flops"] / 1e15) for row in arm_rows], 1),
        ])
    return Table("studies-arms", "Compute accounting per arm (arms study): wall time per epoch (training and "
                 "validation) and in all, training throughput, device, parameters, FLOPs counted from the layers, "
                 "and test accuracy (%) per training PFLOP.",
                 ["Arm", "Runs", "Test accuracy", "Wall time per epoch", "Wall time in all", "Train images/s",
                  "Device", "Parameters (total / trainable)", "Forward FLOPs per image", "Training FLOPs",
                  "Accuracy per PFLOP"], rows, synthetic, align=["l", "r", "r", "r", "r", "r", "l", "r", "r", "r", "r"])


def data_efficiency_series(studies: Studies | None) -> dict[str, dict[str, np.ndarray]] | None:
    """Per arm: fraction, mean test accuracy, std over seeds (NaN for one run) and n, for the curve."""
    if studies is None or "data-efficiency" not in studies.summaries:
        return None
    series = {}
    for arm in dict.fromkeys(row["arm"] for row in studies.rows("data-efficiency")):
        fractions = sorted({row["fraction"] for row in studies.rows("data-efficiency", arm)})
        spreads = [stats.seed_spread([row["test_accuracy"] for row in studies.rows("data-efficiency", arm, fraction)])
                   for fraction in fractions]
        series[arm] = {"fraction": np.array(fractions), "mean": np.array([spread["mean"] for spread in spreads]),
                       "std": np.array([np.nan if spread["std"] is None else spread["std"] for spread in spreads]),
                       "n": np.array([spread["n"] for spread in spreads])}
    return series


def read_gradcam(run: Run) -> dict:
    """A run's gradcam.npz, checked: N images, N heat maps in [0, 1], labels, predictions, indices."""
    path = run.path / "gradcam.npz"
    maps = results.read_npz(path, GRADCAM_ARRAYS)
    count = maps["images"].shape[0]
    if maps["images"].ndim != 4 or maps["heatmaps"].ndim != 3 or \
            any(maps[key].shape[0] != count for key in GRADCAM_ARRAYS):
        raise UserError(f"{path}: images {maps['images'].shape} and heat maps {maps['heatmaps'].shape} do not match")
    if maps["heatmaps"].size and not (0 <= maps["heatmaps"].min() and maps["heatmaps"].max() <= 1 + 1e-6):
        raise UserError(f"{path}: heat maps must lie in [0, 1]")
    return maps


def gradcam_panels(studies: Studies | None, per_class: int = 2) -> dict | None:
    """Up to `per_class` test images of every class with every arm's heat map, from the lowest seed.

    Only images every arm has a map for can be shown side by side; the arms of one profile may
    test different subsets, so that can be fewer (None when there are none).
    """
    rows = [row for row in (studies.rows("gradcam") if studies else []) if row["has_gradcam"]]
    if not rows:
        return None
    seed = min(row["seed"] for row in rows)
    maps = {row["arm"]: read_gradcam(studies.run(row)) for row in rows if row["seed"] == seed}
    positions = {arm: {int(index): place for place, index in enumerate(arrays["indices"])}
                 for arm, arrays in maps.items()}
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

    return {"seed": seed, "arms": list(maps), "images": take(first, "images"), "labels": take(first, "labels"),
            "heatmaps": {arm: take(arm, "heatmaps") for arm in maps},
            "predicted": {arm: take(arm, "predicted") for arm in maps},
            "class_names": evaluate.class_names(studies.run(rows[0]))}


# Rendering -----------------------------------------------------------------------------------


@dataclass
class _ArmRuns:
    """What `report.provenance` reads of a model group: a label and its runs."""

    label: str
    runs: list[Run]


def render_studies(studies_root: Path | None, out_dir: Path, environment: jinja2.Environment, common: dict) -> None:
    """Write claims.md, studies.md, their table downloads, studies.json and the studies' banner."""
    from cifarcmp import report  # report imports this module; importing it at the top would be circular

    out_dir = Path(out_dir)
    studies = load_studies(studies_root)
    synthetic = studies.synthetic if studies else bool(common["synthetic"])
    found = claims.build_claims(studies, synthetic)
    tables = dict(found["tables"])
    origin = common["provenance"]
    if studies:
        if "arms" in studies.summaries:
            tables["studies-arms"] = arms_table(studies, synthetic)
        if "data-efficiency" in studies.summaries:
            tables["studies-data-efficiency"] = claims.data_efficiency_table(studies, synthetic)
        # The banner describes the runs behind these pages (the study runs, not the main ones),
        # one entry per run, named by arm and, below the whole split, by training fraction.
        groups: dict[str, list[Run]] = {}
        for run, row in {row["run"]: row for study in studies.summaries for row in studies.rows(study)}.items():
            fraction = row.get("fraction", 1.0)
            share = "" if fraction == 1 else f", {claims.fraction_text(fraction)} of the training split"
            name = label(row["arm"]) + share
            groups.setdefault(name, []).append(studies.runs[run])
        origin = report.provenance([_ArmRuns(name, runs) for name, runs in groups.items()])
    downloads = {name: write_table(table, out_dir / "tables") for name, table in tables.items()}
    context = {
        **common, "provenance": origin, "synthetic": synthetic,
        "tables": {**common.get("tables", {}), **tables}, "downloads": {**common.get("downloads", {}), **downloads},
        "claims": found["claims"], "separation": found["separation"], "caveats": found["caveats"],
        "studies": {"ran": list(studies.summaries) if studies else [], "all": STUDY_DESCRIPTIONS,
                    "root": str(studies.root) if studies else None, "profile": studies.profile if studies else None,
                    "command": RUN_COMMAND, "gradcam": bool(gradcam_rows(studies))},
    }
    for page in PAGES:
        (out_dir / page).write_text(_render(environment, f"studies/{page}.j2", context), encoding="utf-8")
    banner = report.snippet_html(_render(environment, "_banner.md.j2", context))
    (out_dir / "snippets").mkdir(parents=True, exist_ok=True)
    (out_dir / "snippets" / "studies-banner.html").write_text(banner, encoding="utf-8")
    # Relative to the rendered folder (as run.json's paths are), so a rendered docs/generated/
    # keeps working in another checkout.
    record = {"studies_root": os.path.relpath(studies.root.resolve(), out_dir.resolve()) if studies else None,
              "studies": list(studies.summaries) if studies else [], "synthetic": synthetic}
    (out_dir / "studies.json").write_text(json.dumps(record, indent=2) + "\n")


def gradcam_rows(studies: Studies | None) -> list[dict]:
    return [row for row in studies.rows("gradcam") if row["has_gradcam"]] if studies else []


def _render(environment: jinja2.Environment, name: str, context: dict) -> str:
    try:
        return environment.get_template(name).render(context)
    except jinja2.TemplateError as error:
        raise UserError(f"{paths.TEMPLATES_DIR / name}: cannot render ({error})") from None


# For the executed notebook page ---------------------------------------------------------------


@dataclass
class StudiesSite:
    studies: Studies | None  # None: no studies were run
    banner_html: str  # the synthetic-data warning and the provenance of the study runs
    directory: Path  # docs/generated/


def load_studies_site(generated_dir: Path | str | None = None) -> StudiesSite:
    """The studies the pages were rendered from, through `studies.json` (see `report.load_site`)."""
    candidates = [Path(generated_dir)] if generated_dir else [Path.cwd() / "docs" / "generated", paths.GENERATED_DIR]
    directory = next((candidate for candidate in candidates if (candidate / "studies.json").is_file()), None)
    if directory is None:
        raise UserError(f"{candidates[0] / 'studies.json'}: missing; run `cifarcmp render RESULTS_DIR` first")
    record = json.loads((directory / "studies.json").read_text())
    banner = (directory / "snippets" / "studies-banner.html").read_text(encoding="utf-8")
    root = record["studies_root"]
    return StudiesSite(load_studies((directory / root).resolve() if root else None), banner, directory)
