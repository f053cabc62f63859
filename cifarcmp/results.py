"""The results directory: the contract between training and the report.

One directory per run. Training writes into `<run>.incomplete/` and renames it to `<run>/` only
when every file below is written, so a directory without the `.incomplete` suffix whose
`manifest.json` says `"status": "complete"` is a finished run, and nothing else is.

| file              | holds                                                                  |
| ----------------- | ---------------------------------------------------------------------- |
| `config.json`     | the resolved run configuration (`cifarcmp.config.RunConfig` as a dict) |
| `manifest.json`   | provenance: commit, versions, device, times, data source and checksum  |
| `summary.json`    | the model's layers, output shapes and parameter counts                 |
| `history.csv`     | one row per epoch: epoch, loss, accuracy, val_loss, val_accuracy,      |
|                   | learning_rate, seconds                                                 |
| `metrics.json`    | final train / validation / test figures, epochs, timings, throughput   |
| `predictions.npz` | `labels` (int64, N), `probabilities` (float32, N x 10) for the test   |
|                   | set, `indices` (int64, N) into the test split                          |
| `samples.npz`     | `images` (uint8, K x 32 x 32 x 3) and `labels` drawn from the training |
|                   | split, for the report's sample grid                                    |
| `gallery.npz`     | optional: the test images of the most confident mistakes, with        |
|                   | `indices`, `labels`, `predicted`, `confidence`                         |
| `gradcam.npz`     | optional: Grad-CAM heat maps of a few test images per class: `images`, |
|                   | `heatmaps` (N x h x w in [0, 1]), `labels`, `predicted`, `indices`    |
| `tensorboard/`    | optional: TensorBoard logs written while training (`make tensorboard`); |
|                   | never committed, never read by the report                              |
| `evaluation.json` | optional, rewritten by `cifarcmp evaluate`: intervals, confusion,      |
|                   | per-class scores, calibration, all computed from predictions.npz      |

Layout under `results/`: `<profile>/<model>/seed-<N>/`, where `<profile>` gains `-synthetic` when
a real-data profile ran on synthetic data.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cifarcmp.errors import UserError

SCHEMA_VERSION = 1
INCOMPLETE_SUFFIX = ".incomplete"
RUN_FILES = (
    "config.json",
    "manifest.json",
    "summary.json",
    "history.csv",
    "metrics.json",
    "predictions.npz",
    "samples.npz",
)
HISTORY_COLUMNS = (
    "epoch",
    "loss",
    "accuracy",
    "val_loss",
    "val_accuracy",
    "learning_rate",
    "seconds",
)
# Written when known, not required: seconds of the epoch spent training, before validation.
OPTIONAL_HISTORY_COLUMNS = ("train_seconds",)


def write_json(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n")


def read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise UserError(f"{path}: missing; this is not a finished run") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise UserError(f"{path}: not valid JSON ({error}); rerun training for it") from None


def write_history(path: Path, rows: list[dict]) -> None:
    columns = HISTORY_COLUMNS + tuple(c for c in OPTIONAL_HISTORY_COLUMNS if all(c in row for row in rows))
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        for row in rows:
            writer.writerow({column: row[column] for column in columns})


def read_history_log(path: Path) -> list[dict]:
    """Rows of a Keras CSVLogger file, as strings (empty when training logged nothing yet)."""
    if not path.exists():
        return []
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def read_history(path: Path) -> list[dict]:
    try:
        with path.open(newline="") as handle:
            reader = csv.DictReader(handle)
            missing = set(HISTORY_COLUMNS) - set(reader.fieldnames or ())
            if missing:
                raise UserError(f"{path}: missing columns {', '.join(sorted(missing))}")
            rows = [
                {key: (int(value) if key == "epoch" else float(value)) for key, value in row.items()} for row in reader
            ]
    except FileNotFoundError:
        raise UserError(f"{path}: missing; this is not a finished run") from None
    except ValueError as error:
        raise UserError(f"{path}: unreadable row ({error})") from None
    if not rows:
        raise UserError(f"{path}: holds no epochs")
    return rows


@dataclass
class Run:
    """A finished run, read back and checked."""

    path: Path
    config: dict
    manifest: dict
    summary: dict
    history: list[dict]
    metrics: dict
    predictions: dict  # labels, probabilities, indices
    samples: dict  # images, labels

    @property
    def model(self) -> str:
        """The model as the report names it: a study arm (resnet50-frozen, ...) or the model."""
        return self.config.get("arm") or self.config["model"]

    @property
    def synthetic(self) -> bool:
        return bool(self.manifest["data"]["synthetic"])


def load_run(path: Path | str) -> Run:
    """Read a finished run; raise UserError naming the file and the problem otherwise."""
    path = Path(path)
    if path.name.endswith(INCOMPLETE_SUFFIX):
        raise UserError(f"{path}: an unfinished run (rerun the same train command to resume it)")
    if not path.is_dir():
        raise UserError(f"{path}: no such results directory")
    manifest = read_json(path / "manifest.json")
    if manifest.get("status") != "complete":
        raise UserError(f"{path / 'manifest.json'}: status is {manifest.get('status')!r}, not 'complete'")
    for name in RUN_FILES:
        if not (path / name).is_file():
            raise UserError(f"{path / name}: missing; this run is incomplete")
    config = read_json(path / "config.json")
    summary = read_json(path / "summary.json")
    metrics = read_json(path / "metrics.json")
    history = read_history(path / "history.csv")
    predictions = read_npz(path / "predictions.npz", ("labels", "probabilities", "indices"))
    samples = read_npz(path / "samples.npz", ("images", "labels"))
    probabilities = predictions["probabilities"]
    if probabilities.ndim != 2 or probabilities.shape[0] != predictions["labels"].shape[0]:
        raise UserError(
            f"{path / 'predictions.npz'}: probabilities {probabilities.shape} do not match "
            f"labels {predictions['labels'].shape}"
        )
    return Run(path, config, manifest, summary, history, metrics, predictions, samples)


def read_npz(path: Path, keys: tuple[str, ...]) -> dict:
    """The named arrays of an .npz file (no pickles); UserError naming the file otherwise."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            missing = [key for key in keys if key not in archive.files]
            if missing:
                raise UserError(f"{path}: missing arrays {', '.join(missing)}")
            return {key: archive[key] for key in keys}
    except (OSError, ValueError) as error:
        raise UserError(f"{path}: unreadable ({error})") from None


def find_runs(root: Path | str) -> list[Path]:
    """Finished run directories under `root` (itself a run, or `<model>/seed-N/` below it)."""
    root = Path(root)
    if root.name.endswith(INCOMPLETE_SUFFIX):
        raise UserError(f"{root}: an unfinished run (rerun the same train command to resume it)")
    if not root.is_dir():
        raise UserError(f"{root}: no such results directory")
    if (root / "manifest.json").is_file():
        return [root]
    runs = sorted(
        manifest.parent
        for manifest in root.glob("**/manifest.json")
        if not any(part.endswith(INCOMPLETE_SUFFIX) for part in manifest.parent.parts)
    )
    return runs


def is_finished(path: Path) -> bool:
    try:
        return json.loads((path / "manifest.json").read_text()).get("status") == "complete"
    except (OSError, ValueError):
        return False


def incomplete_path(final: Path) -> Path:
    return final.with_name(final.name + INCOMPLETE_SUFFIX)


def publish(work: Path, final: Path) -> None:
    """Move a completed work directory into place; an old finished run there goes only after."""
    if final.exists():
        trash = final.with_name(final.name + ".replaced")
        shutil.rmtree(trash, ignore_errors=True)
        final.rename(trash)
        work.rename(final)
        shutil.rmtree(trash, ignore_errors=True)
    else:
        work.rename(final)


def write_text_atomically(path: Path, text: str) -> None:
    """Write via a temporary file in the same directory and os.replace it into place.

    A reader (the report, a browser download) then sees the old file or the new one, never half
    of one, even if the writer is interrupted.
    """
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", newline="") as stream:
            stream.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def confusion_csv(counts: list[list[int]], names: list[str]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["true \\ predicted", *names])
    for name, row in zip(names, counts):
        writer.writerow([name, *row])
    return buffer.getvalue()


def write_evaluation(run: Run, result: dict) -> None:
    """Store an evaluation (`analysis.evaluation.evaluation`) as evaluation.json and confusion.csv."""
    write_text_atomically(run.path / "evaluation.json", json.dumps(result, indent=2) + "\n")
    write_text_atomically(
        run.path / "confusion.csv", confusion_csv(result["confusion"]["counts"], result["class_names"])
    )
