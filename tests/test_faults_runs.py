"""Issue 19, class 2: one run is never counted as two seeds.

Two folders with the same configuration, seed and data hold the same run (a `cp -r` under another
seed's name, a backup nested inside the run): it is counted once and render says which folder it
ignored. Two different runs claiming one model's seed are refused in one line. Fixture runs only.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from conftest import assert_one_line_error, run_cli
from fixtures import write_fixture_results, write_fixture_run

from cifarcmp.analysis.runs import load_groups
from cifarcmp.results import find_runs


def _results(root: Path) -> Path:
    return write_fixture_results(root)


def _copy_run(source: Path, target: Path) -> None:
    # A copy by hand: every file, without the folders training would have around it.
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("backup", "seed-*"))


@pytest.mark.slow  # over 2.5 s (Keras, a child process or a whole rendering): make test runs it, test-fast not
@pytest.mark.parametrize("where", ["cnn/seed-1", "cnn/seed-0/backup", "cnn/old/seed-0", "seed-0-copy"])
def test_a_copied_run_is_counted_once_and_the_copy_named(tmp_path, where):
    root = _results(tmp_path / "results")
    _copy_run(root / "cnn" / "seed-0", root / where)
    groups = {group.model: group for group in load_groups(root)}
    assert groups["cnn"].count == 1 and groups["cnn"].seeds == [0]
    assert groups["cnn"].ignored == [(root / where, root / "cnn" / "seed-0")]
    assert groups["resnet50"].ignored == []

    out = tmp_path / "generated"
    result = run_cli("render", root, "--out", out)
    assert result.returncode == 0, result.stderr
    notes = [line for line in result.stderr.splitlines() if line.startswith("cifarcmp: note:")]
    assert len(notes) == 1 and str(root / where) in notes[0] and "counted once" in notes[0]
    site = json.loads((out / "run.json").read_text())
    assert [run["model"] for run in site["runs"]].count("cnn") == 1
    assert site["ignored"] == [{"path": f"../results/{where}", "same_as": "../results/cnn/seed-0"}]


def test_the_run_in_its_own_seed_folder_is_kept_whatever_the_sort_order(tmp_path):
    root = tmp_path / "results"
    write_fixture_run(root / "resnet50" / "seed-0", "resnet50")
    write_fixture_run(root / "cnn" / "seed-3", "cnn", seed=3)
    _copy_run(root / "cnn" / "seed-3", root / "cnn" / "seed-1")  # sorts first, but is named for another seed
    (cnn,) = [group for group in load_groups(root) if group.model == "cnn"]
    assert [run.path.name for run in cnn.runs] == ["seed-3"]
    assert cnn.ignored == [(root / "cnn" / "seed-1", root / "cnn" / "seed-3")]


def test_two_different_runs_of_one_seed_are_refused_in_one_line(tmp_path):
    root = _results(tmp_path / "results")
    _copy_run(root / "cnn" / "seed-0", root / "cnn" / "seed-1")
    manifest = json.loads((root / "cnn" / "seed-1" / "manifest.json").read_text())
    manifest["data"]["sha256"] = "cd" * 32  # the same settings on other data
    (root / "cnn" / "seed-1" / "manifest.json").write_text(json.dumps(manifest))
    out = tmp_path / "generated"
    assert_one_line_error(run_cli("render", root, "--out", out), "seed-1", "seed-0", "seed 0")
    assert not out.exists()


def test_real_seeds_are_all_counted(tmp_path):
    root = _results(tmp_path / "results")
    write_fixture_run(root / "cnn" / "seed-1", "cnn", seed=1)
    (cnn,) = [group for group in load_groups(root) if group.model == "cnn"]
    assert cnn.seeds == [0, 1] and cnn.ignored == []


# The next class: special files where a run's files should be ------------------------------------


@pytest.mark.slow  # over 2.5 s (Keras, a child process or a whole rendering): make test runs it, test-fast not
@pytest.mark.parametrize(
    "name", ["manifest.json", "config.json", "history.csv", "predictions.npz", "gallery.npz", "gradcam.npz"]
)
@pytest.mark.parametrize("command", ["render", "evaluate"])
def test_a_named_pipe_in_a_run_is_refused_not_waited_on(tmp_path, name, command):
    # Opening a pipe blocks until something writes to it: render and evaluate hung for ever.
    root = _results(tmp_path / "results")
    target = root / "cnn" / "seed-0" / name
    target.unlink(missing_ok=True)
    os.mkfifo(target)
    arguments = [root, "--out", tmp_path / "generated"] if command == "render" else [root]
    assert_one_line_error(run_cli(command, *arguments, timeout=60), str(target), "not a regular file")


def test_a_device_in_a_run_is_refused(tmp_path):
    root = _results(tmp_path / "results")
    (root / "cnn" / "seed-0" / "gallery.npz").symlink_to("/dev/zero")
    assert_one_line_error(run_cli("evaluate", root / "cnn" / "seed-0", timeout=60), "gallery.npz", "not a regular file")


@pytest.mark.timeout(30)
def test_an_interrupted_run_whose_config_is_a_pipe_asks_for_force(tmp_path):
    from cifarcmp.errors import UserError
    from cifarcmp.results import interrupted_run

    work = tmp_path / "seed-0.incomplete"
    work.mkdir()
    os.mkfifo(work / "config.json")
    with pytest.raises(UserError, match="--force"):
        interrupted_run(work, {}, force=False)


# Runs reached through a link -----------------------------------------------------------------------


def test_a_linked_run_is_counted_as_plan_counts_it(tmp_path):
    # A seed kept on another disk and linked in was silently left out: n = 1 where plan said 2 done.
    root = _results(tmp_path / "results")
    elsewhere = write_fixture_run(tmp_path / "other-disk" / "run", "cnn", seed=1)
    (root / "cnn" / "seed-1").symlink_to(elsewhere)
    (cnn,) = [group for group in load_groups(root) if group.model == "cnn"]
    assert cnn.seeds == [0, 1]


def test_a_link_to_a_run_beside_it_is_the_same_run(tmp_path):
    root = _results(tmp_path / "results")
    (root / "cnn" / "seed-1").symlink_to(root / "cnn" / "seed-0")
    (cnn,) = [group for group in load_groups(root) if group.model == "cnn"]
    assert cnn.seeds == [0] and cnn.ignored == [(root / "cnn" / "seed-1", root / "cnn" / "seed-0")]


def test_links_to_folders_that_are_not_runs_are_not_walked(tmp_path):
    root = _results(tmp_path / "results")
    (root / "cnn" / "everything").symlink_to("/")
    (root / "cnn" / "loop").symlink_to(root)
    assert [path.relative_to(root).as_posix() for path in find_runs(root)] == ["cnn/seed-0", "resnet50/seed-0"]
