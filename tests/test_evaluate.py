"""cifarcmp.evaluate on run directories built here by hand, following cifarcmp.results' contract."""

import csv
import json

import numpy as np
import pytest
from fixtures import write_fixture_run

from cifarcmp import results, stats
from cifarcmp.analysis.evaluation import evaluation
from cifarcmp.analysis.measures import paired_test
from cifarcmp.errors import UserError


def evaluate_run(path):
    """As `cifarcmp evaluate` does: evaluate a finished run and store the evaluation beside it."""
    run = results.load_run(path)
    result = evaluation(run)
    results.write_evaluation(run, result)
    return result


CLASS_NAMES = [f"synthetic-{index}" for index in range(10)]


def write_run(path, labels, predicted, *, model="cnn", seed=0, indices=None, probabilities=None, **changes):
    """A finished run in the contract (tests/fixtures.py) holding these test predictions.

    `changes` replaces entries of the files: `manifest`, `metrics`, or `predictions` (dicts merged
    into the defaults), so each test spoils exactly one thing.
    """
    labels = np.asarray(labels, dtype=np.int64)
    count = labels.size
    if probabilities is None:
        # 0.8 on the predicted class, the rest spread: rows sum to 1 as a softmax does.
        probabilities = np.full((count, 10), 0.2 / 9, dtype=np.float32)
        probabilities[np.arange(count), predicted] = 0.8
    indices = np.arange(count, dtype=np.int64) if indices is None else np.asarray(indices, dtype=np.int64)
    write_fixture_run(path, model, seed=seed, test_images=count)
    manifest = json.loads((path / "manifest.json").read_text())
    manifest["data"].update(class_names=CLASS_NAMES, counts={**manifest["data"]["counts"], "test": _counts(labels)})
    manifest.update(changes.get("manifest", {}))
    metrics = json.loads((path / "metrics.json").read_text())
    metrics.update(test_images=count, test_accuracy=float(np.mean(labels == predicted)))
    metrics.update(changes.get("metrics", {}))
    predictions = {"labels": labels, "probabilities": probabilities, "indices": indices}
    predictions.update(changes.get("predictions", {}))
    results.write_json(path / "manifest.json", manifest)
    results.write_json(path / "metrics.json", metrics)
    np.savez(path / "predictions.npz", **predictions)
    return path


def _counts(labels) -> list[int]:
    return np.bincount(labels, minlength=10).tolist()


def example_labels():
    # 40 images, 4 per class; the model gets the first 30 right and calls the rest class 0.
    labels = np.arange(40) % 10
    predicted = labels.copy()
    predicted[30:] = 0
    return labels, predicted


def test_evaluate_run_writes_evaluation_and_confusion(tmp_path):
    labels, predicted = example_labels()
    run = write_run(tmp_path / "cnn" / "seed-0", labels, predicted)
    result = evaluate_run(run)

    assert result["accuracy"]["correct"] == 31  # 30, plus the class-0 image among the last ten
    assert result["accuracy"]["value"] == pytest.approx(31 / 40)
    interval = result["accuracy"]["interval"]
    assert (interval["lower"], interval["upper"]) == pytest.approx(stats.binomial_interval(31, 40))
    assert result["negative_log_likelihood"] == pytest.approx(-(31 * np.log(0.8) + 9 * np.log(0.2 / 9)) / 40, rel=1e-6)
    # Every image at confidence 0.8, in one bin, with accuracy 31/40.
    assert result["expected_calibration_error"]["value"] == pytest.approx(abs(31 / 40 - 0.8), rel=1e-6)
    assert sum(row["count"] for row in result["reliability"]) == 40
    assert len(result["confident_mistakes"]) == 9
    assert result["confident_mistakes"][0]["predicted"] == "synthetic-0"
    assert result["per_class"][0]["support"] == 4 and result["per_class"][0]["recall"] == 1.0

    assert json.loads((run / "evaluation.json").read_text()) == result
    with (run / "confusion.csv").open(newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["true \\ predicted", *CLASS_NAMES]
    counts = np.array([[int(value) for value in row[1:]] for row in rows[1:]])
    np.testing.assert_array_equal(counts, stats.confusion_matrix(labels, predicted, 10))
    assert not list(run.glob("*.tmp")), "temporary files left behind"


def test_evaluate_without_class_names_is_refused(tmp_path):
    labels, predicted = example_labels()
    run = write_run(tmp_path / "run", labels, predicted, manifest={"data": {"synthetic": False}})
    assert_one_line_error(run, "manifest.json", "data lacks", "class_names")


def assert_one_line_error(run, *words):
    with pytest.raises(UserError) as error:
        evaluate_run(run)
    message = str(error.value)
    assert "\n" not in message
    for word in words:
        assert word in message
    return message


def test_wrong_number_of_classes(tmp_path):
    labels, predicted = example_labels()
    run = write_run(tmp_path / "run", labels, predicted, probabilities=np.full((40, 9), 1 / 9))
    assert_one_line_error(run, "predictions.npz", "(40, 10)")


def test_labels_out_of_range(tmp_path):
    labels, predicted = example_labels()
    bad = labels.copy()
    bad[0] = 10
    run = write_run(tmp_path / "run", labels, predicted, predictions={"labels": bad})
    assert_one_line_error(run, "predictions.npz", "labels")


def test_rows_not_summing_to_one(tmp_path):
    labels, predicted = example_labels()
    run = write_run(tmp_path / "run", labels, predicted, probabilities=np.full((40, 10), 0.5))
    assert_one_line_error(run, "predictions.npz", "sums to")


def test_count_differs_from_metrics(tmp_path):
    labels, predicted = example_labels()
    run = write_run(tmp_path / "run", labels, predicted, metrics={"test_images": 10_000})
    assert_one_line_error(run, "metrics.json", "10000")


def test_incomplete_runs(tmp_path):
    labels, predicted = example_labels()
    running = write_run(tmp_path / "running", labels, predicted, manifest={"status": "running"})
    assert_one_line_error(running, "manifest.json", "not 'complete'")
    unfinished = write_run(tmp_path / "seed-0.incomplete", labels, predicted)
    assert_one_line_error(unfinished, "unfinished")
    missing = write_run(tmp_path / "missing", labels, predicted)
    (missing / "predictions.npz").unlink()
    assert_one_line_error(missing, "predictions.npz", "missing")
    assert not (missing / "evaluation.json").exists()


def test_paired_test_counts_discordant_images_aligned_by_index(tmp_path):
    labels, predicted_a = example_labels()
    predicted_b = labels.copy()
    predicted_b[:5] = (labels[:5] + 1) % 10  # B wrong on 0..4, where A is right
    # A's ten last images: 30..39 wrong except 30 (class 0); B gets all of them right.
    run_a = write_run(tmp_path / "a", labels, predicted_a, model="resnet50")
    # B lists the same images in reverse order: the test must align them by index.
    reverse = np.arange(40)[::-1]
    run_b = write_run(tmp_path / "b", labels[reverse], predicted_b[reverse], indices=reverse)
    test = paired_test(results.load_run(run_a), results.load_run(run_b))
    assert (test["b"], test["c"], test["images"]) == (5, 9, 40)
    assert test["p_value"] == pytest.approx(
        stats.mcnemar(np.array([True] * 5 + [False] * 9), np.array([False] * 5 + [True] * 9))["p_value"]
    )
    assert test["accuracy_a"] - test["accuracy_b"] == pytest.approx(31 / 40 - 35 / 40)
    assert not test["significant"] and test["favoured"] is None


def test_paired_test_on_disjoint_images_is_impossible(tmp_path):
    labels, predicted = example_labels()
    run_a = write_run(tmp_path / "a", labels, predicted)
    run_b = write_run(tmp_path / "b", labels, predicted, indices=np.arange(40) + 100)
    assert paired_test(results.load_run(run_a), results.load_run(run_b)) is None
    overlapping = write_run(tmp_path / "c", labels, predicted, indices=np.arange(40) + 20)
    assert paired_test(results.load_run(run_a), results.load_run(overlapping))["images"] == 20
