"""The plan and the executors as users travel them (issue 17): runs distinct by configuration,
what `plan` says of a run another command trains, the SLURM submission (its signal lead, options,
dry run) and the local executor's children, logs and advice. None of these trains a model: the
local executor's children are stopped, or fail, before training.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import PROJECT_ROOT, assert_one_line_error, run_cli
from fixtures import write_fixture_run

from cifarcmp import lock, plan, results
from cifarcmp.errors import UserError
from cifarcmp.executors import local, slurm
from cifarcmp.studies import summaries as studies


def _no_slurm_environment() -> dict:
    """PATH with this Python and the basic tools, and no SLURM client: sinfo and squeue are not asked."""
    return {**os.environ, "PATH": str(Path(sys.executable).parent)}


# The plan ---------------------------------------------------------------------------------------


def test_a_study_folder_of_a_main_runs_configuration_gets_a_copy_of_it_once_it_finishes(tmp_path):
    settings = plan.PlanSettings("smoke", studies=("arms",), results_root=tmp_path)
    built = plan.build(settings)
    assert [run.name for run in built.copies] == ["studies-smoke/arms/resnet50/seed-0", "studies-smoke/arms/cnn/seed-0"]
    assert [run.name for run in built.runs] == [
        "smoke/resnet50/seed-0",
        "smoke/cnn/seed-0",
        "studies-smoke/arms/resnet50-frozen/seed-0",
        "studies-smoke/arms/resnet50-random/seed-0",
    ]
    write_fixture_run(tmp_path / "smoke" / "cnn" / "seed-0", "cnn")
    made = studies.copy_shared_runs(built)
    assert [run.name for run in made] == ["studies-smoke/arms/cnn/seed-0"]  # resnet50 is not trained yet
    copied = tmp_path / "studies-smoke" / "arms" / "cnn" / "seed-0"
    assert results.is_finished(copied)
    assert (copied / "metrics.json").read_bytes() == (
        tmp_path / "smoke" / "cnn" / "seed-0" / "metrics.json"
    ).read_bytes()
    again = plan.build(settings)
    assert {run.name: run.status for run in again.copies}["studies-smoke/arms/cnn/seed-0"] == "done"
    plan.check(again)  # the copy holds the configuration its study folder asks for
    printed = run_cli(
        "plan", "--profile", "smoke", "--studies", "arms", "--results-root", tmp_path, env=_no_slurm_environment()
    )
    assert "copied       studies-smoke/arms/cnn/seed-0" in printed.stdout
    assert "same configuration as smoke/resnet50/seed-0: trained once, copied here" in printed.stdout
    assert printed.stdout.splitlines()[-1] == (
        "4 runs: 1 done, 3 missing (6 results folders; 2 are copies of a run with the same configuration)"
    )


def test_a_run_another_command_trains_is_running_not_interrupted(tmp_path):
    settings = plan.PlanSettings("smoke", results_root=tmp_path)
    cnn = tmp_path / "smoke" / "cnn" / "seed-0"
    incomplete = results.incomplete_path(cnn)
    incomplete.mkdir(parents=True)
    (incomplete / "config.json").write_text(json.dumps(plan.build(settings).runs[1].config.to_dict()))
    with lock.hold(results.lock_path(cnn), str(cnn)):
        assert {run.name: run.status for run in plan.build(settings).runs}["smoke/cnn/seed-0"] == "running"
    assert {run.name: run.status for run in plan.build(settings).runs}["smoke/cnn/seed-0"] == "interrupted"


# SLURM submission, without a cluster ----------------------------------------------------------------


@pytest.mark.parametrize(
    "text, seconds",
    [("30", 1800), ("1:30", 90), ("00:01:00", 60), ("2:00:00", 7200), ("1-12", 129600), ("1-0:30:00", 88200)],
)
def test_slurm_time_limits_are_read_as_sbatch_reads_them(text, seconds):
    assert slurm.time_limit_seconds(text) == seconds


def test_the_signal_lead_fits_the_time_limit():
    assert slurm.fit_lead("4:00:00", None) == (120, None)
    lead, note = slurm.fit_lead("00:01:00", None)
    assert lead == 15 and "--signal-lead" in note and "60 s" in note
    assert slurm.fit_lead("00:01:00", 20) == (20, None)
    with pytest.raises(UserError, match=r"--signal-lead 120 s is not shorter than --time 00:01:00 \(60 s\)"):
        slurm.fit_lead("00:01:00", 120)


def test_dry_run_prints_the_script_and_the_sbatch_line_and_writes_nothing(tmp_path):
    shown = run_cli(
        "run-plan", "--profile", "smoke", "--executor", "slurm", "--dry-run", "--results-root", tmp_path,
        "--time", "00:01:00", "--max-restarts", "5",
        "--sbatch-arg", "--mem=1G",  # the space form: a value starting with --
        "--sbatch-args", '--comment="two words" --account=me',
        env=_no_slurm_environment(),
    )  # fmt: skip
    assert shown.returncode == 0, shown.stderr
    out = shown.stdout
    assert "slurm: --time 00:01:00 (60 s) is short for the default 120 s signal lead" in out
    assert "--- batch script" in out and "run-task" in out and "scontrol requeue" in out
    assert "-lt 5 ]" in out  # the restart cap
    command = out.split("--- sbatch command line (not run) ---\n")[1].strip()
    assert command.startswith("sbatch --parsable")
    for part in ("--signal=B:USR1@15", "--open-mode=append", "--time=00:01:00", "--mem=1G", "'--comment=two words'",
                 "--account=me", "--cpus-per-task=1", "--array=0-1"):  # fmt: skip
        assert part in command, part
    assert "--mem=2000M" not in command  # the user's --mem replaces the default
    assert not any(tmp_path.rglob("*"))  # no plan file, no script


def test_a_lead_longer_than_the_limit_is_refused_in_one_line(tmp_path):
    refused = run_cli(
        "run-plan", "--profile", "smoke", "--executor", "slurm", "--dry-run", "--results-root", tmp_path,
        "--time", "1", "--signal-lead", "90", env=_no_slurm_environment(),
    )  # fmt: skip
    assert_one_line_error(refused, "--signal-lead 90 s is not shorter than --time 1 (60 s)")


@pytest.mark.parametrize(
    "arguments, fragments",
    [
        (["--dry-run"], ["--dry-run shows a SLURM submission", "--executor slurm"]),
        (["--executor", "slurm", "--dry-run", "--sbatch-args", "--comment='open"], ["--sbatch-args", "quotation"]),
        (["--executor", "slurm", "--dry-run", "--time", "soon"], ["--time 'soon'", "not a SLURM time limit"]),
        (["--executor", "slurm", "--dry-run", "--max-restarts", "-1"], ["--max-restarts -1"]),
    ],
)
def test_bad_slurm_options_are_one_line(tmp_path, arguments, fragments):
    refused = run_cli(
        "run-plan", "--profile", "smoke", "--results-root", tmp_path, *arguments, env=_no_slurm_environment()
    )
    assert_one_line_error(refused, *fragments)
    assert not any(tmp_path.iterdir())


def test_sbatch_test_only_is_refused_instead_of_polling_forever(tmp_path):
    bin_folder = tmp_path / "bin"
    bin_folder.mkdir()
    fake = bin_folder / "sbatch"  # what sbatch --test-only answers: no job id, a line on stderr
    fake.write_text('#!/bin/sh\necho "sbatch: Job 7 to start at 2026-01-01T00:00:00 using 2 processors" >&2\n')
    fake.chmod(0o755)
    environment = {**os.environ, "PATH": f"{bin_folder}:{Path(sys.executable).parent}:/bin"}
    refused = run_cli(
        "run-plan", "--profile", "smoke", "--executor", "slurm", "--results-root", tmp_path / "results",
        "--sbatch-arg=--test-only", env=environment, timeout=60,
    )  # fmt: skip
    assert_one_line_error(refused, "sbatch submitted no job", "--dry-run")


# The local executor ---------------------------------------------------------------------------


def _children(pid: int) -> list[int]:
    try:
        return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_a_killed_run_plan_leaves_no_child_training_and_one_run_at_a_time_has_its_log(tmp_path):
    command = [sys.executable, "-m", "cifarcmp.cli", "run-plan", "--profile", "smoke", "--results-root", str(tmp_path)]
    parent = subprocess.Popen(command, cwd=PROJECT_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    child = None
    try:
        deadline = time.monotonic() + 60
        while not _children(parent.pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        (child,) = _children(parent.pid)
        logs = list((tmp_path / "smoke" / ".local").glob("*/smoke--resnet50--seed-0.log"))
        assert len(logs) == 1  # JOBS=1 writes a log per run, as JOBS=2 does
        parent.send_signal(signal.SIGKILL)  # as the OOM killer or a closed terminal would
        parent.wait()
        deadline = time.monotonic() + 30
        while _alive(child) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _alive(child), "the train child outlived its run-plan"
    finally:
        for pid in [parent.pid, *_children(parent.pid), *([child] if child else [])]:
            if _alive(pid):  # without the fix the orphan would train on; this test started it
                os.kill(pid, signal.SIGKILL)


def test_runs_that_fail_before_training_get_advice_that_fits_not_resume(tmp_path):
    for model in ("resnet50", "cnn"):  # folders the project did not make, where the runs go
        (tmp_path / "smoke" / model / "seed-0").mkdir(parents=True)
        (tmp_path / "smoke" / model / "seed-0" / "notes.txt").write_text("mine")
    ran = run_cli("run-plan", "--profile", "smoke", "--jobs", "2", "--results-root", tmp_path, timeout=300)
    assert ran.returncode == 1
    assert "all 2 runs done" not in ran.stdout
    assert "FAILED   smoke/cnn/seed-0 (exit 1; log:" in ran.stdout
    lines = ran.stderr.strip().splitlines()
    assert lines[0].startswith("FAILED smoke/") and lines[0].endswith(".log")
    assert "never started training" in lines[0] and "a non-empty folder that is not a cifarcmp run" in lines[0]
    assert lines[-1] == (
        "cifarcmp: error: 2 of 2 runs did not finish; the ones that never started failed before training: "
        "fix what their logs say, then rerun"
    )
    assert "resume" not in ran.stderr
    assert (tmp_path / "smoke" / "cnn" / "seed-0" / "notes.txt").read_text() == "mine"


def test_a_run_finished_by_another_command_is_reported_finished_not_failed(tmp_path):
    built = plan.build(plan.PlanSettings("smoke", results_root=tmp_path))
    cnn = built.runs[1]
    write_fixture_run(cnn.out, "cnn")
    assert local._ending(cnn, 1, tmp_path / "cnn.log").startswith("finished smoke/cnn/seed-0 (by another command")
    assert local._ending(built.runs[0], 1, None) == "FAILED   smoke/resnet50/seed-0 (exit 1)"


# A run's attempts ---------------------------------------------------------------------------------


def test_every_attempt_of_a_run_is_recorded_a_killed_one_up_to_its_last_write(tmp_path):
    from cifarcmp.train import run

    work, checkpoints = tmp_path / "seed-0.incomplete", tmp_path / "seed-0.incomplete" / "checkpoints"
    checkpoints.mkdir(parents=True)
    run._begin_attempt(work, checkpoints, 1000.0)
    run._end_attempt(work, 1100.0)  # interrupted (Ctrl-C, a requeue): closed as it ended
    run._begin_attempt(work, checkpoints, 2000.0)
    written = checkpoints / "history_log.csv"
    written.write_text("epoch\n")
    os.utime(written, (2050.0, 2050.0))
    os.utime(checkpoints, (2050.0, 2050.0))
    # Killed outright: no end was written; the next attempt closes it at its last write.
    run._begin_attempt(work, checkpoints, 3000.0)
    attempts = run._end_attempt(work, 3030.0)
    assert [attempt["wall_seconds"] for attempt in attempts] == [100.0, 50.0, 30.0]
    assert attempts[0]["started_at"] == "1970-01-01T00:16:40+00:00"
    assert attempts[1]["note"] == "killed; ended at its last write"
    assert "started" not in attempts[0]  # the raw start time stays in the work folder


def test_mixed_precision_says_before_training_that_it_is_slow_on_a_cpu(tmp_path, monkeypatch, capsys):
    from cifarcmp import config
    from cifarcmp.train import run

    class Stop(Exception):
        pass

    def before_training(*arguments):
        raise Stop

    monkeypatch.setattr(run, "_train_locked", before_training)  # everything up to the first epoch, no training
    # No data is needed to build the model: a stand-in that departs from nothing.
    monkeypatch.setattr(run.data, "load", lambda source: type("NoData", (), {"departures": ()})())
    monkeypatch.setattr(run.splits, "run_split", lambda dataset, run_config: {})
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "-1")
    try:
        with pytest.raises(Stop):
            run.train(config.resolve("cnn", "smoke", precision="mixed"), tmp_path / "cnn" / "seed-0")
    finally:
        import keras

        keras.mixed_precision.set_global_policy("float32")  # the next test in this process builds float32
    printed = capsys.readouterr().out
    assert "precision mixed_" in printed and "(Keras policy) on a CPU, where it is slower than float32" in printed


@pytest.mark.slow  # over 2.5 s (Keras, a child process or a whole rendering): make test runs it, test-fast not
def test_a_run_finished_by_another_command_meanwhile_is_not_an_error(tmp_path, monkeypatch, capsys):
    from cifarcmp import config
    from cifarcmp.train import models, run

    out = tmp_path / "cnn" / "seed-0"
    compile_for_training = models.compile_for_training

    def finished_meanwhile(model, run_config, **options):  # while this command loaded data and built its model
        compile_for_training(model, run_config, **options)
        write_fixture_run(out, "cnn")

    monkeypatch.setattr(models, "compile_for_training", finished_meanwhile)
    assert run.train(config.resolve("cnn", "smoke"), out) == out
    printed = capsys.readouterr()
    assert "finished by another command meanwhile; nothing left to train" in printed.out
    assert "--force" not in printed.out + printed.err


def test_make_tensorboard_takes_port_host_and_the_results_folder():
    shown = subprocess.run(
        ["make", "--no-print-directory", "-n", "tensorboard", "PORT=7007", "HOST=0.0.0.0", "LOGDIR=results/paper"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout.splitlines()[-1]
    assert shown.endswith("tensorboard --logdir 'results/paper' --host '0.0.0.0' --port '7007'")
