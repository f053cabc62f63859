"""Ensembles of finished runs, test-time augmentation, and the accuracy-compute Pareto front: the
maths of the ensembles study and of the Improvements figure. Pure numpy on arrays; the tests and
intervals are cifarcmp.stats' (McNemar's exact test, the exact binomial interval), not new ones.

Conventions as in cifarcmp.stats: `labels` are integer classes (N,), a probability array is
(N, classes) with rows summing to 1, and a stack of them is (members, N, classes), every member
scored on the same test images in the same order. Bad arguments raise ValueError.
"""

from __future__ import annotations

import numpy as np

from cifarcmp import stats

CONFIDENCE = 0.95


def average_probabilities(stack) -> np.ndarray:
    """The mean of several softmax outputs for the same images: a seed ensemble (one member per
    trained run) or test-time augmentation (one member per view). Averaging probabilities, not
    votes, keeps the ensemble's confidence, so its calibration can be measured as a run's is."""
    stack = np.asarray(stack, dtype=np.float64)
    if stack.ndim != 3 or stack.shape[0] < 1 or stack.shape[1] < 1:
        raise ValueError(f"need a (members, images, classes) stack of probabilities, got shape {stack.shape}")
    if not np.all(np.isfinite(stack)) or stack.min() < 0 or not np.allclose(stack.sum(axis=2), 1.0, atol=1e-3):
        raise ValueError("each member's rows must be probabilities (non-negative, summing to 1)")
    return stack.mean(axis=0)


def ensemble_predictions(stack) -> np.ndarray:
    """The class each image gets from the averaged probabilities (ties: the lowest class, as argmax)."""
    return average_probabilities(stack).argmax(axis=1)


def horizontal_flip_average(original, flipped) -> np.ndarray:
    """Test-time augmentation with a horizontal flip: the mean of the model's probabilities on the
    images and on their mirror images (flipped along the width, images[:, :, ::-1] for NHWC, by
    whoever runs the model). It costs two forward passes per image."""
    return average_probabilities([original, flipped])


def inference_cost_multiplier(members: int, views: int = 1) -> int:
    """Forward passes per image, relative to one run on the plain image: members x views."""
    if members < 1 or views < 1:
        raise ValueError(f"members and views must be positive, got {members} and {views}")
    return members * views


def paired_gain(labels, probabilities_a, probabilities_b, confidence: float = CONFIDENCE) -> dict:
    """How much more accurate A is than B on the same test images, with an interval and the test.

    The test is McNemar's exact test (cifarcmp.stats.mcnemar) on the discordant images: b that only
    A gets right, c that only B gets right. The interval is the one that test inverts: given the
    b + c discordant images, b ~ Binomial(b + c, q), and the gain is (b - c) / N = (2q - 1)(b + c) / N;
    the exact (Clopper-Pearson) interval for q (cifarcmp.stats.binomial_interval) maps onto it. So
    the interval leaves out 0 exactly when the two-sided test is significant at 1 - confidence (the
    equal-tailed exact interval and the doubled-tail exact test agree). With no discordant image
    the two are equally accurate on these images: gain and interval are 0.
    """
    labels = np.asarray(labels)
    probabilities_a, probabilities_b = np.asarray(probabilities_a), np.asarray(probabilities_b)
    if probabilities_a.shape != probabilities_b.shape or probabilities_a.ndim != 2:
        raise ValueError(f"A and B must score the same images: shapes {probabilities_a.shape}, {probabilities_b.shape}")
    correct_a = probabilities_a.argmax(axis=1) == labels
    correct_b = probabilities_b.argmax(axis=1) == labels
    test = stats.mcnemar(correct_a, correct_b)
    images, discordant = int(labels.size), test["b"] + test["c"]
    if discordant:
        q_lower, q_upper = stats.binomial_interval(test["b"], discordant, confidence)
        lower, upper = ((2 * q - 1) * discordant / images for q in (q_lower, q_upper))
    else:
        lower = upper = 0.0
    return {
        "images": images,
        "accuracy_a": stats.accuracy(labels, probabilities_a.argmax(axis=1)),
        "accuracy_b": stats.accuracy(labels, probabilities_b.argmax(axis=1)),
        "gain": (test["b"] - test["c"]) / images,
        "lower": float(lower),
        "upper": float(upper),
        **test,
    }


def ensemble_gain(labels, stack, confidence: float = CONFIDENCE) -> dict:
    """The seed ensemble against its own members, each scored on the same test images.

    Returns the ensemble's accuracy, the members' accuracies with their spread over seeds
    (cifarcmp.stats.seed_spread), the gain over the members' mean accuracy, one paired comparison
    per member (`paired_gain`, ensemble as A), and the inference cost multiplier. One run is no
    ensemble: at least two members.
    """
    stack = np.asarray(stack, dtype=np.float64)
    if stack.ndim != 3 or stack.shape[0] < 2:
        raise ValueError(f"an ensemble needs at least two runs, got {stack.shape[0] if stack.ndim == 3 else 0}")
    labels = np.asarray(labels)
    ensemble = average_probabilities(stack)
    members = [paired_gain(labels, ensemble, member, confidence) for member in stack]
    singles = [member["accuracy_b"] for member in members]
    accuracy = stats.accuracy(labels, ensemble.argmax(axis=1))
    return {
        "members": int(stack.shape[0]),
        "accuracy": accuracy,
        "single_accuracies": singles,
        "single_spread": stats.seed_spread(singles),
        "gain_over_mean": accuracy - float(np.mean(singles)),
        "paired": members,
        "inference_cost": inference_cost_multiplier(int(stack.shape[0])),
    }


def pareto_front(costs, accuracies) -> list[int]:
    """Positions of the points no other point beats: none is at most as costly and at least as
    accurate, and strictly better in one. In order of increasing cost (then accuracy), which is
    the order to draw the front in; equal points are all on it."""
    costs, accuracies = np.asarray(costs, dtype=np.float64), np.asarray(accuracies, dtype=np.float64)
    if costs.ndim != 1 or costs.shape != accuracies.shape or costs.size == 0:
        raise ValueError(f"need as many costs as accuracies, one each: shapes {costs.shape}, {accuracies.shape}")
    if not (np.all(np.isfinite(costs)) and np.all(np.isfinite(accuracies))):
        raise ValueError("costs and accuracies must be finite numbers")
    front = []
    for index in range(costs.size):
        no_worse = (costs <= costs[index]) & (accuracies >= accuracies[index])
        better = (costs < costs[index]) | (accuracies > accuracies[index])
        if not np.any(no_worse & better):
            front.append(index)
    return sorted(front, key=lambda index: (costs[index], accuracies[index]))
