"""Every measurement that more than one page shows, defined once, with the names readers see.

The Discussion, Claims, Comparison, Studies and Test-set evidence pages all call these, so no two
pages can disagree about a run's convergence epoch, a paired test, an accuracy interval or the
accuracy bought per unit of compute. Pure: numbers and `results.Run` objects in, numbers out.
"""

from __future__ import annotations

import numpy as np

from cifarcmp import stats
from cifarcmp.analysis import evaluation
from cifarcmp.architectures import ARCHITECTURES
from cifarcmp.results import Run

# What the report calls each model and study arm, and the colour it has in every figure: the
# models' from their entries in cifarcmp/architectures.py, the study arms' here.
LABELS = {
    **{name: entry.label for name, entry in ARCHITECTURES.items()},
    "resnet50-frozen": "ResNet50 (frozen features)",
    "resnet50-random": "ResNet50 (random init)",
}
# The main comparison has only the seed's two models, so their short names read better there.
SHORT_LABELS = {name: entry.short_label for name, entry in ARCHITECTURES.items()}
COLOURS = {
    **{name: entry.colour for name, entry in ARCHITECTURES.items()},
    "resnet50-frozen": "tab:green",
    "resnet50-random": "tab:purple",
}

SIGNIFICANCE_LEVEL = 0.05  # the conventional 5 %, named in every verdict
# Converged: the first epoch whose validation accuracy is within 1 percentage point of the run's
# best. An absolute band means the same thing for a model at 30 % and one at 95 %; a relative one
# (95 % of the best) would allow a 1.5 pp shortfall for the first and 4.75 pp for the second.
CONVERGENCE_BAND = 0.01
CONVERGENCE_BAND_TEXT = f"{CONVERGENCE_BAND * 100:g} pp"  # how the pages name the band


def label(name: str, short: bool = False) -> str:
    """A model's or arm's name as the report prints it."""
    return (SHORT_LABELS if short else LABELS).get(name, name)


def colour(name: str) -> str:
    return COLOURS.get(name, "tab:grey")


def converged_epoch(history: list[dict], band: float = CONVERGENCE_BAND) -> int:
    """First epoch whose validation accuracy is within `band` (a fraction) of the run's best."""
    best = max(row["val_accuracy"] for row in history)
    return next(row["epoch"] for row in history if row["val_accuracy"] >= best - band)


def seconds_to_epoch(history: list[dict], epoch: int) -> float:
    """Wall seconds of epochs 1..epoch (training and validation)."""
    return sum(row["seconds"] for row in history if row["epoch"] <= epoch)


def mean_epoch_seconds(history: list[dict]) -> float:
    """Wall time per epoch, training and validation, averaged over the epochs run."""
    return sum(row["seconds"] for row in history) / len(history)


def accuracy_per_petaflop(test_accuracy: float, training_flops: float) -> float:
    """Test accuracy in percent per 10^15 counted training FLOPs: accuracy bought by compute."""
    return test_accuracy * 100 / (training_flops / 1e15)


def train_validation_gap(metrics: dict) -> float:
    """Training minus validation accuracy of the chosen weights, in percentage points."""
    return (metrics["train_accuracy"] - metrics["val_accuracy"]) * 100


# Ten balanced classes: the accuracy of guessing. An accuracy whose exact 95 % interval reaches it
# cannot be told apart from chance (at_chance), the one rule every page and claim uses.
CHANCE = 0.1


def at_chance(accuracy: float, images: int) -> bool:
    """Whether `accuracy` on `images` images cannot be told apart from guessing (or is worse)."""
    return stats.binomial_interval(round(accuracy * images), images)[0] <= CHANCE


def validation_images(run: Run) -> int:
    return int(run.metrics.get("validation_images") or sum(run.manifest["data"]["counts"]["validation"]))


def test_interval(run: Run) -> dict:
    """Test accuracy from predictions.npz with its exact 95 % (Clopper–Pearson) interval."""
    labels, probabilities, _ = evaluation.checked_predictions(run)
    correct = int(np.sum(probabilities.argmax(axis=1) == labels))
    lower, upper = stats.binomial_interval(correct, labels.size, evaluation.CONFIDENCE)
    return {
        "correct": correct,
        "images": int(labels.size),
        "value": correct / labels.size,
        "lower": lower,
        "upper": upper,
    }


def interval_text(interval: dict, digits: int = 2) -> str:
    """ "60.27 – 66.25 %": the bounds of an accuracy interval."""
    return f"{interval['lower'] * 100:.{digits}f} – {interval['upper'] * 100:.{digits}f} %"


def paired_test(run_a: Run, run_b: Run) -> dict | None:
    """McNemar's exact test between two runs on the test images both scored (None: they share none).

    Runs are paired on their shared test indices, so arms whose profiles cut the test set
    differently can still be compared on what they have in common. `b` counts images only A got
    right, `c` those only B got right; `favoured` is "a" or "b" when the difference is significant.
    """
    aligned = evaluation.aligned_predictions(run_a, run_b, same_images=False)
    if aligned is None:
        return None
    labels, probabilities_a, probabilities_b = aligned
    correct_a = probabilities_a.argmax(axis=1) == labels
    correct_b = probabilities_b.argmax(axis=1) == labels
    test = stats.mcnemar(correct_a, correct_b)
    significant = test["p_value"] < SIGNIFICANCE_LEVEL
    favoured = ("a" if test["b"] > test["c"] else "b" if test["c"] > test["b"] else None) if significant else None
    return {
        **test,
        "images": int(labels.size),
        "accuracy_a": float(correct_a.mean()),
        "accuracy_b": float(correct_b.mean()),
        "significant": significant,
        "favoured": favoured,
    }
