"""The plan of a report: its runs, their status on disk, and the executors' refusals of bad input."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import PROJECT_ROOT, assert_one_line_error
from fixtures import write_fixture_run

from cifarcmp import cli, plan
from cifarcmp.errors import UserError
from cifarcmp.executors import local


def _cli(*arguments, env=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "cifarcmp.cli", *map(str, arguments)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=PROJECT_ROOT,
        env=env or os.environ.copy(),
    )


def test_the_paper_report_with_every_study_and_three_seeds_trains_30_distinct_runs_for_36_folders(tmp_path):
    settings = plan.PlanSettings(
        "paper", seeds=3, studies=("arms", "data-efficiency", "gradcam"), results_root=tmp_path
    )
    built = plan.build(settings)
    # 2 models + 4 arms + 3 data-efficiency arms at 2 fractions below 1, times 3 seeds: 36 folders;
    # the arms study's resnet50 and cnn arms are the main runs' configurations: trained once.
    assert len(built.runs) + len(built.copies) == (2 + 4 + 3 * 2) * 3 == 36
    assert len(built.runs) == 30
    assert len({json.dumps(run.config.to_dict(), default=str) for run in built.runs}) == 30
    assert {run.name for run in built.copies} == {
        f"studies-paper/arms/{arm}/seed-{seed}" for arm in ("resnet50", "cnn") for seed in range(3)
    }
    assert {copy.same_as for copy in built.copies} == {
        f"paper/{model}/seed-{seed}" for model in ("resnet50", "cnn") for seed in range(3)
    }
    assert built.counts() == {"done": 0, "running": 0, "queued": 0, "waiting": 0, "interrupted": 0, "missing": 30}
    assert len(built.study_runs("data-efficiency")) == 3 * 3 * 3  # fraction 1 shared with the arms


def test_every_planned_run_trains_its_own_config_through_the_train_command(tmp_path):
    settings = plan.PlanSettings(
        "smoke",
        seeds=2,
        studies=("arms", "data-efficiency"),
        fractions=(0.1, 1.0),
        weights="none",
        results_root=tmp_path,
    )
    parser = cli._parser()
    for run in plan.build(settings).runs:
        arguments = parser.parse_args(["train", *run.train_arguments()])
        assert cli.resolve_train(arguments) == run.config, run.name
        assert Path(arguments.out) == run.out


def test_statuses_are_read_from_disk(tmp_path):
    settings = plan.PlanSettings("smoke", seeds=3, results_root=tmp_path)
    write_fixture_run(tmp_path / "smoke" / "cnn" / "seed-0", "cnn", seed=0)
    interrupted = tmp_path / "smoke" / "cnn" / "seed-1.incomplete"
    interrupted.mkdir(parents=True)
    config = plan.build(settings).runs[4].config  # cnn, seed 1
    (interrupted / "config.json").write_text(json.dumps(config.to_dict()))
    statuses = {run.name: run.status for run in plan.build(settings).runs}
    assert statuses == {
        "smoke/resnet50/seed-0": "missing",
        "smoke/resnet50/seed-1": "missing",
        "smoke/resnet50/seed-2": "missing",
        "smoke/cnn/seed-0": "done",
        "smoke/cnn/seed-1": "interrupted",
        "smoke/cnn/seed-2": "missing",
    }
    plan.check(plan.build(settings))  # what is on disk agrees with the plan


def test_plan_command_prints_each_run_and_a_count(tmp_path):
    write_fixture_run(tmp_path / "smoke" / "cnn" / "seed-0", "cnn")
    printed = _cli("plan", "--profile", "smoke", "--results-root", tmp_path).stdout
    lines = printed.splitlines()
    assert lines[0].split()[:2] == ["missing", "smoke/resnet50/seed-0"]
    assert lines[1].split()[:2] == ["done", "smoke/cnn/seed-0"]
    assert lines[-1] == "2 runs: 1 done, 1 missing"
    document = json.loads(_cli("plan", "--profile", "smoke", "--json", "--results-root", tmp_path).stdout)
    assert document["counts"] == {"done": 1, "running": 0, "queued": 0, "waiting": 0, "interrupted": 0, "missing": 1}
    assert document["runs"][1]["arguments"][:2] == ["--model", "cnn"]


def test_a_finished_run_with_other_settings_stops_the_plan_in_one_line(tmp_path):
    write_fixture_run(tmp_path / "smoke" / "cnn" / "seed-0", "cnn", epochs=2)
    with pytest.raises(UserError, match=r"seed-0: holds a run with other settings than the plan \(epochs"):
        plan.check(plan.build(plan.PlanSettings("smoke", results_root=tmp_path)))


def test_a_run_from_before_the_improvement_fields_is_still_the_plans_run(tmp_path):
    # Runs trained before augmentation and distillation existed lack their fields in config.json;
    # they trained without either, which is what the plan asks for by default.
    out = write_fixture_run(tmp_path / "smoke" / "cnn" / "seed-0", "cnn")
    stored = json.loads((out / "config.json").read_text())
    for name in ("augmentation", "teacher", "distillation_temperature", "distillation_alpha"):
        del stored[name]
    (out / "config.json").write_text(json.dumps(stored))
    plan.check(plan.build(plan.PlanSettings("smoke", results_root=tmp_path)))  # no conflict
    (out / "config.json").write_text(json.dumps({**stored, "augmentation": "mixup"}))
    with pytest.raises(UserError, match=r"seed-0: holds a run with other settings than the plan \(augmentation\)"):
        plan.check(plan.build(plan.PlanSettings("smoke", results_root=tmp_path)))


@pytest.mark.parametrize(
    "arguments, fragments",
    [
        (["--jobs", "0"], ["--jobs 0", "at least one"]),
        (["--executor", "cloud"], ["unknown executor", "local, slurm"]),
        (["--seeds", "0"], ["seeds 0"]),
        (["--studies", "arms,vibes"], ["unknown study", "vibes"]),
    ],
)
def test_run_plan_refuses_bad_input_in_one_line(tmp_path, arguments, fragments):
    assert_one_line_error(_cli("run-plan", "--profile", "smoke", "--results-root", tmp_path, *arguments), *fragments)
    assert not any(tmp_path.iterdir())


def test_slurm_without_sbatch_on_path_is_one_line(tmp_path):
    environment = {**os.environ, "PATH": str(Path(sys.executable).parent)}  # python, and no sbatch
    result = _cli("run-plan", "--profile", "smoke", "--executor", "slurm", "--results-root", tmp_path, env=environment)
    assert_one_line_error(result, "sbatch: not found on PATH", "--executor local")
    assert not any(tmp_path.iterdir())  # no plan file, no script: nothing was submitted


def test_local_slots_give_each_run_its_own_gpu():
    assert local.slots(2, None, []) == [None, None]
    assert local.slots(2, None, ["0", "1", "2"]) == [["0"], ["1"]]
    assert local.slots(1, 2, ["4", "5"]) == [["4", "5"]]
    with pytest.raises(UserError, match="needs 4 GPUs; 2 visible"):
        local.slots(2, 2, ["0", "1"])
    with pytest.raises(UserError, match="needs 3 GPUs"):
        local.slots(3, None, ["0", "1"])
    with pytest.raises(UserError, match="no GPU is visible"):
        local.slots(1, 1, [])
    with pytest.raises(UserError, match="--jobs 0"):
        local.slots(0, None, ["0"])


def test_visible_gpus_follow_cuda_visible_devices(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2,3")
    assert local.visible_gpus() == ["2", "3"]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "-1")
    assert local.visible_gpus() == []


def test_train_refuses_an_arm_of_another_model():
    arguments = cli._parser().parse_args(["train", "--model", "cnn", "--arm", "resnet50-frozen"])
    with pytest.raises(UserError, match="not an arm of cnn"):
        cli.resolve_train(arguments)
    assert isinstance(arguments, argparse.Namespace)
