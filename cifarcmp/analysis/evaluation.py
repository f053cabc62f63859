"""One run's behaviour on the test set, computed from its `predictions.npz`, and two runs aligned.

`evaluation(run)` checks that the predictions fit the run and computes every figure of
`cifarcmp.stats` (interval, confusion, per-class scores, calibration, confident mistakes);
`results.write_evaluation` stores it beside the run. Nothing here retrains or reads a model:
everything the report says about a model's test behaviour comes from the saved predictions.
"""

from __future__ import annotations

import numpy as np

from cifarcmp import stats
from cifarcmp.errors import UserError
from cifarcmp.results import Run

N_CLASSES = 10
CONFIDENCE = 0.95  # of the accuracy interval
CALIBRATION_BINS = 15  # Guo et al. (2017); see stats.expected_calibration_error
MISTAKES_SHOWN = 16  # a 4 x 4 gallery
DIFFERENCES_SHOWN = 3  # classes where two models' F1 differ most
# Softmax outputs are float32: rows sum to 1 only up to rounding, about 1e-6 for ten classes.
# 1e-3 accepts any honest softmax and still rejects logits or a lost normalisation.
ROW_SUM_TOLERANCE = 1e-3
INTERVAL_METHOD = "exact binomial (Clopper-Pearson)"
MCNEMAR_METHOD = "exact McNemar (binomial test on discordant images), two-sided"


def class_names(run: Run) -> list[str]:
    """The run's class names from its manifest, else neutral "class 0".."class 9".

    We never fall back to the CIFAR-10 names: a synthetic run must not read as CIFAR-10.
    """
    names = run.manifest.get("data", {}).get("class_names")
    if isinstance(names, list) and len(names) == N_CLASSES:
        return [str(name) for name in names]
    return [f"class {index}" for index in range(N_CLASSES)]


def checked_predictions(run: Run) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """labels, probabilities, indices of a run, or a one-line UserError naming the problem."""
    where = run.path / "predictions.npz"
    labels = run.predictions["labels"]
    probabilities = run.predictions["probabilities"]
    indices = run.predictions["indices"]
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise UserError(f"{where}: labels must be integers of shape (N,), got {labels.dtype} {labels.shape}")
    count = labels.shape[0]
    if count == 0:
        raise UserError(f"{where}: holds no test images")
    if probabilities.shape != (count, N_CLASSES):
        raise UserError(f"{where}: probabilities have shape {probabilities.shape}, expected ({count}, {N_CLASSES})")
    if labels.min() < 0 or labels.max() >= N_CLASSES:
        raise UserError(f"{where}: labels range over {labels.min()}..{labels.max()}, not 0..{N_CLASSES - 1}")
    if not np.all(np.isfinite(probabilities)) or probabilities.min() < 0:
        raise UserError(f"{where}: probabilities contain negative, NaN or infinite values")
    row_sums = probabilities.sum(axis=1, dtype=np.float64)
    worst = int(np.argmax(np.abs(row_sums - 1.0)))
    if abs(row_sums[worst] - 1.0) > ROW_SUM_TOLERANCE:
        raise UserError(
            f"{where}: probability row {worst} sums to {row_sums[worst]:.6g}, not 1 (softmax outputs expected)"
        )
    if indices.shape != (count,) or not np.issubdtype(indices.dtype, np.integer):
        raise UserError(f"{where}: indices must be integers of shape ({count},), got {indices.dtype} {indices.shape}")
    if indices.min() < 0 or np.unique(indices).size != count:
        raise UserError(f"{where}: indices must be distinct non-negative positions in the test split")
    expected = run.metrics.get("test_images")
    if expected is None:
        raise UserError(f"{run.path / 'metrics.json'}: has no 'test_images'; rerun training for it")
    if count != expected:
        raise UserError(
            f"{where}: holds {count} test images but {run.path / 'metrics.json'} says test_images = {expected}"
        )
    return labels.astype(np.int64), probabilities.astype(np.float64), indices.astype(np.int64)


def _json_number(value):
    """NaN (an empty reliability bin) becomes null: JSON has no NaN, and null reads as 'no data'."""
    value = float(value)
    return None if np.isnan(value) else value


def evaluation(run: Run) -> dict:
    """Every figure of the report for one run, as a JSON-ready dict (no disk access)."""
    labels, probabilities, indices = checked_predictions(run)
    names = class_names(run)
    predicted = probabilities.argmax(axis=1)
    correct = int(np.sum(predicted == labels))
    lower, upper = stats.binomial_interval(correct, labels.size, CONFIDENCE)
    counts = stats.confusion_matrix(labels, predicted, N_CLASSES)
    per_class = stats.precision_recall_f1(labels, predicted, N_CLASSES)
    bins = stats.reliability_bins(probabilities, labels, CALIBRATION_BINS)
    mistakes = stats.most_confident_mistakes(probabilities, labels, MISTAKES_SHOWN)
    return {
        "run": str(run.path),
        # .get: provenance a reader wants, but a missing field should not stop the evaluation.
        "model": run.config.get("model"),
        "seed": run.config.get("seed"),
        "profile": run.config.get("profile"),
        "synthetic": run.manifest.get("data", {}).get("synthetic"),
        "computed_from": "predictions.npz",
        "test_images": int(labels.size),
        "class_names": names,
        "accuracy": {
            "value": correct / labels.size,
            "correct": correct,
            "total": int(labels.size),
            "interval": {"lower": lower, "upper": upper, "confidence": CONFIDENCE, "method": INTERVAL_METHOD},
        },
        "negative_log_likelihood": stats.cross_entropy(probabilities, labels),
        "expected_calibration_error": {
            "value": stats.expected_calibration_error(probabilities, labels, CALIBRATION_BINS),
            "bins": CALIBRATION_BINS,
            "binning": "equal-width confidence bins, weighted |accuracy - confidence|",
        },
        "reliability": [
            {
                "lower": float(bins["lower"][index]),
                "upper": float(bins["upper"][index]),
                "confidence": _json_number(bins["confidence"][index]),
                "accuracy": _json_number(bins["accuracy"][index]),
                "count": int(bins["count"][index]),
            }
            for index in range(CALIBRATION_BINS)
        ],
        "confusion": {
            "rows": "true class",
            "columns": "predicted class",
            "counts": counts.tolist(),
            "row_normalised": stats.normalise_rows(counts).tolist(),
        },
        "per_class": [
            {
                "class": names[index],
                "precision": float(per_class["precision"][index]),
                "recall": float(per_class["recall"][index]),
                "f1": float(per_class["f1"][index]),
                "support": int(per_class["support"][index]),
            }
            for index in range(N_CLASSES)
        ],
        "confident_mistakes": [
            {
                "test_index": int(indices[position]),  # into the test split, for the image gallery
                "true": names[labels[position]],
                "predicted": names[predicted[position]],
                "confidence": float(probabilities[position].max()),
            }
            for position in mistakes
        ],
    }


def aligned_predictions(first: Run, second: Run, same_images: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Labels and both runs' probabilities on the test images both scored, in test-index order.

    The runs may list the images in different orders; we align them by test index. With
    `same_images`, the two must have scored exactly the same images. Different labels for the same
    image mean different test data. None when the two share no image (only without `same_images`).
    """
    labels_a, probabilities_a, indices_a = checked_predictions(first)
    labels_b, probabilities_b, indices_b = checked_predictions(second)
    shared, where_a, where_b = np.intersect1d(indices_a, indices_b, return_indices=True)
    if same_images and not shared.size == indices_a.size == indices_b.size:
        raise UserError(
            f"{second.path / 'predictions.npz'}: covers different test images from "
            f"{first.path / 'predictions.npz'}; a paired comparison needs the same ones"
        )
    if shared.size == 0:
        return None
    if not np.array_equal(labels_a[where_a], labels_b[where_b]):
        raise UserError(
            f"{second.path / 'predictions.npz'}: labels differ from {first.path / 'predictions.npz'} "
            "for the same test images (different data sets?)"
        )
    return labels_a[where_a], probabilities_a[where_a], probabilities_b[where_b]


def prediction_agreement(stored: dict, again: dict) -> str:
    """How a run's predictions made again from its kept model compare with those it stored."""
    if not np.array_equal(stored["indices"], again["indices"]) or not np.array_equal(stored["labels"], again["labels"]):
        return "predicted again on other test images than the stored predictions (not the run's data)"
    changed = int(np.sum(stored["probabilities"].argmax(axis=1) != again["probabilities"].argmax(axis=1)))
    largest = float(np.max(np.abs(stored["probabilities"] - again["probabilities"])))
    return (
        f"the kept model predicts {changed:,} of {len(stored['labels']):,} test images differently from the stored "
        f"predictions (largest probability difference {largest:.1e})"
    )
