"""Knowledge distillation's wiring (train/distillation.py) on tiny networks, one step on a few images;
and the plan's `waiting` status with run-plan's rounds, on fixture runs, without training."""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json

import keras
import numpy as np
import pytest
from fixtures import write_fixture_run

from cifarcmp import cli, config, plan, results
from cifarcmp.errors import UserError
from cifarcmp.executors import Outcome, local, slurm
from cifarcmp.train import distillation, models


def _tiny(units: int, seed: int) -> keras.Model:
    """32 x 32 x 3 images to ten softmax outputs, as every network of the report ends."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((32, 32, 3))
    x = keras.layers.GlobalAveragePooling2D()(keras.layers.Rescaling(1 / 255)(inputs))
    x = keras.layers.Dense(units, activation="relu")(x)
    return keras.Model(inputs, keras.layers.Dense(10, activation="softmax", name="classification")(x))


def test_log_probabilities_are_logits_for_any_temperature():
    model = _tiny(8, seed=1)
    images = np.random.default_rng(0).integers(0, 256, (4, 32, 32, 3)).astype("float32")
    probabilities = model.predict(images, verbose=0)
    logits = distillation.logits(model).predict(images, verbose=0)
    for temperature in (1.0, 3.0):
        softened = keras.ops.convert_to_numpy(keras.ops.softmax(logits / temperature))
        expected = probabilities ** (1 / temperature) / np.sum(
            probabilities ** (1 / temperature), axis=1, keepdims=True
        )
        np.testing.assert_allclose(softened, expected, rtol=1e-4, atol=1e-6)


def test_the_distiller_trains_the_student_alone_from_the_teacher():
    teacher, student = _tiny(16, seed=2), _tiny(8, seed=3)
    run_config = config.resolve("cnn", "smoke", teacher="/r/smoke/resnet50/seed-0", distillation_alpha=0.25)
    trainer = distillation.distiller(teacher, student, run_config)
    models.compile_for_training(trainer, run_config, from_logits=True)
    teacher_before, student_before = teacher.get_weights(), student.get_weights()
    images = np.random.default_rng(1).integers(0, 256, (8, 32, 32, 3)).astype("float32")
    labels = np.arange(8) % 10
    logs = trainer.train_on_batch(images, labels, return_dict=True)
    # The teacher taught: a distillation loss above zero, weighed 1 - alpha against the labels'.
    assert logs["distillation_loss"] > 0
    assert logs["loss"] == pytest.approx(0.25 * logs["student_loss"] + 0.75 * logs["distillation_loss"], rel=1e-4)
    assert "accuracy" in logs
    for before, after in zip(teacher_before, teacher.get_weights()):
        np.testing.assert_array_equal(before, after)  # frozen
    assert any(not np.array_equal(b, a) for b, a in zip(student_before, student.get_weights()))
    # Early stopping keeps and restores the student's weights, not the teacher's as well.
    assert [w.shape for w in trainer.get_weights()] == [w.shape for w in student.get_weights()]
    trainer.set_weights(student_before)
    for before, after in zip(student_before, student.get_weights()):
        np.testing.assert_array_equal(before, after)
    assert trainer.distillation_losses[0].temperature == run_config.distillation_temperature == 3.0


def test_a_teacher_trained_on_other_data_is_refused(tmp_path):
    teacher = write_fixture_run(tmp_path / "smoke" / "resnet50" / "seed-0", "resnet50")  # data sha256 "abab..."
    run_config = config.resolve("cnn", "smoke", teacher=str(teacher))
    with pytest.raises(UserError, match="keeps no trained model"):
        distillation.load_teacher(run_config, "ab" * 32)
    (teacher / results.MODEL_FILE).write_bytes(b"a kept model")
    manifest = json.loads((teacher / "manifest.json").read_text())
    manifest["model"] = {"file": results.MODEL_FILE, "sha256": hashlib.sha256(b"a kept model").hexdigest(), "bytes": 12}
    (teacher / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(UserError, match="trained on other data than this run"):
        distillation.load_teacher(run_config, "cd" * 32)


# The plan's waiting runs and run-plan's rounds ----------------------------------------------------


def _plan(root):
    """A teacher (main ResNet50) and a CNN distilled from it, with their statuses read from disk."""
    teacher_out = root / "smoke" / "resnet50" / "seed-0"
    student_out = root / "studies-smoke" / "distillation" / "cnn" / "seed-0"
    entries = [
        ("resnet50", teacher_out, config.resolve("resnet50", "smoke"), {}),
        ("cnn", student_out, config.resolve("cnn", "smoke", teacher=str(teacher_out)), {"teacher": str(teacher_out)}),
    ]
    runs = [
        plan.PlannedRun(
            name=out.relative_to(root).as_posix(), config=run_config, out=out,
            status=plan.status(out, teacher=run_config.teacher), arm=arm, fraction=1.0, seed=0, data=None,
            weights=None, changes=changes,
        )
        for arm, out, run_config, changes in entries
    ]  # fmt: skip
    settings = plan.PlanSettings("smoke", results_root=root)
    return plan.Plan(settings, runs, root / "smoke", root / "studies-smoke", {"main": runs})


def test_a_distilled_run_waits_until_its_teacher_has_finished(tmp_path):
    waiting = {run.arm: run.status for run in _plan(tmp_path).runs}
    assert waiting == {"resnet50": "missing", "cnn": "waiting"}
    assert _plan(tmp_path).counts()["waiting"] == 1
    write_fixture_run(tmp_path / "smoke" / "resnet50" / "seed-0", "resnet50")
    assert {run.arm: run.status for run in _plan(tmp_path).runs} == {"resnet50": "done", "cnn": "missing"}


def _run_plan(monkeypatch, root, finishes, executor="local"):
    """run-plan on `_plan`, with an executor that "trains" a run by writing a fixture run when
    `finishes(name)`; the list of rounds it was asked to train."""
    rounds = []

    def train(todo):
        if todo:  # SLURM's is asked every round too (to wait on arrays already submitted)
            rounds.append([run.name for run in todo])
        for run in todo:
            if finishes(run.name):
                write_fixture_run(run.out, run.config.model)
        return [Outcome(run.name, "exit 0" if finishes(run.name) else "exit 1", None) for run in todo]

    monkeypatch.setattr(cli, "_build_plan", lambda arguments: _plan(root))
    monkeypatch.setattr(local, "run", lambda todo, jobs, gpus_per_run, log_dir: train(todo))
    monkeypatch.setattr(cli, "_run_on_slurm", lambda arguments, built, todo, sbatch_arguments: train(todo))
    monkeypatch.setattr(slurm, "mark_queued", lambda built: built)  # no scheduler to ask
    defaults = vars(cli._parser().parse_args(["run-plan", "--profile", "smoke", "--executor", executor]))
    return rounds, argparse.Namespace(**defaults)


@pytest.mark.parametrize("executor", ["local", "slurm"])
def test_run_plan_trains_the_teacher_first_then_its_student(tmp_path, monkeypatch, capsys, executor):
    rounds, arguments = _run_plan(monkeypatch, tmp_path, finishes=lambda name: True, executor=executor)
    assert cli._run_plan(arguments) == 0
    assert rounds == [["smoke/resnet50/seed-0"], ["studies-smoke/distillation/cnn/seed-0"]]
    printed = capsys.readouterr().out
    assert "1 waiting for their teacher run" in printed and "1 run(s) whose teacher has finished" in printed
    assert "all 2 runs done" in printed


def test_a_student_whose_teacher_failed_is_never_started(tmp_path, monkeypatch, capsys):
    rounds, arguments = _run_plan(monkeypatch, tmp_path, finishes=lambda name: "resnet50" not in name)
    with pytest.raises(UserError, match="2 of 2 runs did not finish;.*the waiting ones train once their teacher"):
        cli._run_plan(arguments)
    assert rounds == [["smoke/resnet50/seed-0"]]  # tried once, and the student not at all
    assert "NOT STARTED studies-smoke/distillation/cnn/seed-0: its teacher" in capsys.readouterr().err


def test_the_plan_listing_says_what_a_waiting_run_waits_for(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(cli, "_build_plan", lambda arguments: _plan(tmp_path))
    monkeypatch.setattr(cli, "_with_queued", lambda built: built)
    cli._plan(argparse.Namespace(json=False))
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].startswith("waiting") and "(after its teacher " in lines[1] and lines[1].endswith("seed-0)")
    assert lines[-1] == "2 runs: 0 done, 1 waiting, 1 missing"


def test_a_finished_run_is_done_whatever_its_teacher(tmp_path):
    student = _plan(tmp_path).runs[1]
    write_fixture_run(student.out, "cnn")
    assert plan.status(student.out, teacher=student.config.teacher) == "done"
    assert dataclasses.replace(student, status="waiting").train_arguments()[-4:-2] == [
        "--teacher",
        student.config.teacher,
    ]


# The distilled run trained end to end, through the plan, is checked in tests/test_improvements.py
# (test_every_training_study_runs_its_smoke_form_and_the_page_renders_from_it).
