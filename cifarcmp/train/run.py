"""One training run: data -> split -> model -> fit -> evaluate once on test -> results directory.

Everything is written into `<out>.incomplete/` and renamed to `<out>/` at the very end, so an
interrupted run never looks finished. Rerunning the same command resumes it: Keras'
BackupAndRestore restores the model, the optimiser and the epoch, and our early-stopping callback
restores its own memory (best value, best weights, patience count), which BackupAndRestore does
not keep.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import keras
import numpy as np

from cifarcmp import results
from cifarcmp.analysis import stats
from cifarcmp.config import RunConfig, learning_rate_for_epoch
from cifarcmp.data import source as data
from cifarcmp.data import splits
from cifarcmp.errors import UserError
from cifarcmp.train import compute, gradcam, models, monitoring, provenance

SAMPLES_PER_CLASS = 10
GALLERY_SIZE = 24
GRADCAM_PER_CLASS = 2
EVALUATION_BATCH = 256


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

    Its state (best value and epoch, patience count) is saved as JSON after every epoch and the
    best weights as a .weights.h5 file whenever they improve; `on_train_begin` reads them back.
    With patience 0 it never stops but still restores the best epoch's weights at the end, so
    test is evaluated with the weights chosen on validation in both protocols.
    """

    def __init__(self, state_dir: Path, patience: int):
        super().__init__(monitor="val_loss", patience=patience or 10**9, restore_best_weights=True, verbose=1)
        self.state_file = state_dir / "early_stopping.json"
        self.weights_file = state_dir / "best.weights.h5"

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        if self.state_file.exists():
            state = json.loads(self.state_file.read_text())
            self.best, self.best_epoch, self.wait = state["best"], state["best_epoch"], state["wait"]

    def on_epoch_end(self, epoch, logs=None):
        previous_best_epoch = self.best_epoch if self.best is not None else None
        if self.best is not None and self.best_weights is None and self.weights_file.exists():
            self.best_weights = _weights_from_file(self.model, self.weights_file)
        super().on_epoch_end(epoch, logs)
        if self.best_epoch != previous_best_epoch:
            self.model.save_weights(self.weights_file)
        state = {"best": self.best, "best_epoch": self.best_epoch, "wait": self.wait}
        self.state_file.write_text(json.dumps(state))

    def on_train_end(self, logs=None):
        if self.best_weights is None and self.weights_file.exists():
            self.best_weights = _weights_from_file(self.model, self.weights_file)
        super().on_train_end(logs)


def _weights_from_file(model: keras.Model, path: Path) -> list:
    current = model.get_weights()
    model.load_weights(path)
    saved = model.get_weights()
    model.set_weights(current)
    return saved


def train(config: RunConfig, out: Path, force: bool = False) -> Path:
    started = time.time()
    out = Path(out)
    work = results.incomplete_path(out)
    _check_output(out, force)
    dataset = data.load(config.data)
    split = _split(dataset, config)
    model = models.build(config)
    models.compile_for_training(model, config)
    checkpoints = _prepare_work_dir(work, config, force)

    fit_done = checkpoints / "fit_done.json"
    chosen_weights = checkpoints / "chosen.weights.h5"
    if fit_done.exists():
        print(f"training already finished in {work}; evaluating", file=sys.stderr)
        model.load_weights(chosen_weights)
        early_stopping_state = json.loads(fit_done.read_text())
    else:
        early_stopping = _fit(model, config, split, checkpoints)
        model.save_weights(chosen_weights)
        early_stopping_state = {
            "best_epoch": early_stopping.best_epoch + 1,
            "stopped_epoch": early_stopping.stopped_epoch + 1 if early_stopping.stopped_epoch else 0,
        }
        fit_done.write_text(json.dumps(early_stopping_state))

    history = _history(checkpoints / "history_log.csv")
    metrics = _evaluate(model, split, history, early_stopping_state, config)
    metrics["wall_seconds"] = round(time.time() - started, 2)
    metrics["parameters"] = models.parameter_counts(model)
    forward = compute.forward_flops_per_image(model)
    metrics["compute"] = {
        "forward_flops_per_image": forward,
        "training_flops": float(compute.training_flops_per_image(model))
        * metrics["train_images"]
        * metrics["epochs_run"],
        "counted": "Conv2D and Dense multiply-adds x 2 plus biases; training: 3 x forward for trainable "
        "layers, 1 x for frozen ones, per training image seen",
    }
    _write_results(work, config, dataset, split, model, history, metrics, started)
    shutil.rmtree(checkpoints)
    results.publish(work, out)
    print(
        f"{config.name}: test accuracy {metrics['test_accuracy']:.2%} (loss {metrics['test_loss']:.4f}), "
        f"{metrics['wall_seconds']:.0f} s; results in {out}{monitoring.closing_note(out)}{models.precision_note(model)}"
        + ("  [SYNTHETIC data, not CIFAR-10]" if dataset.synthetic else "")
    )
    return out


def _check_output(out: Path, force: bool) -> None:
    if results.is_finished(out) and not force:
        raise UserError(f"{out}: already holds a finished run; pass --force to replace it")
    if out.exists() and not out.is_dir():
        raise UserError(f"{out}: exists and is not a directory; choose another --out")
    if out.exists() and any(out.iterdir()) and not results.is_finished(out):
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


def _prepare_work_dir(work: Path, config: RunConfig, force: bool) -> Path:
    wanted = json.loads(json.dumps(config.to_dict()))
    config_file = work / "config.json"
    if config_file.exists():
        if json.loads(config_file.read_text()) == wanted:
            print(f"resuming the interrupted run in {work}", file=sys.stderr)
        elif force:
            shutil.rmtree(work)
        else:
            raise UserError(
                f"{work}: an interrupted run with other settings; rerun it with its settings, or pass --force to discard it"
            )
    checkpoints = work / "checkpoints"
    checkpoints.mkdir(parents=True, exist_ok=True)
    results.write_json(config_file, wanted)
    return checkpoints


def _split(dataset: data.Dataset, config: RunConfig) -> dict:
    kept, validation = splits.stratified_split(dataset.y_train, config.validation_size, config.seed)
    train = kept[splits.stratified_subset(dataset.y_train[kept], config.train_subset, config.seed)]
    if config.train_fraction < 1:
        # At least one image per class, so 1% of a small subset still covers every class.
        size = max(10, round(config.train_fraction * len(train)))
        train = train[splits.stratified_subset(dataset.y_train[train], size, config.seed)]
    test = splits.stratified_subset(dataset.y_test, config.test_subset, config.seed)
    train_sample = train[splits.stratified_subset(dataset.y_train[train], len(validation), config.seed)]
    return {
        "x_train_sample": dataset.x_train[train_sample],
        "y_train_sample": dataset.y_train[train_sample],
        "x_train": dataset.x_train[train],
        "y_train": dataset.y_train[train],
        "x_val": dataset.x_train[validation],
        "y_val": dataset.y_train[validation],
        "x_test": dataset.x_test[test],
        "y_test": dataset.y_test[test],
        "test_indices": test,
    }


def _fit(model, config: RunConfig, split: dict, checkpoints: Path) -> ResumableEarlyStopping:
    early_stopping = ResumableEarlyStopping(checkpoints, config.early_stopping_patience)
    callbacks = [
        EpochTimer(),
        keras.callbacks.LearningRateScheduler(lambda epoch, rate: learning_rate_for_epoch(config, epoch)),
        early_stopping,
        keras.callbacks.CSVLogger(str(checkpoints / "history_log.csv"), append=True),
        keras.callbacks.BackupAndRestore(str(checkpoints / "backup")),
        # <run>.incomplete/tensorboard/: moves with the run when it finishes.
        *monitoring.callbacks(checkpoints.parent),
    ]
    model.fit(
        split["x_train"],
        split["y_train"],
        validation_data=(split["x_val"], split["y_val"]),
        batch_size=config.batch_size,
        epochs=config.epochs,
        shuffle=True,
        callbacks=callbacks,
        # A live progress bar on a terminal; one line per epoch in logs (CI, make, redirected output).
        verbose=1 if sys.stdout.isatty() else 2,
    )
    return early_stopping


def _history(log: Path) -> list[dict]:
    """The epochs logged, each once (an epoch repeated after a restart keeps its last row)."""
    by_epoch = {}
    for row in results.read_history_log(log):
        by_epoch[int(row["epoch"])] = row
    rows = []
    for epoch in sorted(by_epoch):
        row = by_epoch[epoch]
        values = {key: float(value) for key, value in row.items() if key != "epoch"}
        # The optimiser holds the rate in float32 (0.009999999776); six digits say what was set.
        values["learning_rate"] = float(f"{values['learning_rate']:.6g}")
        rows.append({**values, "epoch": epoch + 1})
    return rows


def _evaluate(model, split: dict, history: list[dict], early_stopping_state: dict, config: RunConfig) -> dict:
    """Train sample, validation and test, once each, with the weights chosen on validation."""
    train_probabilities = model.predict(split["x_train_sample"], batch_size=EVALUATION_BATCH, verbose=0)
    val_probabilities = model.predict(split["x_val"], batch_size=EVALUATION_BATCH, verbose=0)
    test_probabilities = model.predict(split["x_test"], batch_size=EVALUATION_BATCH, verbose=0)
    split["test_probabilities"] = test_probabilities.astype(np.float32)
    best_epoch = early_stopping_state["best_epoch"]
    best_row = next(row for row in history if row["epoch"] == best_epoch)
    train_seconds = sum(row.get("train_seconds", row["seconds"]) for row in history)
    return {
        "schema_version": results.SCHEMA_VERSION,
        # Training figures come from the chosen weights in inference mode (no dropout, BatchNorm
        # statistics frozen) on a stratified sample as large as the validation split, so the
        # train-validation gap measures overfitting and nothing else. Keras' running averages
        # (history.csv) mix dropout and weights that change within the epoch.
        "train_accuracy": stats.accuracy(split["y_train_sample"], train_probabilities.argmax(axis=1)),
        "train_loss": stats.cross_entropy(train_probabilities, split["y_train_sample"]),
        "train_evaluated_images": int(len(split["y_train_sample"])),
        "best_epoch_running_train_accuracy": best_row["accuracy"],
        "val_accuracy": stats.accuracy(split["y_val"], val_probabilities.argmax(axis=1)),
        "val_loss": stats.cross_entropy(val_probabilities, split["y_val"]),
        "test_accuracy": stats.accuracy(split["y_test"], test_probabilities.argmax(axis=1)),
        "test_loss": stats.cross_entropy(test_probabilities, split["y_test"]),
        "best_epoch": best_epoch,
        "epochs_run": len(history),
        "stopped_early": bool(early_stopping_state["stopped_epoch"]),
        "train_seconds": round(train_seconds, 2),
        "train_images_per_second": round(len(split["y_train"]) * len(history) / train_seconds, 1),
        "train_images": int(len(split["y_train"])),
        "validation_images": int(len(split["y_val"])),
        "test_images": int(len(split["y_test"])),
    }


def _write_results(work, config, dataset, split, model, history, metrics, started) -> None:
    results.write_json(work / "summary.json", models.summary(model))
    results.write_history(work / "history.csv", history)
    results.write_json(work / "metrics.json", metrics)
    np.savez_compressed(
        work / "predictions.npz",
        labels=split["y_test"].astype(np.int64),
        probabilities=split["test_probabilities"],
        indices=split["test_indices"].astype(np.int64),
    )
    picks = splits.first_per_class(split["y_train"], SAMPLES_PER_CLASS)
    np.savez_compressed(work / "samples.npz", images=split["x_train"][picks], labels=split["y_train"][picks])
    # The test images of the most confident mistakes, so the report can show them without the
    # data set (the site build reads only results).
    mistakes = stats.most_confident_mistakes(split["test_probabilities"], split["y_test"], GALLERY_SIZE)
    np.savez_compressed(
        work / "gallery.npz",
        images=split["x_test"][mistakes],
        indices=split["test_indices"][mistakes].astype(np.int64),
        labels=split["y_test"][mistakes].astype(np.int64),
        predicted=split["test_probabilities"][mistakes].argmax(axis=1).astype(np.int64),
        confidence=split["test_probabilities"][mistakes].max(axis=1),
    )
    counts = {
        "train": splits.class_counts(split["y_train"]),
        "validation": splits.class_counts(split["y_val"]),
        "test": splits.class_counts(split["y_test"]),
    }
    positions = splits.first_per_class(split["y_test"], GRADCAM_PER_CLASS)
    maps, predicted = gradcam.heatmaps(model, gradcam.FEATURE_LAYER[config.model], split["x_test"][positions])
    np.savez_compressed(
        work / "gradcam.npz",
        images=split["x_test"][positions],
        heatmaps=maps,
        labels=split["y_test"][positions].astype(np.int64),
        predicted=predicted.astype(np.int64),
        indices=split["test_indices"][positions].astype(np.int64),
    )
    # The manifest goes last: its "complete" status is what marks the directory as finished.
    results.write_json(work / "manifest.json", provenance.manifest(dataset, counts, started))
