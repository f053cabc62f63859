"""End-to-end training in the smoke profile: complete results, learning, refusal, resume."""

from __future__ import annotations

import csv
import importlib.util
import json
import shutil
import signal
import subprocess
import sys
import time

import pytest
from conftest import PROJECT_ROOT, assert_one_line_error, copy_smoke_runs, run_cli

from cifarcmp import results
from cifarcmp.errors import UserError

pytestmark = pytest.mark.slow

# TensorBoard is optional for training (the cpu and gpu extras install it); a run logs to it when present.
TENSORBOARD = importlib.util.find_spec("tensorboard") is not None
CLOSING_LINES = {}  # the last line each smoke run printed


@pytest.fixture(scope="module")
def smoke_runs(trained_smoke_runs, tmp_path_factory):
    """A copy of the session's smoke runs: the tests below replace one of them."""
    CLOSING_LINES.update(trained_smoke_runs["closing_lines"])
    return copy_smoke_runs(trained_smoke_runs, tmp_path_factory.mktemp("smoke"))


@pytest.mark.parametrize("model", ["cnn", "resnet50"])
def test_smoke_training_writes_a_complete_results_directory(smoke_runs, model):
    run_dir = smoke_runs / model / "seed-0"
    logs = ("tensorboard",) if TENSORBOARD else ()
    assert sorted(p.name for p in run_dir.iterdir()) == sorted(
        (*results.RUN_FILES, "gallery.npz", "gradcam.npz", results.MODEL_FILE, *logs)
    )
    run = results.load_run(run_dir)
    assert run.synthetic and run.manifest["data"]["source"] == "synthetic"
    assert run.config["model"] == model and run.config["deviations"]
    assert len(run.history) == run.metrics["epochs_run"]
    assert [row["epoch"] for row in run.history] == list(range(1, len(run.history) + 1))
    assert run.predictions["probabilities"].shape == (run.metrics["test_images"], 10)
    assert run.metrics["parameters"]["total"] == {"cnn": 1_250_858, "resnet50": 26_215_818}[model]
    assert sum(run.manifest["data"]["counts"]["validation"]) == run.metrics["validation_images"]
    assert run.samples["images"].dtype.name == "uint8"
    assert not results.incomplete_path(run_dir).exists()


@pytest.mark.parametrize("model", ["cnn", "resnet50"])
def test_a_run_keeps_its_tensorboard_logs_and_its_closing_line_says_where(smoke_runs, trained_smoke_runs, model):
    logs = smoke_runs / model / "seed-0" / "tensorboard"  # the copy keeps them
    if not TENSORBOARD:
        assert not logs.exists() and "pip install tensorboard" in CLOSING_LINES[model]
        return
    assert logs.is_dir()
    # The closing line names the folder the run was trained in (the session's, before the copy).
    trained_logs = trained_smoke_runs["root"] / model / "seed-0" / "tensorboard"
    assert f"TensorBoard logs in {trained_logs} (make tensorboard)" in CLOSING_LINES[model]
    # Keras writes one event file per side; they moved with the run out of its .incomplete folder.
    assert list((logs / "train").glob("events.out.tfevents.*"))
    assert list((logs / "validation").glob("events.out.tfevents.*"))


def test_a_run_keeps_its_model_and_evaluate_predicts_again_from_it(smoke_runs, tmp_path):
    run_dir = shutil.copytree(smoke_runs / "cnn" / "seed-0", tmp_path / "cnn" / "seed-0")
    kept = json.loads((run_dir / "manifest.json").read_text())["model"]
    assert kept["file"] == results.MODEL_FILE and kept["bytes"] == (run_dir / results.MODEL_FILE).stat().st_size
    again = run_cli("evaluate", run_dir, "--predict")
    assert again.returncode == 0, again.stderr[-2000:]
    assert "the kept model predicts 0 of 1,000 test images differently" in again.stdout
    assert "predicted again (at training:" in again.stderr
    # A kept model that is not the one trained is refused before anything is predicted.
    model_file = run_dir / results.MODEL_FILE
    model_file.write_bytes(model_file.read_bytes() + b"changed")
    changed = run_cli("evaluate", run_dir, "--predict")
    assert_one_line_error(changed, "its sha256 is not the one the manifest recorded")


def test_cnn_learns_the_synthetic_data_far_above_chance(smoke_runs):
    metrics = results.load_run(smoke_runs / "cnn" / "seed-0").metrics
    assert metrics["test_accuracy"] > 0.4, metrics  # chance is 0.1
    assert metrics["val_accuracy"] > 0.4, metrics


def test_the_site_builds_from_smoke_trained_results(smoke_runs, tmp_path):
    from test_site import build_site

    built = build_site(smoke_runs, tmp_path / "site-copy")
    comparison = (built["site"] / "generated" / "comparison.html").read_text()
    metrics = results.load_run(smoke_runs / "cnn" / "seed-0").metrics
    assert f"{metrics['test_accuracy'] * 100:.2f} %" in comparison
    assert "Synthetic data — not CIFAR-10 results" in comparison
    assert (built["site"] / "notebooks" / "training-curves.html").stat().st_size > 10_000


def test_a_finished_run_is_refused_without_force(smoke_runs):
    run_dir = smoke_runs / "cnn" / "seed-0"
    before = (run_dir / "manifest.json").read_text()
    refused = run_cli("train", "--model", "cnn", "--profile", "smoke", "--out", run_dir)
    assert_one_line_error(refused, "already holds a finished run", "--force")
    assert (run_dir / "manifest.json").read_text() == before


def test_force_replaces_a_finished_run(smoke_runs):
    run_dir = smoke_runs / "resnet50" / "seed-0"
    before = json.loads((run_dir / "manifest.json").read_text())
    time.sleep(1)
    replaced = run_cli("train", "--model", "resnet50", "--profile", "smoke", "--out", run_dir, "--force")
    assert replaced.returncode == 0, replaced.stderr[-2000:]
    after = results.load_run(run_dir).manifest
    assert after["started_at"] != before["started_at"]


def _logged_epochs(log):
    if not log.exists():
        return 0
    with log.open() as handle:
        return len(list(csv.DictReader(handle)))


def test_a_killed_run_looks_unfinished_and_the_rerun_resumes(tmp_path):
    run_dir = tmp_path / "cnn" / "seed-0"
    work = results.incomplete_path(run_dir)
    log = work / "checkpoints" / "history_log.csv"
    command = [
        sys.executable,
        "-m",
        "cifarcmp.cli",
        "train",
        "--model",
        "cnn",
        "--profile",
        "smoke",
        "--out",
        str(run_dir),
    ]
    process = subprocess.Popen(command, cwd=PROJECT_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while _logged_epochs(log) < 2 and time.time() < deadline and process.poll() is None:
        time.sleep(0.2)
    time.sleep(1.0)  # let the epoch-end backup finish: we kill during the next epoch
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert _logged_epochs(log) >= 2
    assert not run_dir.exists() and work.is_dir() and not (work / "manifest.json").exists()
    with pytest.raises(UserError):
        results.load_run(run_dir)
    with pytest.raises(UserError, match="unfinished"):
        results.load_run(work)

    resumed = run_cli("train", "--model", "cnn", "--profile", "smoke", "--out", run_dir)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "resuming" in resumed.stderr
    assert "Epoch 1/" not in resumed.stdout  # the completed epochs were not trained again
    run = results.load_run(run_dir)
    assert [row["epoch"] for row in run.history] == list(range(1, run.metrics["epochs_run"] + 1))
    assert not work.exists()
