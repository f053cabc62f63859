"""Metrics and statistics, one definition each, for training and the report: pure functions of
arrays, no I/O. Low in the flow (training and analysis both import it); exact tests come from SciPy.

Conventions: `labels` and `predicted` are integer class indices of shape (N,); `probabilities` is
(N, n_classes) with rows summing to 1. Bad arguments raise ValueError; checking a results
directory, and turning its problems into one-line UserErrors, is `cifarcmp.evaluate`'s job.
"""

from __future__ import annotations

import operator

import numpy as np
from scipy.stats import beta, binomtest

# Keras clips probabilities to [epsilon, 1 - epsilon] before taking the log in its cross-entropy
# (keras.config.epsilon() is 1e-7), so a model that puts exactly 0 on the true class costs
# -log(1e-7) ~ 16.1 rather than infinity. Using the same constant makes our NLL comparable to the
# loss Keras reports.
KERAS_EPSILON = 1e-7


def _as_labels(labels, name: str = "labels", n_classes: int | None = None) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {labels.shape}")
    if labels.size and not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"{name} must hold integer class indices, got dtype {labels.dtype}")
    labels = labels.astype(np.int64, copy=False)
    if n_classes is not None and labels.size and (labels.min() < 0 or labels.max() >= n_classes):
        raise ValueError(f"{name} must lie in 0..{n_classes - 1}, got {labels.min()}..{labels.max()}")
    return labels


def _as_probabilities(probabilities, labels: np.ndarray) -> np.ndarray:
    probabilities = np.asarray(probabilities, dtype=np.float64)
    if probabilities.ndim != 2 or probabilities.shape[0] != labels.shape[0]:
        raise ValueError(f"probabilities must be (N, n_classes) with N = {labels.shape[0]}, got {probabilities.shape}")
    if labels.size == 0:
        raise ValueError("need at least one example")
    if labels.max() >= probabilities.shape[1] or labels.min() < 0:
        raise ValueError(f"labels must lie in 0..{probabilities.shape[1] - 1}")
    return probabilities


def _same_length(first: np.ndarray, second: np.ndarray, names: str) -> None:
    if first.shape != second.shape:
        raise ValueError(f"{names} must have the same shape, got {first.shape} and {second.shape}")
    if first.size == 0:
        raise ValueError(f"{names} are empty")


def accuracy(labels, predicted) -> float:
    """Fraction of examples whose predicted class equals the label."""
    labels, predicted = _as_labels(labels), _as_labels(predicted, "predicted")
    _same_length(labels, predicted, "labels and predicted")
    return float(np.mean(labels == predicted))


def cross_entropy(probabilities, labels) -> float:
    """Mean negative log-likelihood of the true class, in nats, clipped as Keras clips it."""
    labels = _as_labels(labels)
    probabilities = _as_probabilities(probabilities, labels)
    true_class = probabilities[np.arange(labels.size), labels]
    return float(-np.mean(np.log(np.clip(true_class, KERAS_EPSILON, 1.0 - KERAS_EPSILON))))


def confusion_matrix(labels, predicted, n_classes: int) -> np.ndarray:
    """Counts, (n_classes, n_classes): row = true class, column = predicted class (as scikit-learn)."""
    if n_classes < 1:
        raise ValueError(f"n_classes must be positive, got {n_classes}")
    labels = _as_labels(labels, n_classes=n_classes)
    predicted = _as_labels(predicted, "predicted", n_classes=n_classes)
    _same_length(labels, predicted, "labels and predicted")
    # bincount on the flattened (row, column) index counts every pair in one pass.
    flat = np.bincount(labels * n_classes + predicted, minlength=n_classes * n_classes)
    return flat.reshape(n_classes, n_classes)


def normalise_rows(matrix) -> np.ndarray:
    """Each row divided by its sum, so a confusion matrix's diagonal reads as per-class recall.

    A row that sums to zero (a class absent from the test set) stays all zeros rather than
    becoming NaN, so tables and figures still render; its support of 0 says why.
    """
    matrix = np.asarray(matrix, dtype=np.float64)
    if matrix.ndim != 2:
        raise ValueError(f"matrix must be two-dimensional, got shape {matrix.shape}")
    totals = matrix.sum(axis=1, keepdims=True)
    return np.divide(matrix, totals, out=np.zeros_like(matrix), where=totals != 0)


def _divide_or_zero(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    numerator = numerator.astype(np.float64)
    return np.divide(numerator, denominator, out=np.zeros_like(numerator), where=denominator != 0)


def precision_recall_f1(labels, predicted, n_classes: int) -> dict:
    """Per-class precision, recall, F1 and support (arrays of length n_classes).

    Where a ratio is 0/0 (a class never predicted, never present, or with precision and recall
    both 0) it is reported as 0.0, as scikit-learn does with `zero_division=0`: a class the model
    never predicts earns no credit for precision, rather than a NaN that would poison averages.
    """
    counts = confusion_matrix(labels, predicted, n_classes)
    true_positives = np.diag(counts)
    predicted_totals = counts.sum(axis=0)
    support = counts.sum(axis=1)
    precision = _divide_or_zero(true_positives, predicted_totals)
    recall = _divide_or_zero(true_positives, support)
    f1 = _divide_or_zero(2 * precision * recall, precision + recall)
    return {"precision": precision, "recall": recall, "f1": f1, "support": support}


def largest_class_differences(f1_a, f1_b, class_names, k: int) -> list[dict]:
    """The k classes where two models' F1 differ most in absolute value, largest first.

    Each entry: class, f1_a, f1_b, difference (a - b, so positive means model A is better).
    Ties keep class order, so the table is the same on every run.
    """
    f1_a, f1_b = np.asarray(f1_a, dtype=np.float64), np.asarray(f1_b, dtype=np.float64)
    class_names = list(class_names)
    if f1_a.ndim != 1 or f1_a.shape != f1_b.shape or len(class_names) != f1_a.size:
        raise ValueError(f"f1_a {f1_a.shape}, f1_b {f1_b.shape} and {len(class_names)} class names must agree")
    if not 0 <= k <= f1_a.size:
        raise ValueError(f"k must lie in 0..{f1_a.size}, got {k}")
    difference = f1_a - f1_b
    order = np.argsort(-np.abs(difference), kind="stable")[:k]
    return [
        {
            "class": class_names[index],
            "f1_a": float(f1_a[index]),
            "f1_b": float(f1_b[index]),
            "difference": float(difference[index]),
        }
        for index in order
    ]


# --- Exact binomial interval -------------------------------------------------------------------


def binomial_interval(correct: int, total: int, confidence: float = 0.95) -> tuple[float, float]:
    """Exact (Clopper-Pearson) confidence interval for a proportion such as test accuracy.

    It is conservative: it covers the true rate at least `confidence` of the time for every rate,
    which is what a reader citing the number needs, where the normal approximation undercovers
    near 0 and 1. Lower limit: beta(alpha/2; k, n-k+1) quantile, 0 when k = 0; upper limit:
    beta(1-alpha/2; k+1, n-k) quantile, 1 when k = n.
    """
    correct, total = operator.index(correct), operator.index(total)
    if total < 1 or not 0 <= correct <= total:
        raise ValueError(f"need 0 <= correct <= total and total >= 1, got {correct} of {total}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must lie strictly between 0 and 1, got {confidence}")
    # SciPy's beta quantiles to about 1e-15 relative (binomtest's proportion_ci finds the same
    # limits by root finding, to an absolute 1e-12 or so: too coarse for a rate near 0).
    tail = (1.0 - confidence) / 2.0
    lower = 0.0 if correct == 0 else float(beta.ppf(tail, correct, total - correct + 1))
    upper = 1.0 if correct == total else float(beta.ppf(1.0 - tail, correct + 1, total - correct))
    return lower, upper


# --- Paired comparison -------------------------------------------------------------------------


def mcnemar(correct_a, correct_b) -> dict:
    """Exact two-sided McNemar test of two models scored on the same test images.

    Only discordant images carry information: b = A right and B wrong, c = A wrong and B right.
    If the models are equally good, b ~ Binomial(b + c, 1/2), and the p-value is
    min(1, 2 P(X <= min(b, c))). We use the exact binomial rather than the chi-squared
    approximation because strong models can disagree on few images. With no discordant images
    the p-value is 1. Returns {"b", "c", "p_value"}.
    """
    correct_a, correct_b = np.asarray(correct_a), np.asarray(correct_b)
    if correct_a.dtype != bool or correct_b.dtype != bool or correct_a.ndim != 1:
        raise ValueError("correct_a and correct_b must be one-dimensional boolean arrays")
    _same_length(correct_a, correct_b, "correct_a and correct_b")
    b = int(np.sum(correct_a & ~correct_b))
    c = int(np.sum(~correct_a & correct_b))
    # The exact two-sided binomial test of b out of b + c at 1/2 (SciPy doubles the smaller tail,
    # capped at 1, since the distribution is symmetric).
    p_value = 1.0 if b + c == 0 else float(binomtest(b, b + c, 0.5).pvalue)
    return {"b": b, "c": c, "p_value": p_value}


# --- Calibration -------------------------------------------------------------------------------


def reliability_bins(probabilities, labels, bins: int = 15) -> dict:
    """Per-bin mean confidence, accuracy and count, for a reliability diagram.

    Confidence is the largest predicted probability. Bins are equal-width on [0, 1] and closed on
    the right, (lower, upper], as in Guo et al. (2017), with confidence 0 put in the first bin.
    Empty bins have NaN confidence and accuracy (there is nothing to plot) and count 0.
    Returns arrays: lower, upper, confidence, accuracy, count.
    """
    if operator.index(bins) < 1:
        raise ValueError(f"bins must be positive, got {bins}")
    labels = _as_labels(labels)
    probabilities = _as_probabilities(probabilities, labels)
    confidence = probabilities.max(axis=1)
    right = probabilities.argmax(axis=1) == labels
    edges = np.linspace(0.0, 1.0, bins + 1)
    # side="left" puts a confidence equal to an edge in the bin that edge closes.
    which = np.clip(np.searchsorted(edges, confidence, side="left") - 1, 0, bins - 1)
    count = np.bincount(which, minlength=bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_confidence = np.bincount(which, weights=confidence, minlength=bins) / count
        mean_accuracy = np.bincount(which, weights=right.astype(np.float64), minlength=bins) / count
    return {
        "lower": edges[:-1],
        "upper": edges[1:],
        "confidence": mean_confidence,
        "accuracy": mean_accuracy,
        "count": count,
    }


def expected_calibration_error(probabilities, labels, bins: int = 15) -> float:
    """ECE: |accuracy - confidence| per equal-width confidence bin, weighted by the bin's share.

    15 bins is the choice of Guo et al. (2017), "On calibration of modern neural networks", which
    most later papers copy, so our numbers are comparable with theirs.
    """
    table = reliability_bins(probabilities, labels, bins)
    filled = table["count"] > 0
    weights = table["count"][filled] / table["count"].sum()
    gaps = np.abs(table["accuracy"][filled] - table["confidence"][filled])
    return float(np.sum(weights * gaps))


# --- Seeds -------------------------------------------------------------------------------------


def seed_spread(values) -> dict:
    """n, mean, sample standard deviation (ddof=1), min and max of one figure over seeds.

    std is None for a single run: one value says nothing about the spread, and 0 would claim
    the result is perfectly repeatable.
    """
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 1 or values.size == 0:
        raise ValueError(f"values must be a non-empty one-dimensional sequence, got shape {values.shape}")
    return {
        "n": int(values.size),
        "mean": float(values.mean()),
        "std": float(values.std(ddof=1)) if values.size > 1 else None,
        "min": float(values.min()),
        "max": float(values.max()),
    }


def format_spread(values, percent: bool = True, decimals: int | None = None) -> str:
    """ "95.1 ± 0.2 % (mean ± std, n = 3)", or "95.1 % (single run)" for one value.

    With `percent`, values are fractions and are shown times 100 with one decimal; otherwise
    they are shown as they are with three decimals (losses, ECE). `decimals` overrides either.
    """
    spread = seed_spread(values)
    scale, unit = (100.0, " %") if percent else (1.0, "")
    decimals = (1 if percent else 3) if decimals is None else decimals
    mean = f"{spread['mean'] * scale:.{decimals}f}"
    if spread["std"] is None:
        return f"{mean}{unit} (single run)"
    return f"{mean} ± {spread['std'] * scale:.{decimals}f}{unit} (mean ± std, n = {spread['n']})"


# --- Mistakes ----------------------------------------------------------------------------------


def most_confident_mistakes(probabilities, labels, k: int) -> np.ndarray:
    """Positions of up to k misclassified examples, most confident (largest top probability) first.

    Positions index the arrays given, not the test split; map them through predictions' indices
    for that. Ties keep array order so the gallery is the same on every run.
    """
    if operator.index(k) < 0:
        raise ValueError(f"k must be non-negative, got {k}")
    labels = _as_labels(labels)
    probabilities = _as_probabilities(probabilities, labels)
    wrong = np.flatnonzero(probabilities.argmax(axis=1) != labels)
    confidence = probabilities[wrong].max(axis=1)
    return wrong[np.argsort(-confidence, kind="stable")[:k]]
