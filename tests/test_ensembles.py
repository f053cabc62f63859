"""The ensembles study's maths on fixtures whose answers can be checked by hand: probability
averaging, test-time augmentation, the paired gain with its interval and test, the Pareto front."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import binomtest

from cifarcmp import stats
from cifarcmp.analysis import ensembles


def _one_hot(classes, n_classes=3, confidence=1.0):
    rows = np.full((len(classes), n_classes), (1 - confidence) / (n_classes - 1))
    rows[np.arange(len(classes)), classes] = confidence
    return rows


def test_averaging_softmax_outputs_can_fix_what_every_vote_gets_wrong():
    # Image 0 (label 0): member 1 is sure of class 0, members 2 and 3 lean weakly to class 1 and
    # class 2. A majority vote finds no majority; the mean is (0.9+0.3+0.3)/3 = 0.5 for class 0.
    labels = np.array([0, 1])
    stack = np.array(
        [
            [[0.9, 0.05, 0.05], [0.2, 0.7, 0.1]],
            [[0.3, 0.4, 0.3], [0.1, 0.8, 0.1]],
            [[0.3, 0.3, 0.4], [0.6, 0.3, 0.1]],
        ]
    )
    mean = ensembles.average_probabilities(stack)
    np.testing.assert_allclose(mean[0], [0.5, 0.25, 0.25])
    np.testing.assert_allclose(mean[1], [0.3, 0.6, 0.1])
    np.testing.assert_array_equal(ensembles.ensemble_predictions(stack), labels)


def test_averaging_refuses_what_is_not_a_stack_of_probabilities():
    with pytest.raises(ValueError, match="members, images, classes"):
        ensembles.average_probabilities(np.ones((4, 3)) / 3)
    with pytest.raises(ValueError, match="summing to 1"):
        ensembles.average_probabilities(np.ones((2, 4, 3)))


def test_flip_averaging_is_the_mean_of_the_two_views_at_twice_the_cost():
    original = np.array([[0.6, 0.4], [0.2, 0.8]])
    flipped = np.array([[0.2, 0.8], [0.4, 0.6]])
    np.testing.assert_allclose(ensembles.horizontal_flip_average(original, flipped), [[0.4, 0.6], [0.3, 0.7]])
    assert ensembles.inference_cost_multiplier(members=3, views=2) == 6
    with pytest.raises(ValueError):
        ensembles.inference_cost_multiplier(0)


def test_the_paired_gain_counts_discordant_images_and_inverts_mcnemars_test():
    # 100 images, label 0. A right on the first 60, B right on the first 50 and images 60-64:
    # b = 10 only-A, c = 5 only-B, so the gain is (10 - 5) / 100 = 5 points.
    labels = np.zeros(100, dtype=int)
    a = _one_hot(np.where(np.arange(100) < 60, 0, 1))
    b = _one_hot(np.where((np.arange(100) < 50) | ((np.arange(100) >= 60) & (np.arange(100) < 65)), 0, 1))
    result = ensembles.paired_gain(labels, a, b)
    assert (result["b"], result["c"], result["images"]) == (10, 5, 100)
    assert (result["accuracy_a"], result["accuracy_b"]) == (0.60, 0.55)
    assert result["gain"] == pytest.approx(0.05)
    assert result["p_value"] == pytest.approx(binomtest(10, 15, 0.5).pvalue)
    # The interval: Clopper-Pearson for q = 10/15, mapped by (2q - 1) * 15 / 100.
    q_lower, q_upper = stats.binomial_interval(10, 15)
    assert (result["lower"], result["upper"]) == pytest.approx(((2 * q_lower - 1) * 0.15, (2 * q_upper - 1) * 0.15))
    assert result["lower"] < 0 < result["gain"] < result["upper"]  # 10 against 5 is not significant
    same = ensembles.paired_gain(labels, a, a)
    assert (same["gain"], same["lower"], same["upper"], same["p_value"]) == (0.0, 0.0, 0.0, 1.0)


@pytest.mark.parametrize("only_a, only_b", [(b, c) for b in range(0, 31, 3) for c in range(0, 31, 4) if b + c])
def test_the_interval_leaves_out_zero_exactly_when_the_test_is_significant(only_a, only_b):
    n = 200
    correct_a = np.zeros(n, bool)
    correct_b = np.zeros(n, bool)
    correct_a[:only_a] = True
    correct_b[only_a : only_a + only_b] = True
    labels = np.zeros(n, dtype=int)
    result = ensembles.paired_gain(labels, _one_hot(np.where(correct_a, 0, 1)), _one_hot(np.where(correct_b, 0, 1)))
    assert (result["lower"] > 0 or result["upper"] < 0) == (result["p_value"] < 0.05)


def test_the_ensemble_is_compared_with_each_of_its_members():
    # Three members on 4 images (label = class 0): each is wrong on a different image, confidently
    # enough (0.6) that the other two (0.9 each) outvote it. The ensemble gets all 4 right.
    labels = np.zeros(4, dtype=int)
    stack = np.stack([_one_hot(np.zeros(4, int), 2, 0.9) for _ in range(3)])
    for member, image in enumerate((0, 1, 2)):
        stack[member, image] = [0.4, 0.6]
    result = ensembles.ensemble_gain(labels, stack)
    assert result["members"] == 3 and result["inference_cost"] == 3
    assert result["accuracy"] == 1.0 and result["single_accuracies"] == [0.75, 0.75, 0.75]
    assert result["gain_over_mean"] == pytest.approx(0.25)
    assert result["single_spread"]["std"] == 0.0
    assert [(pair["b"], pair["c"]) for pair in result["paired"]] == [(1, 0)] * 3
    with pytest.raises(ValueError, match="at least two runs"):
        ensembles.ensemble_gain(labels, stack[:1])


def test_the_pareto_front_keeps_the_points_nothing_beats():
    # cost, accuracy: A (1, 0.70), B (2, 0.80), C (3, 0.75) beaten by B, D (4, 0.90), E (4, 0.85)
    # beaten by D, F (0.5, 0.60), G (2, 0.80) equal to B: both stay.
    costs = [1, 2, 3, 4, 4, 0.5, 2]
    accuracies = [0.70, 0.80, 0.75, 0.90, 0.85, 0.60, 0.80]
    assert ensembles.pareto_front(costs, accuracies) == [5, 0, 1, 6, 3]
    assert ensembles.pareto_front([3.0], [0.5]) == [0]
    with pytest.raises(ValueError):
        ensembles.pareto_front([1, np.nan], [0.5, 0.6])
    with pytest.raises(ValueError):
        ensembles.pareto_front([1, 2], [0.5])
