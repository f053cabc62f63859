"""Opt-in studies that test the seed report's claims: a study is a set of runs plus a summary.

- `arms`: the same split, four arms (config.ARMS): ResNet50 fine-tuned (the seed's), ResNet50 as a
  frozen feature extractor, ResNet50 from random initialisation, the scratch CNN.
- `data-efficiency`: the fine-tuned, frozen and scratch arms on stratified fractions of the
  training split (1%, 10%, 100% by default).
- `gradcam`: Grad-CAM maps are written by every run (gradcam.npz); this study collects them.

Runs are ordinary results directories under `results/studies-<profile>/<study>/...`; finished
ones are never retrained, so rerunning a study after an interruption continues it. Each study
ends by writing `<study>/summary.json`, which is what the report reads.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from cifarcmp import config, results
from cifarcmp.config import STUDIES
from cifarcmp.errors import UserError
from cifarcmp.paths import RESULTS_ROOT

DEFAULT_FRACTIONS = (0.01, 0.1, 1.0)
DATA_EFFICIENCY_ARMS = ("resnet50", "resnet50-frozen", "cnn")


def parse_studies(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in STUDIES]
    if unknown or not names:
        raise UserError(f"unknown study {', '.join(unknown) or repr(text)}; choose from: {', '.join(STUDIES)}")
    return names


def parse_fractions(text: str) -> list[float]:
    try:
        fractions = [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise UserError(f"fractions {text!r}: not a comma-separated list of numbers") from None
    bad = [fraction for fraction in fractions if not 0 < fraction <= 1 or math.isnan(fraction)]
    if bad or not fractions:
        raise UserError(f"fraction {bad[0] if bad else text!r} is outside (0, 1]; use e.g. 0.01,0.1,1")
    return sorted(set(fractions))


def study_root(profile: str, data: str | None) -> Path:
    tag = config.results_tag(config.resolve("cnn", profile, data=data))
    return RESULTS_ROOT / f"studies-{tag}"


def plan(studies, profile, seeds, fractions, root: Path, **overrides) -> dict[str, list[tuple]]:
    """For each study, its (arm, fraction, seed, RunConfig, run directory) in running order."""
    planned = {}
    if "arms" in studies or "gradcam" in studies:
        planned["arms"] = [
            (
                arm,
                1.0,
                seed,
                config.resolve_arm(arm, profile, seed=seed, **overrides),
                root / "arms" / arm / f"seed-{seed}",
            )
            for arm in config.ARMS
            for seed in seeds
        ]
    if "data-efficiency" in studies:
        runs = []
        for arm in DATA_EFFICIENCY_ARMS:
            for fraction in fractions:
                for seed in seeds:
                    folder = (
                        root / "arms" / arm / f"seed-{seed}"
                        if fraction == 1
                        else root / "data-efficiency" / arm / f"fraction-{fraction:g}" / f"seed-{seed}"
                    )
                    run_config = config.resolve_arm(arm, profile, seed=seed, train_fraction=fraction, **overrides)
                    runs.append((arm, fraction, seed, run_config, folder))
        planned["data-efficiency"] = runs
    return planned


def run(studies: list[str], profile: str, seeds: list[int], fractions: list[float], **overrides) -> Path:
    import keras

    from cifarcmp.train.run import train

    root = study_root(profile, overrides.get("data"))
    planned = plan(studies, profile, seeds, fractions, root, **overrides)
    todo = {folder: run_config for runs in planned.values() for _, _, _, run_config, folder in runs}
    for number, (folder, run_config) in enumerate(todo.items(), start=1):
        if results.is_finished(folder):
            if results.read_json(folder / "config.json") != json.loads(json.dumps(run_config.to_dict())):
                raise UserError(f"{folder}: holds a finished run with other settings; move it away to rerun the study")
            continue
        print(
            f"study run {number}/{len(todo)}: {run_config.name}, fraction {run_config.train_fraction:g}, seed {run_config.seed}"
        )
        try:
            train(run_config, folder)
        except UserError as error:
            raise UserError(f"study run {folder} failed: {error}") from None
        keras.backend.clear_session()  # each run starts from a clean graph and fresh layer names
    for study in studies:
        summary = _summary(study, planned, profile, root)
        (root / study).mkdir(parents=True, exist_ok=True)
        results.write_json(root / study / "summary.json", summary)
    print(f"studies {', '.join(studies)}: summaries in {root}")
    return root


def _summary(study: str, planned: dict, profile: str, root: Path) -> dict:
    entries = planned["arms"] if study == "gradcam" else planned[study]
    rows = []
    for arm, fraction, seed, _, folder in entries:
        run = results.load_run(folder)  # a run that failed or vanished stops here, with its name
        metrics = run.metrics
        row = {
            "arm": arm,
            "fraction": fraction,
            "seed": seed,
            "run": folder.relative_to(root).as_posix(),
            "test_accuracy": metrics["test_accuracy"],
            "test_loss": metrics["test_loss"],
            "val_accuracy": metrics["val_accuracy"],
            "train_accuracy": metrics["train_accuracy"],
            "train_images": metrics["train_images"],
            "epochs_run": metrics["epochs_run"],
            "best_epoch": metrics["best_epoch"],
            "train_seconds": metrics["train_seconds"],
            "wall_seconds": metrics["wall_seconds"],
            "train_images_per_second": metrics["train_images_per_second"],
            "forward_flops_per_image": metrics["compute"]["forward_flops_per_image"],
            "training_flops": metrics["compute"]["training_flops"],
            "parameters": metrics["parameters"],
            "device": run.manifest["device"],
            "synthetic": run.synthetic,
        }
        if study == "gradcam":
            row = {key: row[key] for key in ("arm", "seed", "run", "synthetic")}
            row["has_gradcam"] = (folder / "gradcam.npz").is_file()
        rows.append(row)
    return {
        "schema_version": results.SCHEMA_VERSION,
        "study": study,
        "profile": profile,
        "synthetic": any(row["synthetic"] for row in rows),
        "runs": rows,
    }
