"""The opt-in studies: bad requests are refused in one line; smoke versions run end to end."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest
from conftest import assert_one_line_error, copy_smoke_runs, run_cli

from cifarcmp import plan
from cifarcmp.errors import UserError
from cifarcmp.studies import summaries


def test_unknown_study_and_bad_fractions_are_refused():
    assert_one_line_error(run_cli("study", "--studies", "arms,vibes", "--profile", "smoke"), "unknown study", "vibes")
    assert_one_line_error(
        run_cli("study", "--studies", "data-efficiency", "--fractions", "0.5,1.5", "--profile", "smoke"),
        "outside (0, 1]",
    )
    assert_one_line_error(
        run_cli("study", "--studies", "data-efficiency", "--fractions", "0", "--profile", "smoke"), "outside"
    )
    with pytest.raises(UserError):
        plan.parse_fractions("a,b")


@pytest.mark.slow  # over 2.5 s (Keras, a child process or a whole rendering): make test runs it, test-fast not
def test_a_study_whose_runs_fail_stops_with_the_run_named(tmp_path):
    broken = tmp_path / "broken.tar.gz"
    broken.write_bytes(b"not an archive")
    failed = run_cli("study", "--studies", "arms", "--profile", "smoke", "--data", broken, "--results-root", tmp_path)
    # Each run's own one-line error, each failed run named, and the plan's verdict last.
    assert failed.returncode != 0 and "Traceback" not in failed.stderr, failed.stderr
    assert "not a CIFAR-10 archive" in failed.stderr and failed.stderr.count("FAILED ") >= 2, failed.stderr
    assert failed.stderr.strip().splitlines()[-1].startswith("cifarcmp: error:")
    assert "did not finish" in failed.stderr.strip().splitlines()[-1]


def test_plan_shares_the_full_data_runs_with_the_arms_study(tmp_path):
    settings = plan.PlanSettings(
        "smoke", seeds=2, studies=("arms", "data-efficiency"), fractions=(0.1, 1.0), results_root=tmp_path
    )
    planned = plan.build(settings)
    assert len(planned.study_runs("arms")) == 4 * 2
    folders = {run.out for run in planned.study_runs("data-efficiency")}
    root = tmp_path / "studies-smoke"
    assert root / "arms" / "cnn" / "seed-1" in folders
    assert root / "data-efficiency" / "resnet50-frozen" / "fraction-0.1" / "seed-0" in folders
    fractions = {run.config.train_fraction for run in planned.study_runs("data-efficiency")}
    assert fractions == {0.1, 1.0}
    # 2 main runs + 4 arms + 3 arms at fraction 0.1, two seeds each; the full-data runs once, and
    # the arms study's resnet50 and cnn are the main runs (trained once, copied into the study).
    assert len(planned.runs) == (2 + 2 + 3) * 2
    assert len(planned.copies) == 2 * 2


def test_a_fraction_of_the_training_split_is_stratified_and_at_least_one_image_per_class():
    from cifarcmp.config import resolve
    from cifarcmp.data.splits import run_split

    labels = np.repeat(np.arange(10), 1000)  # a data set of 10,000 training and 1,000 test images
    dataset = SimpleNamespace(
        x_train=np.zeros((10_000, 1), np.uint8),
        y_train=labels,
        x_test=np.zeros((1000, 1), np.uint8),
        y_test=labels[::10],
    )
    for fraction, expected in ((0.1, 500), (1.0, 5000), (0.001, 10)):
        split = run_split(dataset, resolve("cnn", "smoke", train_fraction=fraction))
        assert len(split["y_train"]) == expected
        assert np.bincount(split["y_train"], minlength=10).tolist() == [expected // 10] * 10
    assert len(split["y_val"]) == 1000 and len(split["y_test"]) == 1000


@pytest.mark.slow
def test_smoke_studies_write_their_summaries(tmp_path, trained_smoke_runs):
    # The main runs, which the arms study shares, are the session's; the studies train the rest
    # through the plan's local executor, one `cifarcmp train` per run. Fraction 1 only: the
    # data-efficiency study then shares the arms' runs and trains none of its own (the fractions
    # of the split are tested above, in milliseconds).
    copy_smoke_runs(trained_smoke_runs, tmp_path)
    finished = run_cli(
        "study",
        "--profile",
        "smoke",
        "--studies",
        "arms,data-efficiency,gradcam",
        "--fractions",
        "1",
        "--results-root",
        tmp_path,
        timeout=3600,
    )
    assert finished.returncode == 0, finished.stderr[-3000:]
    # The main runs are not trained again.
    assert "4 runs planned: 2 done, 2 to train" in finished.stdout, finished.stdout
    root = tmp_path / "studies-smoke"
    arms = json.loads((root / "arms" / "summary.json").read_text())
    assert {row["arm"] for row in arms["runs"]} == {"resnet50", "resnet50-frozen", "resnet50-random", "cnn"}
    assert arms["synthetic"] is True
    frozen = next(row for row in arms["runs"] if row["arm"] == "resnet50-frozen")
    assert frozen["parameters"]["trainable"] == 2_628_106
    efficiency = json.loads((root / "data-efficiency" / "summary.json").read_text())
    cnn = sorted((row["fraction"], row["train_images"]) for row in efficiency["runs"] if row["arm"] == "cnn")
    assert cnn == [(1.0, 5000)] and len(efficiency["runs"]) == 3
    gradcam = json.loads((root / "gradcam" / "summary.json").read_text())
    assert all(row["has_gradcam"] for row in gradcam["runs"])
    # A second run retrains nothing: every run is already finished.
    before = {path: path.stat().st_mtime for path in root.glob("**/manifest.json")}
    again = run_cli("study", "--profile", "smoke", "--studies", "arms", "--results-root", tmp_path)
    assert again.returncode == 0 and "0 to train" in again.stdout, again.stdout + again.stderr
    summaries.write_summaries(plan.build(plan.PlanSettings("smoke", studies=("arms",), results_root=tmp_path)))
    assert before == {path: path.stat().st_mtime for path in root.glob("**/manifest.json")}
