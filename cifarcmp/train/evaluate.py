"""A trained model's evaluation, as a step of its own: the figures of one pass over a run's splits,
the model a run keeps, and its test set predicted again from that model.

Training ends with `metrics` (train sample, validation and test, once each, with the weights chosen
on validation) and `keep_model` (the weights, hashed into the manifest). `predict_again` rebuilds a
finished run's network from its config.json, loads the kept weights after checking their hash,
and predicts its test subset again: what `cifarcmp evaluate --predict` runs, and what ensembles,
test-time augmentation or a distillation teacher start from, with no retraining.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import keras
import numpy as np

from cifarcmp import results, stats
from cifarcmp.config import RunConfig
from cifarcmp.data import source as data
from cifarcmp.data import splits
from cifarcmp.errors import UserError
from cifarcmp.results import MODEL_FILE, Run
from cifarcmp.train import models

EVALUATION_BATCH = 256


def predict(model: keras.Model, images: np.ndarray) -> np.ndarray:
    """Softmax outputs for `images` (test-time augmentation predicts `mirrored(images)` too, and
    averages the two where it is measured: analysis/ensembles.py)."""
    return model.predict(images, batch_size=EVALUATION_BATCH, verbose=0).astype(np.float32)


def mirrored(images: np.ndarray) -> np.ndarray:
    """The images flipped left to right (N x H x W x C: the width axis), the one test-time
    augmentation the report uses: a CIFAR-10 object mirrored is the same class."""
    return images[:, :, ::-1]


def metrics(model, split: dict, history: list[dict], early_stopping_state: dict) -> dict:
    """Train sample, validation and test, once each, with the weights chosen on validation."""
    train_probabilities = predict(model, split["x_train_sample"])
    val_probabilities = predict(model, split["x_val"])
    test_probabilities = predict(model, split["x_test"])
    split["test_probabilities"] = test_probabilities.astype(np.float32)
    # Stored beside the plain ones (predictions.npz), so test-time augmentation needs no retraining;
    # no figure below uses them: every run is reported on the plain test images.
    split["test_flipped_probabilities"] = predict(model, mirrored(split["x_test"]))
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


def keep_model(model: keras.Model, work: Path) -> dict:
    """Save the trained weights into the run's folder; what the manifest records of them."""
    path = work / MODEL_FILE
    model.save_weights(path)
    return {
        "file": MODEL_FILE,
        "sha256": data.file_sha256(path),
        "bytes": path.stat().st_size,
        "keras": keras.__version__,
    }


def kept_model(run: Run) -> keras.Model:
    """The run's network with the weights it kept, checked against the manifest's hash; UserError otherwise."""
    kept = run.manifest.get("model")
    path = run.path / MODEL_FILE
    if not isinstance(kept, dict) or not path.is_file():
        raise UserError(
            f"{run.path}: keeps no trained model (trained before runs kept theirs); retrain it to predict again"
        )
    results.check_plain_file(path)
    if data.file_sha256(path) != kept.get("sha256"):
        raise UserError(f"{path}: its sha256 is not the one the manifest recorded; the kept model was changed")
    # Built without ImageNet weights (the kept weights replace every one of them): nothing to download.
    model = models.build(dataclasses.replace(RunConfig.from_dict(run.config), weights="none"))
    try:
        model.load_weights(path)
    except (ValueError, OSError) as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise UserError(f"{path}: does not fit this run's network ({first_line[:200]})") from None
    return model


def predict_again(run: Run, flip: bool = False) -> dict:
    """The run's test subset predicted again by its kept model, as predictions.npz holds it; with
    `flip`, also the mirrored test images' probabilities (`results.FLIPPED`)."""
    model = kept_model(run)
    config = RunConfig.from_dict(run.config)
    dataset = data.load(config.data)
    recorded = run.manifest["data"].get("sha256")
    if recorded and dataset.sha256 != recorded:
        raise UserError(f"--data {config.data}: not the data this run was trained on (its sha256 differs)")
    split = splits.run_split(dataset, config)
    probabilities = predict(model, split["x_test"])
    print(
        f"{run.path}: test accuracy {stats.accuracy(split['y_test'], probabilities.argmax(axis=1)):.2%} predicted again"
        + f" (at training: {run.metrics['test_accuracy']:.2%})",
        file=sys.stderr,
    )
    again = {
        "labels": split["y_test"].astype(np.int64),
        "probabilities": probabilities,
        "indices": split["test_indices"].astype(np.int64),
    }
    if flip:
        again[results.FLIPPED] = predict(model, mirrored(split["x_test"]))
        averaged = (probabilities + again[results.FLIPPED]).argmax(axis=1)
        print(
            f"{run.path}: test accuracy {stats.accuracy(split['y_test'], averaged):.2%} "
            "with the mirrored images' outputs averaged in (test-time augmentation)",
            file=sys.stderr,
        )
    return again
