"""A lost run-plan, a task warned of its time limit, and their logs, on the real single-node SLURM
cluster of tests/test_slurm.py (its fixture starts and stops the daemons).

One scenario, as a cluster user lives it: run-plan submits the smoke report and its session is
lost (SIGKILL); SLURM warns the CNN's task of its time limit (the USR1 that `--signal=B:USR1@LEAD`
sends, here by `scancel --signal=USR1 --batch`); the same run-plan is run again. The rerun must wait
on the array instead of submitting a second one; the warned run must stop after an epoch's
checkpoint, requeue itself and resume from there; its log must keep both attempts; its manifest
must record both.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys

import pytest
from conftest import PROJECT_ROOT
from test_slurm import _cli, _wait_for, slurm_cluster  # noqa: F401  (the fixture, by name)

# One cluster on this machine: its tests run one after another, on one xdist worker.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("slurm")]


def test_a_lost_run_plan_is_reattached_and_a_warned_task_resumes_after_its_epoch(
    slurm_cluster,  # noqa: F811
    trained_smoke_runs,
    tmp_path,
):
    results = tmp_path / "results"
    # ResNet50's run is the session's, finished: the array trains only the CNN, whose task is warned.
    shutil.copytree(trained_smoke_runs["root"] / "resnet50", results / "smoke" / "resnet50")
    arguments = ["run-plan", "--profile", "smoke", "--executor", "slurm", "--results-root", str(results)]
    environment = {**slurm_cluster, "CIFARCMP_SLURM_POLL_SECONDS": "1"}
    first = subprocess.Popen(
        [sys.executable, "-m", "cifarcmp.cli", *arguments],
        cwd=PROJECT_ROOT,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    folder = results / "smoke" / ".slurm"
    try:
        record = _wait_for(lambda: list(folder.glob("array-*.json")), 120, "the job array's record")[0]
    finally:
        first.send_signal(signal.SIGKILL)  # the SSH session drops
        first.wait()
    job = json.loads(record.read_text())["job"]
    cnn_task = json.loads(record.read_text())["runs"].index("smoke/cnn/seed-0")
    log = folder / f"slurm-{job}_{cnn_task}.out"
    _wait_for(lambda: log.is_file() and "Epoch 1/" in log.read_text(), 300, "the CNN's first epoch")
    # What SLURM sends LEAD seconds before the time limit.
    subprocess.run(
        ["scancel", "--signal=USR1", "--batch", f"{job}_{cnn_task}"], env=slurm_cluster, check=True, timeout=60
    )

    # Requeued, the task waits out its BeginTime: `plan` says queued, not interrupted.
    _wait_for(lambda: "requeueing" in log.read_text(), 300, "the warned task to requeue itself")

    def queued() -> str | None:
        shown = _cli("plan", "--profile", "smoke", "--results-root", results, env=slurm_cluster).stdout
        return shown if "queued       smoke/cnn/seed-0" in shown else None

    listed = _wait_for(queued, 60, "plan to show the requeued run as queued")
    assert "interrupted" not in listed.splitlines()[1]
    # The same run-plan again waits on the array; once it does, the requeued task is released from
    # the two minutes SLURM holds it back (its BeginTime), which the test need not wait out.
    output = tmp_path / "again.out"
    with open(output, "w") as handle:
        rerun = subprocess.Popen(
            [sys.executable, "-m", "cifarcmp.cli", *arguments],
            cwd=PROJECT_ROOT,
            env=environment,
            stdout=handle,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_for(lambda: "already training" in output.read_text(), 120, "the rerun to wait on the array")
        subprocess.run(
            ["scontrol", "update", f"JobId={job}_{cnn_task}", "StartTime=now"],
            env=slurm_cluster,
            check=True,
            timeout=60,
        )
        assert rerun.wait(timeout=900) == 0, output.read_text()
    finally:
        if rerun.poll() is None:
            rerun.kill()
    shown = output.read_text()
    assert f"job array {job} is already training" in shown
    assert "submitted" not in shown
    assert [path.name for path in folder.glob("array-*.json")] == [record.name]  # no second array

    kept = log.read_text()
    assert "attempt 1," in kept and "attempt 2," in kept  # the first attempt's output was kept
    assert "stopping after this epoch's checkpoint" in kept and "requeueing" in kept
    manifest = json.loads((results / "smoke" / "cnn" / "seed-0" / "manifest.json").read_text())
    assert len(manifest["attempts"]) == 2 and all(attempt["wall_seconds"] > 0 for attempt in manifest["attempts"])
    assert manifest["total_wall_seconds"] == pytest.approx(
        sum(attempt["wall_seconds"] for attempt in manifest["attempts"]), abs=0.05
    )
    assert manifest["resumed"][0]["from_epoch"] >= 1  # no finished epoch was lost to the warning
    history = (results / "smoke" / "cnn" / "seed-0" / "history.csv").read_text().splitlines()
    assert (
        len(history) - 1
        == json.loads((results / "smoke" / "cnn" / "seed-0" / "metrics.json").read_text())["epochs_run"]
    )
