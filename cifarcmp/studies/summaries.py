"""Each study's `summary.json`, written from its finished runs once the plan's runs are done.

Runs are ordinary results directories under `results/studies-<profile>/<study>/...`, listed by the
report's plan (cifarcmp/plan.py) and trained by an executor like every other run; finished ones are
never retrained, so rerunning a study after an interruption continues it. `run-plan` (and `study`)
end by writing `<study>/summary.json`, which is what the report reads.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from cifarcmp import results
from cifarcmp.plan import Plan, PlannedRun
from cifarcmp.studies import STUDIES


def copy_shared_runs(plan: Plan) -> list[PlannedRun]:
    """Fill each study folder whose configuration a main run trained with a copy of that finished run.

    The copy is written beside the folder and renamed into place, as a run is, so it is never half
    there; its TensorBoard logs stay with the original. Returns the copies made.
    """
    made = []
    for copy in plan.copies:
        source = plan.source(copy)
        if results.is_finished(copy.out) or not results.is_finished(source.out):
            continue
        copy.out.parent.mkdir(parents=True, exist_ok=True)
        # A name of its own beside the folder (no user's folder can be it); a copy cut short leaves
        # only such a folder, and the original is untouched.
        work = Path(tempfile.mkdtemp(dir=copy.out.parent, prefix=f".{copy.out.name}.copying-")) / copy.out.name
        try:
            shutil.copytree(source.out, work, ignore=shutil.ignore_patterns("tensorboard"))
            os.replace(work, copy.out)
        finally:
            shutil.rmtree(work.parent, ignore_errors=True)
        made.append(copy)
    if made:
        print(f"{len(made)} study folder(s) filled with a copy of the main run of the same configuration")
    return made


def write_summaries(plan: Plan) -> Path:
    """Each study's summary.json from its finished runs (no Keras: this only reads results)."""
    copy_shared_runs(plan)
    root = plan.studies_root
    for study in plan.settings.studies:
        summary = _summary(study, plan.study_runs(study), plan.settings.profile, root)
        (root / study).mkdir(parents=True, exist_ok=True)
        results.write_json(root / study / "summary.json", summary)
    if plan.settings.studies:
        print(f"studies {', '.join(plan.settings.studies)}: summaries in {root}")
    return root


def _summary(study: str, runs: list[PlannedRun], profile: str, root: Path) -> dict:
    rows = []
    for planned in runs:
        folder, arm, fraction, seed = planned.out, planned.arm, planned.fraction, planned.seed
        run = results.load_run(folder)  # a run that failed or vanished stops here, with its name
        metrics = run.metrics
        row = {
            "arm": arm,
            "fraction": fraction,
            "seed": seed,
            # The study's name for the protocol change this run makes (empty: the arm's own protocol).
            "variant": planned.variant,
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
        rows.append(STUDIES[study].row(row, folder))
    return {
        "schema_version": results.SCHEMA_VERSION,
        "study": study,
        "profile": profile,
        "synthetic": any(row["synthetic"] for row in rows),
        "runs": rows,
    }
