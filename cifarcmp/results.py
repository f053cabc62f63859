"""The results directory: the contract between training and the report.

One directory per run. Training writes into `<run>.incomplete/` and renames it to `<run>/` only
when every file below is written, so a directory without the `.incomplete` suffix whose
`manifest.json` says `"status": "complete"` is a finished run, and nothing else is.

| file              | holds                                                                  |
| ----------------- | ---------------------------------------------------------------------- |
| `config.json`     | the resolved run configuration (`cifarcmp.config.RunConfig` as a dict) |
| `manifest.json`   | provenance: commit, versions, device, executor (local, or the SLURM    |
|                   | job and task), times, data source and checksum                         |
| `summary.json`    | the model's layers, output shapes and parameter counts                 |
| `history.csv`     | one row per epoch: epoch, loss, accuracy, val_loss, val_accuracy,      |
|                   | learning_rate, seconds                                                 |
| `metrics.json`    | final train / validation / test figures, epochs, timings, throughput   |
| `predictions.npz` | `labels` (int64, N), `probabilities` (float32, N x 10) for the test   |
|                   | set, `indices` (int64, N) into the test split; optional               |
|                   | `flipped_probabilities` (float32, N x 10): the same images mirrored   |
|                   | left to right, for test-time augmentation (runs before it lack it)    |
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
| `model.weights.h5`| optional: the trained weights (Keras save_weights), hashed in the      |
|                   | manifest's `model`; `cifarcmp evaluate --predict` predicts from them   |

Each JSON file, and each row of history.csv, is checked against its JSON Schema (cifarcmp/schema.py)
when it is read.

Beside each run folder, `<run>.lock` is held (flock) by the one command writing that run.

Layout under `results/`: `<profile>/<model>/seed-<N>/`, where `<profile>` gains `-synthetic` when
a real-data profile ran on synthetic data.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import shutil
import stat
import tempfile
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cifarcmp import schema
from cifarcmp.errors import UserError
from cifarcmp.files import replaced_atomically, write_text_atomically, write_texts_together
from cifarcmp.text import spreadsheet_cell

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
# The trained network's weights (Keras' save_weights), hashed in the manifest's `model`: about
# 100 MB for ResNet50, so never committed (.gitignore) and left out of the Colab zip.
MODEL_FILE = "model.weights.h5"
# Files a run may hold besides RUN_FILES, read by the report or rewritten by `cifarcmp evaluate`.
OPTIONAL_RUN_FILES = ("gallery.npz", "gradcam.npz", "evaluation.json", "confusion.csv", MODEL_FILE)
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


# predictions.npz: the arrays every run has, and those runs from before them lack.
PREDICTIONS = ("labels", "probabilities", "indices")
# The softmax outputs for the mirrored test images (train/evaluate.py): averaged with
# `probabilities`, they are horizontal-flip test-time augmentation, with no retraining.
FLIPPED = "flipped_probabilities"
OPTIONAL_PREDICTIONS = (FLIPPED,)


# The contract's rules are JSON Schema (cifarcmp/schema.py); every file is checked when it is read.
CLASSES = schema.CLASSES


def write_json(path: Path, data: dict) -> None:
    """Atomically: a kill or a full disk leaves the old file or the new one, never a 0-byte one."""
    write_text_atomically(path, json.dumps(data, indent=2, sort_keys=False) + "\n")


# The largest text file a run writes is its summary.json (a few hundred KB for ResNet50); a results
# folder from elsewhere may hold a file that unzips to gigabytes.
MAX_TEXT_FILE_BYTES = 16 * 1024 * 1024


def check_plain_file(path: Path, limit: int | None = None) -> None:
    """Refuse what stands at `path` but is no regular file (nothing there is fine), or one larger
    than `limit` bytes.

    Opening a named pipe blocks until someone writes to it, and a device such as /dev/zero never
    ends: a reader of one would hang, not fail.
    """
    try:
        status = path.stat()
    except FileNotFoundError:
        return
    except OSError as error:
        raise UserError(f"{path}: unreadable ({error.strerror})") from None
    if not stat.S_ISREG(status.st_mode):
        raise UserError(f"{path}: not a regular file (a pipe, device or folder); a run holds only plain files")
    if limit is not None and status.st_size > limit:
        raise UserError(f"{path}: {status.st_size:,} bytes, more than a run writes ({limit:,})")


def read_json(path: Path) -> dict:
    check_plain_file(path, MAX_TEXT_FILE_BYTES)
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise UserError(f"{path}: missing; this is not a finished run") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise UserError(f"{path}: not valid JSON ({error}); rerun training for it") from None
    except RecursionError:
        raise UserError(f"{path}: nested too deeply to be a results file") from None
    except OSError as error:
        raise UserError(f"{path}: unreadable ({error.strerror})") from None


def write_history(path: Path, rows: list[dict]) -> None:
    columns = HISTORY_COLUMNS + tuple(c for c in OPTIONAL_HISTORY_COLUMNS if all(c in row for row in rows))
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        for row in rows:
            writer.writerow({column: row[column] for column in columns})


def write_run(
    folder: Path, *, summary: dict, history: list[dict], metrics: dict, arrays: dict[str, dict], manifest: dict
) -> None:
    """Every file of a finished run into `folder` (beside the config.json it was started with).

    The one writer of a run, used by training and by the tests' fixture runs. `arrays` maps each
    .npz file (predictions.npz, samples.npz, and the optional gallery.npz, gradcam.npz) to its
    arrays. The manifest goes last: its "complete" status is what marks the directory finished.
    """
    write_json(folder / "summary.json", summary)
    write_history(folder / "history.csv", history)
    write_json(folder / "metrics.json", metrics)
    for name, contents in arrays.items():
        np.savez_compressed(folder / name, **contents)
    write_json(folder / "manifest.json", manifest)


def read_history_log(path: Path) -> list[dict]:
    """Rows of a Keras CSVLogger file, as strings (empty when training logged nothing yet)."""
    if not path.exists():
        return []
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def read_history(path: Path) -> list[dict]:
    """history.csv's rows as numbers, checked: every value finite and in range, epochs 1..N in order."""
    try:
        check_plain_file(path, MAX_TEXT_FILE_BYTES)
        with path.open(newline="") as handle:
            reader = csv.DictReader(handle)
            columns = reader.fieldnames or ()
            missing = set(HISTORY_COLUMNS) - set(columns)
            if missing:
                raise UserError(f"{path}: missing columns {', '.join(sorted(missing))}")
            rows = [_history_row(path, number, row, len(columns)) for number, row in enumerate(reader, start=1)]
    except FileNotFoundError:
        raise UserError(f"{path}: missing; this is not a finished run") from None
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise UserError(f"{path}: unreadable ({error})") from None
    if not rows:
        raise UserError(f"{path}: holds no epochs")
    for number, row in enumerate(rows, start=1):
        if row["epoch"] != number:
            raise UserError(f"{path}: row {number} is epoch {row['epoch']}, expected epochs 1..{len(rows)} in order")
    return rows


def _history_row(path: Path, number: int, row: dict, width: int) -> dict:
    # csv.DictReader files a short row's missing cells as None and a long row's extras under None.
    if None in row or None in row.values():
        cells = width - list(row.values()).count(None) + len(row.get(None) or ())
        raise UserError(f"{path}: row {number} has {cells} cells, the header {width}")
    values = {}
    for key, text in row.items():
        try:
            value = int(text) if key == "epoch" else float(text)
        except ValueError:
            raise UserError(f"{path}: row {number}, {key} is {schema.shown(text)}, not a number") from None
        values[key] = value
    found = schema.problem(values, schema.HISTORY_ROW)
    if found:
        raise UserError(f"{path}: row {number}, {found}")
    return values


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
    """Read a finished run and check it against the contract; UserError naming the file and field."""
    path = Path(path)
    if path.name.endswith(INCOMPLETE_SUFFIX):
        raise UserError(f"{path}: an unfinished run (rerun the same train command to resume it)")
    if not path.is_dir():
        raise UserError(f"{path}: no such results directory")
    for name in (*RUN_FILES, *OPTIONAL_RUN_FILES):
        check_plain_file(path / name)
    manifest = read_json(path / "manifest.json")
    if not isinstance(manifest, dict) or manifest.get("status") != "complete":
        status = manifest.get("status") if isinstance(manifest, dict) else manifest
        raise UserError(f"{path / 'manifest.json'}: status is {schema.shown(status)}, not 'complete'")
    for name in RUN_FILES:
        if not (path / name).is_file():
            raise UserError(f"{path / name}: missing; this run is incomplete")
    files = {}
    for name, rule in (
        ("manifest.json", schema.MANIFEST),
        ("config.json", schema.CONFIG),
        ("summary.json", schema.SUMMARY),
        ("metrics.json", schema.METRICS),
    ):
        files[name] = read_json(path / name)
        schema.check(path / name, files[name], rule)
    history = read_history(path / "history.csv")
    predictions = read_npz(path / "predictions.npz", PREDICTIONS, optional=OPTIONAL_PREDICTIONS)
    samples = read_npz(path / "samples.npz", ("images", "labels"))
    run = Run(
        path,
        files["config.json"],
        files["manifest.json"],
        files["summary.json"],
        history,
        files["metrics.json"],
        predictions,
        samples,
    )
    _check_consistency(run)
    return run


def _check_consistency(run: Run) -> None:
    """What no single file can show: the files of one run agree with each other."""
    config, metrics, path = run.config, run.metrics, run.path
    epochs = len(run.history)
    if metrics["epochs_run"] != epochs:
        raise UserError(f"{path / 'metrics.json'}: epochs_run is {metrics['epochs_run']}, history.csv holds {epochs}")
    if metrics["epochs_run"] > config["epochs"]:
        raise UserError(
            f"{path / 'metrics.json'}: epochs_run is {metrics['epochs_run']}, config.json allows {config['epochs']}"
        )
    if metrics["best_epoch"] > epochs:
        raise UserError(f"{path / 'metrics.json'}: best_epoch is {metrics['best_epoch']}, expected 1..{epochs}")
    if len(config["lr_schedule"]) != config["epochs"]:
        raise UserError(
            f"{path / 'config.json'}: lr_schedule holds {len(config['lr_schedule'])} rates for {config['epochs']} epochs"
        )
    parameters = metrics["parameters"]
    if parameters["total"] != parameters["trainable"] + parameters["non_trainable"]:
        raise UserError(f"{path / 'metrics.json'}: parameters.total is not trainable + non_trainable")
    _check_predictions(path / "predictions.npz", run.predictions, metrics["test_images"])
    counted = sum(run.manifest["data"]["counts"]["test"])
    if counted != metrics["test_images"]:
        raise UserError(
            f"{path / 'manifest.json'}: data.counts.test adds up to {counted}, metrics.json says "
            f"test_images is {metrics['test_images']}"
        )
    _check_images(path / "samples.npz", run.samples, minimum=1)


def _integers(where: Path, name: str, array: np.ndarray, count: int, high: int | None = None) -> None:
    if array.shape != (count,) or array.dtype.kind not in "iu":
        raise UserError(f"{where}: {name} is {array.dtype} {array.shape}, expected {count} integers")
    if count and (array.min() < 0 or (high is not None and array.max() >= high)):
        raise UserError(f"{where}: {name} range over {array.min()}..{array.max()}, expected 0..{(high or 1) - 1}")


def _check_predictions(where: Path, predictions: dict, test_images: int) -> None:
    for name in ("probabilities", *(key for key in OPTIONAL_PREDICTIONS if key in predictions)):
        probabilities = predictions[name]
        if probabilities.shape != (test_images, CLASSES) or probabilities.dtype.kind != "f":
            raise UserError(
                f"{where}: {name} are {probabilities.dtype} {probabilities.shape}, expected floats of shape "
                f"({test_images}, {CLASSES}) (metrics.json's test_images by {CLASSES} classes)"
            )
        if not np.all(np.isfinite(probabilities)) or probabilities.min() < 0 or probabilities.max() > 1 + 1e-6:
            raise UserError(f"{where}: {name} must be finite and in 0..1")
    _integers(where, "labels", predictions["labels"], test_images, CLASSES)
    _integers(where, "indices", predictions["indices"], test_images)


def _check_images(where: Path, arrays: dict, minimum: int = 0) -> None:
    """Images (uint8, K x 32 x 32 x 3) with K labels of the ten classes."""
    images = arrays["images"]
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[1:] != (32, 32, 3) or len(images) < minimum:
        raise UserError(
            f"{where}: images are {images.dtype} {images.shape}, expected uint8 of shape (K, 32, 32, 3), K >= {minimum}"
        )
    _integers(where, "labels", arrays["labels"], len(images), CLASSES)


# The largest array a run stores: the images of a whole test set (10,000 x 32 x 32 x 3 bytes).
# Every .npz read is bounded by it, whatever its header or its zip entry claims: a 12 MB file of
# zeros can declare a 12 GiB array, and numpy allocates what the header says before reading.
MAX_NPZ_ARRAY_BYTES = 10_000 * 32 * 32 * 3


def read_npz(
    path: Path, keys: tuple[str, ...], limit: int = MAX_NPZ_ARRAY_BYTES, optional: tuple[str, ...] = ()
) -> dict:
    """The named arrays of an .npz file (no pickles), each at most `limit` bytes, and those of
    `optional` it holds; UserError naming the file otherwise."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = {info.filename.removesuffix(".npy"): info for info in archive.infolist()}
            missing = [key for key in keys if key not in members]
            if missing:
                raise UserError(f"{path}: missing arrays {', '.join(missing)}")
            arrays = {}
            for key in (*keys, *(key for key in optional if key in members)):
                with archive.open(members[key]) as member:
                    arrays[key] = _bounded_array(path, key, member, members[key].file_size, limit)
            return arrays
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile, zlib.error) as error:
        # A truncated or damaged archive fails in zipfile, zlib or numpy's header parser.
        raise UserError(f"{path}: unreadable ({schema.shown(str(error))})") from None


def _bounded_array(path: Path, key: str, member, stored_bytes: int, limit: int) -> np.ndarray:
    """One .npy member, its header checked before numpy allocates what the header declares."""
    if stored_bytes > limit + 4096:  # the header is at most a few hundred bytes
        raise UserError(f"{path}: array {key} holds {stored_bytes:,} bytes, more than a run stores ({limit:,})")
    version = np.lib.format.read_magic(member)
    readers = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
    if version not in readers:
        raise UserError(f"{path}: array {key} is in .npy format {version}, which numpy's savez does not write")
    shape, fortran_order, dtype = readers[version](member, max_header_size=10_000)
    if dtype.hasobject:
        raise UserError(f"{path}: unreadable (array {key} holds Python objects, which a run never stores)")
    declared = math.prod(shape) * dtype.itemsize  # Python integers: no overflow to a small number
    if declared > limit or declared > stored_bytes:
        raise UserError(
            f"{path}: array {key} declares shape {shape} of {dtype} ({declared:,} bytes), more than "
            f"{'a run stores' if declared > limit else 'the file holds'}"
        )
    data = member.read(declared + 1)
    if len(data) != declared:
        raise UserError(f"{path}: array {key} holds {len(data):,} bytes of data, its header declares {declared:,}")
    array = np.frombuffer(data, dtype=dtype).reshape(shape, order="F" if fortran_order else "C")
    return array.copy()  # writable, as np.load's arrays are


def find_runs(root: Path | str) -> list[Path]:
    """Finished run directories under `root` (itself a run, or `<model>/seed-N/` below it)."""
    root = Path(root)
    if root.name.endswith(INCOMPLETE_SUFFIX):
        raise UserError(f"{root}: an unfinished run (rerun the same train command to resume it)")
    if not root.is_dir():
        raise UserError(f"{root}: no such results directory")
    if (root / "manifest.json").is_file():
        return [root]
    runs = []
    # Links are not walked into (a link to / would walk the whole disk), but a link to a run is that
    # run: results/paper/cnn/seed-1 -> /other/disk/run counts, as `cifarcmp plan` counts it done.
    for parent, folders, files in os.walk(root):
        parent = Path(parent)
        folders[:] = sorted(name for name in folders if not name.endswith(INCOMPLETE_SUFFIX))
        if "manifest.json" in files:
            runs.append(parent)
        runs += [
            parent / name
            for name in folders
            if (parent / name).is_symlink() and os.path.lexists(parent / name / "manifest.json")
        ]
    return sorted(runs)


def is_finished(path: Path) -> bool:
    try:  # check_plain_file refuses a pipe there, which would block the read
        check_plain_file(path / "manifest.json", MAX_TEXT_FILE_BYTES)
        return json.loads((path / "manifest.json").read_text()).get("status") == "complete"
    except (OSError, ValueError, UserError, AttributeError):
        return False


def incomplete_path(final: Path) -> Path:
    return final.with_name(final.name + INCOMPLETE_SUFFIX)


def lock_path(final: Path) -> Path:
    """The lock of a run: beside its folder, not in it, since the folder is renamed at the end."""
    return final.with_name(final.name + ".lock")


def check_destination(out: Path, force: bool) -> None:
    """Refuse an --out that is not ours to write, before anything is created or Keras imported."""
    if not out.name or out.name in (".", ".."):
        raise UserError(f"--out {str(out)!r}: names no results folder; give a folder such as results/mine/cnn/seed-0")
    if out.name.endswith((INCOMPLETE_SUFFIX, ".lock", ".replaced")):
        raise UserError(f"{out}: a name cifarcmp uses for its own files; choose another --out")
    if out.exists() and not out.is_dir():
        raise UserError(f"{out}: exists and is not a directory; choose another --out")
    # A loop of links in the path: resolve() raises on it (the command gives one line), here
    # rather than after Keras is imported and the data read.
    out.resolve()
    finished = is_finished(out)
    if finished and not force:
        raise UserError(f"{out}: already holds a finished run; pass --force to replace it")
    # Never delete what a user put there: only a finished run (with --force) or an empty folder.
    if out.is_dir() and not finished and any(out.iterdir()):
        raise UserError(f"{out}: a non-empty folder that is not a cifarcmp run; choose another --out")
    # Probe the nearest existing folder without creating anything: a run that fails on its data
    # or weights must leave no trace, not even empty folders.
    ancestor = out.parent
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise UserError(f"{out}: cannot write there ({ancestor} is a file); choose another --out")
    try:
        with tempfile.TemporaryFile(dir=ancestor):
            pass
    except OSError as error:
        raise UserError(f"{out}: cannot write there ({error.strerror} in {ancestor}); choose another --out") from None


def interrupted_run(work: Path, wanted_config: dict, force: bool) -> str:
    """What to do with `<run>.incomplete/`: "new" (none), "resume", or "discard" (--force).

    --force always discards it, so it recovers any interrupted run, however broken.
    """
    if not work.exists() and not work.is_symlink():
        return "new"
    if not work.is_dir() or work.is_symlink():
        raise UserError(f"{work}: not a folder cifarcmp made; move it away")
    if force:
        return "discard"
    if not any(work.iterdir()):
        return "new"
    try:
        if not (work / "config.json").is_file():  # a pipe there would block the read
            raise ValueError("not a regular file")
        saved = json.loads((work / "config.json").read_text())
    except (OSError, ValueError):
        raise UserError(
            f"{work}: an interrupted run whose config.json is missing or unreadable; pass --force to start it over"
        ) from None
    if saved != wanted_config:
        raise UserError(
            f"{work}: an interrupted run with other settings; rerun it with its settings, or pass --force to discard it"
        )
    return "resume"


def publish(work: Path, final: Path) -> None:
    """Move a completed work directory into place; an old finished run there goes only after."""
    if not final.exists():
        work.rename(final)
        return
    # The old run waits in a folder of a unique name (never a user's `<run>.replaced`), and comes
    # back if the new one cannot take its place.
    trash = Path(tempfile.mkdtemp(prefix=f".{final.name}.replaced-", dir=final.parent))
    final.rename(trash / final.name)
    try:
        work.rename(final)
    except OSError:
        (trash / final.name).rename(final)
        raise
    finally:
        if final.exists():
            shutil.rmtree(trash, ignore_errors=True)


def confusion_csv(counts: list[list[int]], names: list[str]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    # Class names are checked at the contract; spreadsheet_cell still guards what opens in a spreadsheet.
    writer.writerow(["true \\ predicted", *map(spreadsheet_cell, names)])
    for name, row in zip(names, counts):
        writer.writerow([spreadsheet_cell(name), *row])
    return buffer.getvalue()


def add_flipped_predictions(run: Run, flipped: np.ndarray) -> None:
    """Add the mirrored test images' probabilities to the predictions.npz of a run trained before
    runs stored them (`cifarcmp evaluate --predict --flip`), all or nothing."""
    where = run.path / "predictions.npz"
    arrays = {**{key: run.predictions[key] for key in PREDICTIONS}, FLIPPED: np.asarray(flipped, dtype=np.float32)}
    _check_predictions(where, arrays, run.metrics["test_images"])
    try:
        with replaced_atomically(where, ".npz") as temporary:
            np.savez_compressed(temporary, **arrays)
    except OSError as error:
        raise UserError(f"{where}: cannot write it ({error.strerror or error}); it is unchanged") from None
    run.predictions[FLIPPED] = arrays[FLIPPED]


def write_evaluation(run: Run, result: dict) -> None:
    """Store an evaluation (`analysis.evaluation.evaluation`) as evaluation.json and confusion.csv."""
    texts = {
        "evaluation.json": json.dumps(result, indent=2) + "\n",
        "confusion.csv": confusion_csv(result["confusion"]["counts"], result["class_names"]),
    }
    try:
        # Both or neither: evaluation.json and confusion.csv of one evaluation always go together.
        write_texts_together(run.path, texts)
    except OSError as error:
        # A read-only or full file system: one line; the previous evaluation is whole, no temporary file left.
        raise UserError(
            f"{run.path}: cannot write evaluation.json and confusion.csv ({error.strerror or error}); "
            "the previous evaluation is unchanged"
        ) from None
