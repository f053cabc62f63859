"""cifarcmp.stats against values worked out by hand and against SciPy / scikit-learn (tests only)."""

import math

import numpy as np
import pytest
from scipy import stats as scipy_stats
from sklearn import metrics as sklearn_metrics

from cifarcmp import stats


def one_hot_probabilities(predicted, n_classes=10, confidence=1.0):
    """Rows putting `confidence` on the predicted class and the rest spread evenly."""
    predicted = np.asarray(predicted)
    rest = (1.0 - confidence) / (n_classes - 1)
    probabilities = np.full((predicted.size, n_classes), rest)
    probabilities[np.arange(predicted.size), predicted] = confidence
    return probabilities


def test_accuracy_by_hand():
    assert stats.accuracy([0, 1, 2, 3], [0, 1, 0, 0]) == 0.5


def test_accuracy_rejects_mismatched_lengths_and_float_labels():
    with pytest.raises(ValueError):
        stats.accuracy([0, 1, 2], [0, 1])
    with pytest.raises(ValueError):
        stats.accuracy([0.0, 1.0], [0, 1])


def test_cross_entropy_by_hand_and_clipped_like_keras():
    probabilities = np.array([[0.5, 0.5], [0.25, 0.75]])
    assert stats.cross_entropy(probabilities, [0, 1]) == pytest.approx(-(math.log(0.5) + math.log(0.75)) / 2)
    # A zero probability on the true class costs -log(1e-7), not infinity.
    assert stats.cross_entropy(np.array([[1.0, 0.0]]), [1]) == pytest.approx(-math.log(1e-7))


def test_cross_entropy_matches_sklearn_log_loss():
    generator = np.random.default_rng(0)
    logits = generator.normal(size=(200, 10))
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    labels = generator.integers(0, 10, size=200)
    expected = sklearn_metrics.log_loss(labels, probabilities, labels=range(10))
    assert stats.cross_entropy(probabilities, labels) == pytest.approx(expected, rel=1e-12)


def test_confusion_matrix_known_counts():
    labels = [0, 0, 0, 1, 1, 2]
    predicted = [0, 0, 1, 1, 2, 2]
    expected = np.array([[2, 1, 0], [0, 1, 1], [0, 0, 1]])
    np.testing.assert_array_equal(stats.confusion_matrix(labels, predicted, 3), expected)
    np.testing.assert_array_equal(stats.normalise_rows(expected), [[2 / 3, 1 / 3, 0], [0, 0.5, 0.5], [0, 0, 1]])


def test_confusion_matrix_matches_sklearn_and_rejects_out_of_range():
    generator = np.random.default_rng(1)
    labels, predicted = generator.integers(0, 10, 500), generator.integers(0, 10, 500)
    np.testing.assert_array_equal(
        stats.confusion_matrix(labels, predicted, 10),
        sklearn_metrics.confusion_matrix(labels, predicted, labels=range(10)),
    )
    with pytest.raises(ValueError):
        stats.confusion_matrix([0, 10], [0, 1], 10)


def test_normalise_rows_leaves_empty_rows_zero():
    np.testing.assert_array_equal(stats.normalise_rows([[0, 0], [1, 3]]), [[0, 0], [0.25, 0.75]])


def test_precision_recall_f1_matches_sklearn_with_zero_division_zero():
    labels = np.array([0, 0, 1, 1, 2, 2, 3])
    predicted = np.array([0, 1, 1, 1, 0, 0, 3])  # class 2 never predicted; class 4 absent
    result = stats.precision_recall_f1(labels, predicted, 5)
    precision, recall, f1, support = sklearn_metrics.precision_recall_fscore_support(
        labels, predicted, labels=range(5), zero_division=0
    )
    np.testing.assert_allclose(result["precision"], precision)
    np.testing.assert_allclose(result["recall"], recall)
    np.testing.assert_allclose(result["f1"], f1)
    np.testing.assert_array_equal(result["support"], support)
    assert result["precision"][2] == 0.0 and result["f1"][4] == 0.0


def test_largest_class_differences_orders_by_absolute_difference():
    rows = stats.largest_class_differences([0.9, 0.5, 0.7], [0.8, 0.9, 0.7], ["a", "b", "c"], 2)
    assert [row["class"] for row in rows] == ["b", "a"]
    assert rows[0]["difference"] == pytest.approx(-0.4)
    with pytest.raises(ValueError):
        stats.largest_class_differences([0.1], [0.2], ["a"], 2)


@pytest.mark.parametrize("total", [1, 2, 5, 10, 37, 100, 1000, 10_000])
@pytest.mark.parametrize("confidence", [0.5, 0.95, 0.99])
def test_binomial_interval_matches_scipy(total, confidence):
    tail = (1 - confidence) / 2
    for correct in sorted({0, 1, total // 3, total // 2, total - 1, total}):
        lower, upper = stats.binomial_interval(correct, total, confidence)
        # The definition: beta quantiles (SciPy's are accurate to about 1e-15 relative).
        expected_lower = 0.0 if correct == 0 else scipy_stats.beta.ppf(tail, correct, total - correct + 1)
        expected_upper = 1.0 if correct == total else scipy_stats.beta.ppf(1 - tail, correct + 1, total - correct)
        assert lower == pytest.approx(expected_lower, rel=1e-9, abs=1e-300)
        assert upper == pytest.approx(expected_upper, rel=1e-9)
        # binomtest's interval is the same one, found by root finding to an absolute 2e-12 or so.
        interval = scipy_stats.binomtest(correct, total).proportion_ci(confidence, method="exact")
        assert (lower, upper) == pytest.approx((interval.low, interval.high), rel=1e-6, abs=1e-10)


def test_binomial_interval_edges_and_bad_arguments():
    assert stats.binomial_interval(0, 10)[0] == 0.0
    assert stats.binomial_interval(10, 10)[1] == 1.0
    # Closed forms: for k = 0 the upper limit is 1 - (alpha / 2)^(1 / n), for k = 1 the lower
    # limit is 1 - (1 - alpha / 2)^(1 / n).
    assert stats.binomial_interval(0, 10)[1] == pytest.approx(1 - 0.025 ** (1 / 10), rel=1e-12)
    assert stats.binomial_interval(1, 10_000)[0] == pytest.approx(-math.expm1(math.log1p(-0.025) / 10_000), rel=1e-9)
    for arguments in [(11, 10), (-1, 10), (0, 0), (5, 10, 1.0), (2.5, 10)]:
        with pytest.raises((ValueError, TypeError)):
            stats.binomial_interval(*arguments)


def test_binomial_interval_covers_true_rate_at_stated_frequency():
    generator = np.random.default_rng(2024)
    total, rate, draws = 100, 0.3, 2000
    successes = generator.binomial(total, rate, size=draws)
    # Each distinct count needs its interval only once.
    intervals = {k: stats.binomial_interval(int(k), total) for k in np.unique(successes)}
    covered = [intervals[k][0] <= rate <= intervals[k][1] for k in successes]
    assert np.mean(covered) >= 0.94


@pytest.mark.parametrize("b, c", [(0, 0), (3, 0), (10, 12), (40, 61), (5, 5), (300, 500), (1, 2000)])
def test_mcnemar_matches_scipy_binomtest(b, c):
    concordant = 7  # both right or both wrong: must not affect the test
    correct_a = np.array([True] * b + [False] * c + [True] * concordant + [False] * concordant)
    correct_b = np.array([False] * b + [True] * c + [True] * concordant + [False] * concordant)
    result = stats.mcnemar(correct_a, correct_b)
    assert (result["b"], result["c"]) == (b, c)
    expected = 1.0 if b + c == 0 else scipy_stats.binomtest(b, b + c, 0.5).pvalue
    assert result["p_value"] == pytest.approx(expected, rel=1e-10, abs=1e-300)


def test_mcnemar_rejects_non_boolean():
    with pytest.raises(ValueError):
        stats.mcnemar(np.array([1, 0]), np.array([0, 1]))


def test_expected_calibration_error_constructed_case():
    # Bins of width 0.25. Four examples at confidence 0.9 (bin 4), three right: |0.75 - 0.9| = 0.15.
    # Four at confidence 0.6 (bin 3), all right: |1.0 - 0.6| = 0.4. Equal weights: ECE = 0.275.
    confident = one_hot_probabilities([0, 0, 0, 0], n_classes=2, confidence=0.9)
    unsure = one_hot_probabilities([1, 1, 1, 1], n_classes=2, confidence=0.6)
    probabilities = np.vstack([confident, unsure])
    labels = [0, 0, 0, 1, 1, 1, 1, 1]
    assert stats.expected_calibration_error(probabilities, labels, bins=4) == pytest.approx(0.275)
    table = stats.reliability_bins(probabilities, labels, bins=4)
    np.testing.assert_array_equal(table["count"], [0, 0, 4, 4])
    np.testing.assert_allclose(table["confidence"][2:], [0.6, 0.9])
    np.testing.assert_allclose(table["accuracy"][2:], [1.0, 0.75])
    assert np.isnan(table["accuracy"][0])


def test_expected_calibration_error_zero_when_calibrated_and_edges_go_left():
    # Confidence exactly 0.5 with 2 bins falls in (0, 0.5]; half right: perfectly calibrated.
    probabilities = np.array([[0.5, 0.5], [0.5, 0.5]])
    table = stats.reliability_bins(probabilities, [0, 1], bins=2)
    np.testing.assert_array_equal(table["count"], [2, 0])
    assert stats.expected_calibration_error(probabilities, [0, 1], bins=2) == 0.0


def test_seed_spread_several_runs_and_single_run():
    spread = stats.seed_spread([0.95, 0.951, 0.949])
    assert spread["n"] == 3 and spread["mean"] == pytest.approx(0.95)
    assert spread["std"] == pytest.approx(np.std([0.95, 0.951, 0.949], ddof=1))
    assert (spread["min"], spread["max"]) == (0.949, 0.951)
    assert stats.seed_spread([0.9])["std"] is None
    with pytest.raises(ValueError):
        stats.seed_spread([])


def test_format_spread():
    assert stats.format_spread([0.949, 0.951, 0.953]) == "95.1 ± 0.2 % (mean ± std, n = 3)"
    assert stats.format_spread([0.951]) == "95.1 % (single run)"
    assert stats.format_spread([0.4123], percent=False) == "0.412 (single run)"


def test_most_confident_mistakes_sorted_by_confidence():
    probabilities = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7], [0.95, 0.05]])
    labels = [1, 1, 1, 0, 0]  # mistakes at 0 (0.9), 2 (0.6), 3 (0.7)
    np.testing.assert_array_equal(stats.most_confident_mistakes(probabilities, labels, 2), [0, 3])
    np.testing.assert_array_equal(stats.most_confident_mistakes(probabilities, labels, 10), [0, 3, 2])
