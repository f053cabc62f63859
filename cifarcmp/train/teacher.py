"""A distillation teacher, checked without Keras: a finished run that keeps its trained model.

`cifarcmp train --teacher RUN` checks it here before Keras is imported, so a wrong folder is one
line at once; training (distillation.py) checks the hash again when it loads the model, since the
file may change in between. No Keras here: the command line imports this.
"""

from __future__ import annotations

from pathlib import Path

from cifarcmp import results
from cifarcmp.data import source as data
from cifarcmp.errors import UserError


def check(path: str | Path) -> results.Run:
    """The teacher run at `path`, whose kept model is there and has the hash its manifest recorded."""
    folder = Path(path).expanduser()
    if not results.is_finished(folder):
        raise UserError(f"--teacher {path}: not a finished run (train the teacher first; its manifest says complete)")
    run = results.load_run(folder)
    kept = run.manifest.get("model")
    model_file = folder / results.MODEL_FILE
    if not isinstance(kept, dict) or not model_file.is_file():
        raise UserError(f"--teacher {path}: keeps no trained model (trained before runs kept theirs); retrain it")
    results.check_plain_file(model_file)
    if data.file_sha256(model_file) != kept["sha256"]:
        raise UserError(
            f"--teacher {path}: its {results.MODEL_FILE} is not the one its manifest recorded (sha256 differs)"
        )
    return run


def identity(run: results.Run) -> dict:
    """What the student's manifest records of its teacher (schema.MANIFEST's `teacher`)."""
    recorded = {
        "run": str(run.path),
        "model_sha256": run.manifest["model"]["sha256"],
        "model": run.model,
        "seed": int(run.config["seed"]),
        "test_accuracy": float(run.metrics["test_accuracy"]),
    }
    forward = run.metrics.get("compute", {}).get("forward_flops_per_image")
    return {**recorded, **({"forward_flops_per_image": forward} if forward else {})}
