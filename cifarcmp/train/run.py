"""One training run: data -> split -> model -> fit -> evaluate once on test -> results directory.

Everything is written into `<out>.incomplete/` and renamed to `<out>/` at the very end, so an
interrupted run never looks finished. Rerunning the same command resumes it from the last
checkpoint (train/checkpoints.py: model, optimiser, epoch, early stopping's memory and the history
rows, in one folder replaced atomically each epoch), so a kill at any instant loses at most the
epoch under way. One command at a time per run: a lock `<out>.lock` beside the folder is held
from before the folder is touched until it is published.
"""

from __future__ import annotations

import contextlib
import csv
import datetime
import io
import json
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np

from cifarcmp import architectures, lock, results, stats
from cifarcmp.config import RunConfig, learning_rate_for_epoch
from cifarcmp.data import source as data
from cifarcmp.data import splits
from cifarcmp.errors import UserError, disk_error, terminal_line
from cifarcmp.train import (
    augmentation,
    compute,
    distillation,
    evaluate,
    gradcam,
    models,
    monitoring,
    provenance,
    stopping,
)
from cifarcmp.train.checkpoints import Checkpoints, SaveEveryEpoch

SAMPLES_PER_CLASS = 10
GALLERY_SIZE = 24
GRADCAM_PER_CLASS = 2
RESUMES = "resumed.json"  # in the work folder: when the run was resumed, and from which epoch
# In the work folder: every attempt at this run (started, ended, seconds), so the manifest can add
# up a run that was interrupted, requeued or resumed, not just its last attempt.
ATTEMPTS = "attempts.json"
# In the work folder of a distilled run: the teacher it started with, so a resume cannot go on
# with another teacher (one retrained meanwhile) while the checkpoint holds the first.
TEACHER = "teacher.json"


class EpochTimer(keras.callbacks.Callback):
    """Adds `seconds` (whole epoch) and `train_seconds` (before validation starts) to the logs."""

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch_start = time.perf_counter()
        self.train_end = None

    def on_test_begin(self, logs=None):
        if self.train_end is None:
            self.train_end = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        now = time.perf_counter()
        logs["seconds"] = now - self.epoch_start
        logs["train_seconds"] = (self.train_end or now) - self.epoch_start


class ResumableEarlyStopping(keras.callbacks.EarlyStopping):
    """EarlyStopping on val_loss whose memory survives a restart.

    Its memory (best value and epoch, patience count, stopped epoch) and best weights go into
    each checkpoint (`memory()`, SaveEveryEpoch) and come back through the constructor, so they
    always belong to the same epoch as the restored model. With patience 0 it never stops but
    still restores the best epoch's weights at the end, so test is evaluated with the weights
    chosen on validation in both protocols.
    """

    def __init__(self, patience: int, memory: dict | None = None, best_weights: list | None = None):
        super().__init__(monitor="val_loss", patience=patience or 10**9, restore_best_weights=True, verbose=1)
        self.restored_memory = memory
        self.restored_best_weights = best_weights

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        if self.restored_memory:
            memory = self.restored_memory
            self.best, self.best_epoch = memory["best"], memory["best_epoch"]
            self.wait, self.stopped_epoch = memory["wait"], memory["stopped_epoch"]
            self.best_weights = self.restored_best_weights

    def memory(self) -> dict:
        best = None if self.best is None else float(self.best)
        return {"best": best, "best_epoch": self.best_epoch, "wait": self.wait, "stopped_epoch": self.stopped_epoch}


def train(config: RunConfig, out: Path, force: bool = False) -> Path:
    started = time.time()
    out = Path(out)
    results.check_destination(out, force)
    dataset = data.load(config.data)
    for departure in dataset.departures:  # recorded in the manifest and shown on every page, too
        print(
            terminal_line(f"cifarcmp: note: --data {config.data} is NOT the official release: {departure}"),
            file=sys.stderr,
        )
    split = splits.run_split(dataset, config)
    teacher = distillation.load_teacher(config, dataset.sha256) if config.teacher else None
    model = models.build(config)
    # What fit trains: the model itself, or the Distiller that trains it from the teacher.
    trained = distillation.distiller(teacher[0], model, config) if teacher else model
    models.compile_for_training(trained, config, from_logits=teacher is not None)
    training = Training(model, trained, teacher[1] if teacher else None)
    if model.dtype_policy.name != "float32":  # said before training, not after hours of it
        print(f"{config.name}{models.precision_note(model)}", flush=True)
    work = results.incomplete_path(out)
    with lock.hold(results.lock_path(out), str(out)):
        # Again under the lock: another command may have finished this run while this one loaded.
        if not force and results.is_finished(out):
            print(f"{out}: finished by another command meanwhile; nothing left to train")
            return out
        results.check_destination(out, force)
        try:
            return _train_locked(config, out, work, force, dataset, split, training, started)
        except OSError as error:
            translated = disk_error(error, work)
            if translated is None:
                raise
            raise translated from None


@dataclass(frozen=True)
class Training:
    """The network a run trains and keeps, what fit trains (the network, or the Distiller around
    it), and what the manifest records of the teacher (None without distillation)."""

    model: keras.Model
    trained: keras.Model
    teacher: dict | None


def _train_locked(config, out, work, force, dataset, split, training, started) -> Path:
    action = results.interrupted_run(work, json.loads(json.dumps(config.to_dict())), force)
    if action == "resume" and results.is_finished(work):
        # Killed after the last file was written but before the rename: only the rename is left.
        _discard_checkpoints(work)
        results.publish(work, out)
        print(f"{config.name}: the interrupted run was complete; results in {out}")
        return out
    checkpoints = _prepare_work_dir(work, config, action)
    if training.teacher is not None:
        _same_teacher(work, training.teacher, action)
    _begin_attempt(work, checkpoints, started)
    try:
        return _train_attempt(config, out, work, dataset, split, training, started, checkpoints, action)
    finally:
        if work.is_dir():  # not published: this attempt ended early (interrupt, requeue, error)
            with contextlib.suppress(OSError):  # a full disk must not hide the error that ended it
                _end_attempt(work, time.time())


def _train_attempt(config, out, work, dataset, split, training, started, checkpoints, action) -> Path:
    model = training.model
    restored = _resume(work, checkpoints, training.trained, action)
    if restored is not None and restored[0]["finished"]:
        print(f"training already finished in {work}; evaluating", file=sys.stderr)
        state, best_weights = restored
        if best_weights is not None:
            model.set_weights(best_weights)  # the student's alone under distillation (StudentDistiller)
    else:
        state = _fit(training.trained, config, split, checkpoints, restored)
    memory = state["early_stopping"]
    early_stopping_state = {
        "best_epoch": memory["best_epoch"] + 1,
        "stopped_epoch": memory["stopped_epoch"] + 1 if memory["stopped_epoch"] else 0,
    }
    history = _history(state["history"])
    metrics = evaluate.metrics(model, split, history, early_stopping_state)
    metrics["wall_seconds"] = round(time.time() - started, 2)
    metrics["parameters"] = models.parameter_counts(model)
    forward = compute.forward_flops_per_image(model)
    per_image = float(compute.training_flops_per_image(model))
    counted = (
        "Conv2D and Dense multiply-adds x 2 plus biases; training: 3 x forward for trainable "
        "layers, 1 x for frozen ones, per training image seen"
    )
    if training.teacher is not None:
        # The teacher predicts every training image the student sees: a forward pass each.
        per_image += float(compute.forward_flops_per_image(training.trained.teacher))
        counted += "; and the teacher's forward pass (distillation)"
    metrics["compute"] = {
        "forward_flops_per_image": forward,
        "training_flops": per_image * metrics["train_images"] * metrics["epochs_run"],
        "counted": counted,
    }
    _write_results(work, config, dataset, split, model, history, metrics, started, training.teacher)
    _discard_checkpoints(work)
    results.publish(work, out)
    print(
        f"{config.name}: test accuracy {metrics['test_accuracy']:.2%} (loss {metrics['test_loss']:.4f}), "
        f"{metrics['wall_seconds']:.0f} s; results in {out}{monitoring.closing_note(out)}{models.precision_note(model)}"
        + ("  [SYNTHETIC data, not CIFAR-10]" if dataset.synthetic else "")
    )
    return out


def _same_teacher(work: Path, teacher: dict, action: str) -> None:
    """Record the teacher a distilled run starts with; refuse to resume it with another."""
    recorded = work / TEACHER
    if action == "resume" and recorded.is_file():
        try:
            started_with = json.loads(recorded.read_text()).get("model_sha256")
        except (OSError, ValueError, AttributeError):
            started_with = None
        if started_with is not None and started_with != teacher["model_sha256"]:
            raise UserError(
                f"{work}: started with another teacher model than {teacher['run']} keeps now (retrained since?); "
                "rerun with --force to start over with this one"
            )
    results.write_json(recorded, teacher)


def _prepare_work_dir(work: Path, config: RunConfig, action: str) -> Path:
    if action == "discard":
        print(f"--force: discarding the interrupted run in {work}", file=sys.stderr)
        shutil.rmtree(work)
    # config.json first, atomically: a folder with a readable config.json is a run to resume.
    work.mkdir(parents=True, exist_ok=True)
    results.write_json(work / "config.json", json.loads(json.dumps(config.to_dict())))
    checkpoints = work / "checkpoints"
    checkpoints.mkdir(exist_ok=True)
    return checkpoints


def _resume(work: Path, checkpoints: Path, model, action: str) -> tuple[dict, list | None] | None:
    """Restore the newest readable checkpoint; make the CSV log and the resume record agree with it."""
    restored = Checkpoints(checkpoints / "backup").restore(model)
    state = restored[0] if restored else None
    if action == "resume":
        epoch = state["epoch"] if state else 0
        print(f"resuming the interrupted run in {work} after epoch {epoch}", file=sys.stderr)
        resumes = _resumes(work)
        resumes.append({"at": _now(), "from_epoch": epoch})
        results.write_json(work / RESUMES, {"resumed": resumes})
    # The live log says what the checkpoint holds: rows of epochs trained after it go.
    _write_history_log(checkpoints / "history_log.csv", state["history"] if state else [])
    return restored


def _attempts(work: Path) -> list[dict]:
    try:
        return list(json.loads((work / ATTEMPTS).read_text())["attempts"])
    except (OSError, ValueError, KeyError, TypeError):
        return []


def _begin_attempt(work: Path, checkpoints: Path, started: float) -> None:
    attempts = _attempts(work)
    if attempts and attempts[-1].get("ended_at") is None:
        # The previous attempt was killed outright (SIGKILL, a node lost): it ended no later than
        # the last thing it wrote, its live log or newest checkpoint.
        written = [path.stat().st_mtime for path in [checkpoints, *checkpoints.rglob("*")] if path.exists()]
        _close(attempts[-1], max(written) if written else None, "killed; ended at its last write")
    attempts.append({"started_at": _iso(started), "ended_at": None, "wall_seconds": None, "started": started})
    results.write_json(work / ATTEMPTS, {"attempts": attempts})


def _end_attempt(work: Path, ended: float) -> list[dict]:
    """Close the attempt under way; every attempt so far, without the raw start times."""
    attempts = _attempts(work)
    if attempts and attempts[-1].get("ended_at") is None:
        _close(attempts[-1], ended, None)
        results.write_json(work / ATTEMPTS, {"attempts": attempts})
    return [{key: value for key, value in attempt.items() if key != "started"} for attempt in attempts]


def _close(attempt: dict, ended: float | None, note: str | None) -> None:
    attempt["ended_at"] = _iso(ended) if ended is not None else None
    started = attempt.get("started")
    attempt["wall_seconds"] = round(ended - started, 2) if ended is not None and started is not None else None
    if note:
        attempt["note"] = note


def _iso(timestamp: float) -> str:
    return datetime.datetime.fromtimestamp(timestamp, datetime.UTC).isoformat(timespec="seconds")


def _resumes(work: Path) -> list[dict]:
    try:
        return list(json.loads((work / RESUMES).read_text())["resumed"])
    except (OSError, ValueError, KeyError, TypeError):
        return []


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")


def _write_history_log(path: Path, rows: list[dict]) -> None:
    if not rows:
        path.unlink(missing_ok=True)
        return
    # The layout CSVLogger writes (epoch, then the sorted log keys), so it appends rows alike.
    columns = ["epoch", *sorted(key for key in rows[0] if key != "epoch")]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\r\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({column: row.get(column, "NA") for column in columns})
    results.write_text_atomically(path, buffer.getvalue())


def _discard_checkpoints(work: Path) -> None:
    checkpoints = work / "checkpoints"
    if checkpoints.exists():
        # Renamed first, so a kill during the deletion leaves no half-deleted checkpoint behind.
        discarded = work / ".checkpoints.discarded"
        shutil.rmtree(discarded, ignore_errors=True)
        checkpoints.rename(discarded)
    shutil.rmtree(work / ".checkpoints.discarded", ignore_errors=True)
    (work / RESUMES).unlink(missing_ok=True)
    (work / ATTEMPTS).unlink(missing_ok=True)
    (work / TEACHER).unlink(missing_ok=True)  # the manifest records it


def _fit(model, config: RunConfig, split: dict, checkpoints: Path, restored) -> dict:
    """Train from the restored checkpoint (or from scratch); the last checkpoint's state."""
    state, best_weights = restored or (None, None)
    early_stopping = ResumableEarlyStopping(
        config.early_stopping_patience, state["early_stopping"] if state else None, best_weights
    )
    saver = SaveEveryEpoch(
        Checkpoints(checkpoints / "backup"), early_stopping, list(state["history"]) if state else [], config.epochs
    )
    # Augmented runs read their batches from the pipeline (augmentation.py), which draws the order
    # itself; the others pass the arrays, shuffled by fit, as the seed did.
    augmented = config.augmentation != "none"
    batches = augmentation.TrainingBatches(split["x_train"], split["y_train"], config) if augmented else None
    callbacks = [
        *([augmentation.EpochFollower(batches)] if augmented else []),
        EpochTimer(),
        keras.callbacks.LearningRateScheduler(lambda epoch, rate: learning_rate_for_epoch(config, epoch)),
        early_stopping,
        keras.callbacks.CSVLogger(str(checkpoints / "history_log.csv"), append=True),  # a live log to tail
        # <run>.incomplete/tensorboard/: moves with the run when it finishes.
        *monitoring.callbacks(checkpoints.parent),
        saver,  # it records what the callbacks before it decided for the epoch
        stopping.StopWhenAsked(),  # after the checkpoint: a stop asked for mid-epoch loses nothing
    ]
    model.fit(
        batches if augmented else split["x_train"],
        None if augmented else split["y_train"],
        validation_data=(split["x_val"], augmentation.encoded_labels(split["y_val"], config)),
        batch_size=None if augmented else config.batch_size,
        epochs=config.epochs,
        initial_epoch=state["epoch"] if state else 0,
        shuffle=not augmented,
        callbacks=callbacks,
        # A live progress bar on a terminal; one line per epoch in logs (CI, make, redirected output).
        verbose=1 if sys.stdout.isatty() else 2,
    )
    return saver.state


def _history(logged: list[dict]) -> list[dict]:
    """The checkpoint's rows (one per epoch, in order) as history.csv holds them."""
    rows = []
    for row in logged:
        values = {key: float(value) for key, value in row.items() if key != "epoch"}
        # The optimiser holds the rate in float32 (0.009999999776); six digits say what was set.
        values["learning_rate"] = float(f"{values['learning_rate']:.6g}")
        rows.append({**values, "epoch": int(row["epoch"]) + 1})
    return rows


def _write_results(work, config, dataset, split, model, history, metrics, started, teacher=None) -> None:
    picks = splits.first_per_class(split["y_train"], SAMPLES_PER_CLASS)
    # The test images of the most confident mistakes, so the report can show them without the
    # data set (the site build reads only results).
    mistakes = stats.most_confident_mistakes(split["test_probabilities"], split["y_test"], GALLERY_SIZE)
    positions = splits.first_per_class(split["y_test"], GRADCAM_PER_CLASS)
    maps, predicted = gradcam.heatmaps(model, architectures.get(config.model).gradcam_layer, split["x_test"][positions])
    arrays = {
        "predictions.npz": {
            "labels": split["y_test"].astype(np.int64),
            "probabilities": split["test_probabilities"],
            "indices": split["test_indices"].astype(np.int64),
            results.FLIPPED: split["test_flipped_probabilities"],
        },
        "samples.npz": {"images": split["x_train"][picks], "labels": split["y_train"][picks]},
        "gallery.npz": {
            "images": split["x_test"][mistakes],
            "indices": split["test_indices"][mistakes].astype(np.int64),
            "labels": split["y_test"][mistakes].astype(np.int64),
            "predicted": split["test_probabilities"][mistakes].argmax(axis=1).astype(np.int64),
            "confidence": split["test_probabilities"][mistakes].max(axis=1),
        },
        "gradcam.npz": {
            "images": split["x_test"][positions],
            "heatmaps": maps,
            "labels": split["y_test"][positions].astype(np.int64),
            "predicted": predicted.astype(np.int64),
            "indices": split["test_indices"][positions].astype(np.int64),
        },
    }
    counts = {
        "train": splits.class_counts(split["y_train"]),
        "validation": splits.class_counts(split["y_val"]),
        "test": splits.class_counts(split["y_test"]),
    }
    # The trained model, so ensembles, test-time augmentation, a distillation teacher or a new
    # evaluation need no retraining (`cifarcmp evaluate --predict`).
    kept = evaluate.keep_model(model, work)
    manifest = provenance.manifest(dataset, counts, started)
    manifest["model"] = kept
    if teacher is not None:
        manifest["teacher"] = teacher  # the run and the hash of the model that taught this one
    manifest["resumed"] = _resumes(work)  # empty when the run was never interrupted
    # started_at and wall_seconds are this, the last, attempt's; the attempts add up to the run's cost.
    attempts = _end_attempt(work, time.time())
    manifest["attempts"] = attempts
    manifest["total_wall_seconds"] = round(sum(attempt["wall_seconds"] or 0 for attempt in attempts), 2)
    manifest["precision_policy"] = model.dtype_policy.name  # mixed: mixed_bfloat16 or mixed_float16, as it ran
    results.write_run(
        work, summary=models.summary(model), history=history, metrics=metrics, arrays=arrays, manifest=manifest
    )
