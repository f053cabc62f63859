"""What the executed pages draw, worked out by `cifarcmp render` and written beside the pages.

The executed pages (docs/notebooks/*.md, run by mkdocs-jupyter during `mkdocs build`) read only
what render wrote into docs/generated/, never the results folders: the site then builds from a
rendering alone, and a figure can only show what the tables beside it were made from. Render
writes `figure-data/`:

- `curves.json`: per model, each seed's history rows, best epoch and the maximum epochs;
- `evidence.json` and `evidence.npz`: per model, the reference run's confusion counts, accuracy,
  reliability bins and calibration error, and its most confident mistakes (their images in the
  .npz, one array per run, in the same order);
- `studies.json` and `studies.npz`: the data-efficiency series and the Grad-CAM panels (images,
  labels, and each arm's maps and predictions in the .npz), or null for a study not run.

JSON holds numbers and text only (a NaN spread is null); images and maps are plain arrays in
.npz files, read without pickle.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cifarcmp.analysis import comparison
from cifarcmp.analysis.measures import label
from cifarcmp.analysis.runs import data_efficiency_series, gradcam_panels
from cifarcmp.report.figures import history_columns

FOLDER = "figure-data"


# Written by render -------------------------------------------------------------------------------


def write(work: Path, groups, studies, evaluations: dict) -> None:
    """Every figure's data for the pages into `work`/figure-data/ (render's work folder), from the
    evaluations render made for the tables (comparison.evidence: run path -> evaluation)."""
    folder = work / FOLDER
    folder.mkdir()
    curves = [
        {
            "model": group.model,
            "label": group.label,
            "seeds": group.seeds,
            "max_epochs": group.config["epochs"],
            "best_epochs": [run.metrics["best_epoch"] for run in group.runs],
            "histories": [run.history for run in group.runs],
        }
        for group in groups
    ]
    _write_json(folder / "curves.json", {"groups": curves})

    references, images = [], {}
    for group, run in zip(groups, comparison.reference_runs(groups)):
        result = evaluations[run.path]
        key = f"{group.model}-seed-{run.config['seed']}"
        items = comparison.gallery_items(run, result)
        if items:
            images[key] = np.stack([item["image"] for item in items])
        references.append(
            {
                "key": key,
                "model": group.model,
                "label": group.label,
                "seed": run.config["seed"],
                "class_names": result["class_names"],
                "confusion": result["confusion"]["counts"],
                "correct": result["accuracy"]["correct"],
                "total": result["accuracy"]["total"],
                "accuracy": result["accuracy"]["value"],
                "reliability": result["reliability"],
                "expected_calibration_error": result["expected_calibration_error"]["value"],
                # None: the run recorded no gallery (the page says so); []: it made no mistake.
                "mistakes": None if items is None else [_without(item, "image") for item in items],
            }
        )
    _write_json(folder / "evidence.json", {"references": references})
    np.savez_compressed(folder / "evidence.npz", **images)

    series = data_efficiency_series(studies)
    panels = gradcam_panels(studies)
    arrays = {}
    if panels is not None:
        arrays = {"images": panels["images"], "labels": panels["labels"]}
        for arm in panels["arms"]:
            arrays[f"heatmaps-{arm}"] = panels["heatmaps"][arm]
            arrays[f"predicted-{arm}"] = panels["predicted"][arm]
    record = {
        "data_efficiency": None
        if series is None
        else {
            arm: {
                "label": label(arm),
                **{key: [None if math.isnan(value) else float(value) for value in points[key]] for key in points},
            }
            for arm, points in series.items()
        },
        "gradcam": None
        if panels is None
        else {
            "seed": panels["seed"],
            "arms": panels["arms"],
            "arm_labels": {arm: label(arm) for arm in panels["arms"]},
            "class_names": panels["class_names"],
        },
    }
    _write_json(folder / "studies.json", record)
    np.savez_compressed(folder / "studies.npz", **arrays)


def _without(item: dict, key: str) -> dict:
    return {name: value for name, value in item.items() if name != key}


def _write_json(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data, indent=2, allow_nan=False) + "\n")


# Read by the pages (through report.site) -----------------------------------------------------


@dataclass
class Curves:
    model: str
    label: str
    seeds: list[int]
    max_epochs: int
    best_epochs: list[int]
    histories: list[dict[str, np.ndarray]]  # one per seed: a column per history.csv field


@dataclass
class Reference:
    """A model's reference run (the lowest seed every model ran), as the Evidence page draws it."""

    key: str
    model: str
    label: str
    seed: int
    class_names: list[str]
    confusion: list[list[int]]
    correct: int
    total: int
    accuracy: float
    reliability: list[dict]
    expected_calibration_error: float
    mistakes: list[dict] | None  # each with its `image`; None: no gallery recorded


def read_curves(directory: Path) -> list[Curves]:
    groups = json.loads((directory / FOLDER / "curves.json").read_text())["groups"]
    return [
        Curves(**{**group, "histories": [history_columns(rows) for rows in group["histories"]]}) for group in groups
    ]


def read_evidence(directory: Path) -> list[Reference]:
    references = json.loads((directory / FOLDER / "evidence.json").read_text())["references"]
    with np.load(directory / FOLDER / "evidence.npz", allow_pickle=False) as arrays:
        images = {key: arrays[key] for key in arrays.files}
    for reference in references:
        for place, mistake in enumerate(reference["mistakes"] or []):
            mistake["image"] = images[reference["key"]][place]
    return [Reference(**reference) for reference in references]


def read_studies(directory: Path) -> tuple[dict | None, dict | None]:
    """(data-efficiency series per arm, Grad-CAM panels), each None when its study was not run."""
    record = json.loads((directory / FOLDER / "studies.json").read_text())
    series = record["data_efficiency"]
    if series is not None:
        series = {
            arm: {
                "label": points["label"],
                **{
                    key: np.array([np.nan if value is None else value for value in values], dtype=float)
                    for key, values in points.items()
                    if key != "label"
                },
            }
            for arm, points in series.items()
        }
    panels = record["gradcam"]
    if panels is not None:
        with np.load(directory / FOLDER / "studies.npz", allow_pickle=False) as arrays:
            panels = {
                **panels,
                "images": arrays["images"],
                "labels": arrays["labels"],
                "heatmaps": {arm: arrays[f"heatmaps-{arm}"] for arm in panels["arms"]},
                "predicted": {arm: arrays[f"predicted-{arm}"] for arm in panels["arms"]},
            }
    return series, panels
