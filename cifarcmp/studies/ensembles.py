"""The ensembles study: trains nothing new. Per model, the softmax outputs of the main runs of every
seed are averaged (a seed ensemble), and, where the runs saved their predictions on the horizontally
flipped test images, each run's two views are averaged too (test-time augmentation). The maths is
cifarcmp.analysis.ensembles'; this module lists the runs it reads: the main runs, copied into its
folder (the same configurations: nothing is trained for them).

An ensemble needs at least two seeds: with one, planning it is an error, and nothing trains.
Smoke form: the seeds asked for (SEEDS=2 gives a two-run ensemble); it costs no training.
"""

import zipfile
from pathlib import Path

from cifarcmp import schema
from cifarcmp.errors import UserError
from cifarcmp.studies.study import Request, Study, Wanted

MODELS = ("resnet50", "cnn")
FLIPPED = "flipped_probabilities"  # predictions.npz: the run's probabilities on the mirrored test images


def _runs(request: Request) -> list[Wanted]:
    if len(request.seeds) < 2:
        raise UserError(
            f"the ensembles study averages the runs of several seeds; seeds {request.seeds} is one run per model "
            "(ask for SEEDS=2 or more)"
        )
    return [
        Wanted(model, 1.0, seed, request.root / "ensembles" / model / f"seed-{seed}")
        for model in MODELS
        for seed in request.seeds
    ]


def _row(row: dict, folder: Path) -> dict:
    # Only the archive's list of names: the arrays are read, and checked, by the report.
    with zipfile.ZipFile(folder / "predictions.npz") as predictions:
        return {**row, "has_flipped": f"{FLIPPED}.npy" in predictions.namelist()}


STUDY = Study(
    name="ensembles",
    description="the seeds' runs of each model averaged (a seed ensemble), with horizontal-flip test-time "
    "augmentation where the runs saved it; no new training",
    runs=_runs,
    row=_row,
    row_rules={**schema.STUDY_FIGURES, "has_flipped": schema.BOOLEAN},
    title="Ensembles and test-time augmentation",
    page="improvements",
    table="cifarcmp.analysis.improvements:ensembles_table",
    section="""\
No run is trained for this study. An ensemble averages the softmax outputs of the seeds' runs of one
model on each test image and takes the most probable class; test-time augmentation (flip TTA) averages a run's
outputs on the image and on its mirror image. Each costs one forward pass per member and view, so
the inference cost is that many times a single run's. The gain is against the mean of the single
runs; the interval and the test pair the ensemble with each single run on the same images
(McNemar's exact test), and the table shows the pairing with the least gain.

{{ table(this.table) }}
""",
)
