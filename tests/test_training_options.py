"""The training options of the improvement studies (augmentation, teacher, learning rate, upsampling,
epochs): checked in config.resolve, refused by `cifarcmp train` in one line before Keras is
imported, round-tripped through the plan's train arguments; and the predictions contract's optional
mirrored-image probabilities. No Keras, no training: milliseconds each."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from conftest import PROJECT_ROOT
from fixtures import write_fixture_run

from cifarcmp import cli, config, plan, results
from cifarcmp.errors import UserError
from cifarcmp.report import narrative


@pytest.mark.parametrize(
    "model, changes, fragment",
    [
        ("cnn", {"learning_rate": 0}, "learning rate 0: not a positive"),
        ("cnn", {"learning_rate": -0.01}, "learning rate -0.01"),
        ("cnn", {"learning_rate": float("nan")}, "learning rate nan"),
        ("cnn", {"learning_rate": float("inf")}, "learning rate inf"),
        ("cnn", {"epochs": 0}, "epochs 0: not a whole number from 1"),
        ("cnn", {"epochs": 2.5}, "epochs 2.5"),
        ("resnet50", {"upsampling": 0}, "upsampling 0: not a whole number from 1 to 7"),
        ("resnet50", {"upsampling": 8}, "upsampling 8"),
        ("cnn", {"upsampling": 2}, "only transfer models upsample"),
        ("cnn", {"augmentation": "cutout"}, "unknown augmentation 'cutout'; choose one of: none, flip-crop"),
        ("cnn", {"distillation_temperature": 4.0}, "apply only to a run with a teacher"),
        ("cnn", {"teacher": "/r/paper/resnet50/seed-0", "distillation_alpha": 1.0}, "distillation alpha 1.0"),
        ("cnn", {"teacher": "/r/paper/resnet50/seed-0", "distillation_temperature": 0.0}, "temperature 0.0"),
    ],
)
def test_config_refuses_a_change_that_cannot_work(model, changes, fragment):
    with pytest.raises(UserError, match=fragment.replace("(", r"\(").replace(".", r"\.")):
        config.resolve(model, "paper", **changes)


def test_a_backbone_needs_its_smallest_image(monkeypatch):
    from cifarcmp import architectures

    entry = architectures.get("resnet50")
    monkeypatch.setitem(
        architectures.ARCHITECTURES, "resnet50", type(entry)(**{**entry.__dict__, "min_image_size": 75})
    )
    with pytest.raises(UserError, match="needs images of at least 75 px; use 3 or more"):
        config.resolve("resnet50", "paper", upsampling=2)
    assert config.resolve("resnet50", "paper", upsampling=3).image_size == 96


def test_changes_are_deviations_and_the_teacher_is_named_by_its_run():
    changed = config.resolve(
        "cnn", "paper", augmentation="flip-crop", learning_rate=0.03, teacher=Path("/x/results/paper/resnet50/seed-2")
    )
    assert changed.teacher == "/x/results/paper/resnet50/seed-2"  # a Path from a study becomes text
    assert "augmentation: 'flip-crop' instead of 'none'" in changed.deviations
    assert "learning_rate: 0.03 instead of 0.01" in changed.deviations
    assert any("distilled from the run 'paper/resnet50/seed-2'" in line for line in changed.deviations)
    assert not any("/x/results" in line for line in changed.deviations)  # no local path reaches a page
    assert config.resolve("cnn", "paper").deviations == ()  # the defaults are the seed's protocol


def test_the_pages_say_what_augmentation_and_distillation_changed_and_name_no_folder():
    changed = config.resolve(
        "cnn", "paper", augmentation="mixup", teacher="/home/<b>student</b>/results/paper/resnet50/seed-2"
    ).to_dict()
    sentences = narrative.deviation_sentences(json.loads(json.dumps(changed)))
    assert "training images augmented (MixUp), where the seed used none" in sentences
    assert any(line.startswith("distilled from a trained teacher's logits (temperature 3, 50 %") for line in sentences)
    assert not any("student" in line or "seed-2" in line for line in sentences)  # the folder means nothing on a page
    assert len(sentences) == 2  # the two constants are said in the teacher's sentence, not again on their own


def test_every_changed_field_round_trips_through_the_train_options(tmp_path):
    changes = {
        "augmentation": "mixup",
        "teacher": str(tmp_path / "smoke" / "resnet50" / "seed-0"),
        "distillation_temperature": 4.0,
        "distillation_alpha": 0.3,
        "learning_rate": 0.003,
        "epochs": 3,
    }
    for model, extra in (("cnn", changes), ("resnet50", {"upsampling": 2, "learning_rate": 0.1, "epochs": 2})):
        resolved = config.resolve(model, "smoke", **extra)
        planned = plan.PlannedRun(
            name="x", config=resolved, out=tmp_path / "out", status="missing", arm=model, fraction=1.0, seed=0,
            data=None, weights=None, changes=extra,
        )  # fmt: skip
        arguments = cli._parser().parse_args(["train", *planned.train_arguments()])
        assert cli.resolve_train(arguments) == resolved


# Every bad value, each through cli.main in one child process that then checks Keras was never
# imported: the checks come before the backend (and the data) are loaded.
BAD_TRAIN_ARGUMENTS = [
    (["--learning-rate", "fast"], "--learning-rate 'fast': not a number"),
    (["--learning-rate", "-1"], "learning rate -1.0: not a positive finite number"),
    (["--learning-rate", "nan"], "learning rate nan"),
    (["--upsampling", "two"], "--upsampling 'two': not a whole number"),
    (["--upsampling", "9"], "upsampling 9: not a whole number from 1 to 7"),
    (["--epochs", "1.5"], "--epochs '1.5': not a whole number"),
    (["--epochs", "0"], "epochs 0"),
    (["--augmentation", "cutout"], "unknown augmentation 'cutout'"),
    (["--teacher", ""], "--teacher '': names no run"),
    (["--teacher", "{root}/nowhere"], "not a finished run"),
    (["--teacher", "{root}/unfinished"], "not a finished run"),
    (["--teacher", "{root}/no-model"], "keeps no trained model"),
    (["--teacher", "{root}/changed-model"], "is not the one its manifest recorded"),
    (["--teacher", "{root}/out"], "is this run's own folder"),
    (["--distillation-alpha", "0.2"], "apply only to a run with a teacher"),
]


def _teachers(root: Path) -> None:
    write_fixture_run(root / "no-model", "resnet50")
    (root / "unfinished.incomplete").mkdir(parents=True)
    (root / "unfinished").mkdir()
    changed = write_fixture_run(root / "changed-model", "resnet50")
    (changed / results.MODEL_FILE).write_bytes(b"weights that were replaced")
    manifest = json.loads((changed / "manifest.json").read_text())
    manifest["model"] = {"file": results.MODEL_FILE, "sha256": "0" * 64, "bytes": 26}
    (changed / "manifest.json").write_text(json.dumps(manifest))
    # A finished teacher at the run's own --out: refused as its own folder, not trained over.
    write_fixture_run(root / "out", "resnet50")


def test_bad_training_options_are_one_line_each_before_keras(tmp_path):
    _teachers(tmp_path)
    cases = [([part.format(root=tmp_path) for part in argv], fragment) for argv, fragment in BAD_TRAIN_ARGUMENTS]
    script = textwrap.dedent(
        """
        import contextlib, io, json, sys
        from cifarcmp import cli
        answers = []
        for argv in json.loads(sys.argv[1]):
            stderr = io.StringIO()
            with contextlib.redirect_stderr(stderr):
                status = cli.main(["train", "--model", "cnn", "--profile", "smoke", *argv])
            answers.append([status, stderr.getvalue()])
        print(json.dumps({"answers": answers, "keras": "keras" in sys.modules}))
        """
    )
    ran = subprocess.run(
        [sys.executable, "-c", script, json.dumps([argv + ["--out", str(tmp_path / "out")] for argv, _ in cases])],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        timeout=60,
    )
    assert ran.returncode == 0, ran.stderr
    reply = json.loads(ran.stdout.strip().splitlines()[-1])
    for (argv, fragment), (status, stderr) in zip(cases, reply["answers"]):
        lines = stderr.strip().splitlines()
        assert status == 1 and len(lines) == 1 and lines[0].startswith("cifarcmp: error: "), (argv, stderr)
        assert fragment in lines[0], (argv, lines[0])
    assert reply["keras"] is False  # every refusal came before the backend was loaded
    assert not (tmp_path / "out.incomplete").exists()


def test_flipped_probabilities_are_optional_in_the_contract(tmp_path):
    old = write_fixture_run(tmp_path / "cnn" / "seed-0", "cnn")
    run = results.load_run(old)  # a run from before they were stored
    assert results.FLIPPED not in run.predictions
    mirrored = np.roll(run.predictions["probabilities"], 1, axis=1)
    results.add_flipped_predictions(run, mirrored)
    again = results.load_run(old)
    np.testing.assert_array_equal(again.predictions[results.FLIPPED], mirrored.astype(np.float32))
    np.testing.assert_array_equal(again.predictions["probabilities"], run.predictions["probabilities"])
    with pytest.raises(UserError, match=r"flipped_probabilities are float32 \(3, 10\), expected floats of shape"):
        results.add_flipped_predictions(again, mirrored[:3])
    arrays = {key: again.predictions[key] for key in results.PREDICTIONS}
    np.savez_compressed(old / "predictions.npz", **arrays, flipped_probabilities=mirrored * 2)
    with pytest.raises(UserError, match="flipped_probabilities must be finite and in 0..1"):
        results.load_run(old)


def test_evaluate_flip_needs_predict(tmp_path, capsys):
    write_fixture_run(tmp_path / "cnn" / "seed-0", "cnn")
    assert cli.main(["evaluate", str(tmp_path), "--flip"]) == 1
    assert "--flip predicts the mirrored test images" in capsys.readouterr().err
