"""Faults: kills at any instant, two commands on one run, corrupt checkpoints, full disks, bad arguments."""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import PROJECT_ROOT, assert_one_line_error, run_cli

from cifarcmp import lock, results

SMOKE_CNN = ("train", "--model", "cnn", "--profile", "smoke")


def _train_command(out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "cifarcmp.cli", *SMOKE_CNN, "--out", str(out), *extra]


# -- bad arguments: one line, before TensorFlow starts, nothing written --------------------------


@pytest.mark.parametrize(
    ("arguments", "fragment"),
    [
        (("--seed", "-1"), "--seed -1: out of range"),
        (("--seed", "99999999999"), "out of range"),
        (("--seed", "abc"), "not a whole number"),
        (("--out", ""), "names no results folder"),
        (("--out", "/"), "names no results folder"),
    ],
)
def test_bad_arguments_get_one_line_before_tensorflow(tmp_path, arguments, fragment):
    command = [*SMOKE_CNN, *arguments] + ([] if "--out" in arguments else ["--out", tmp_path / "run"])
    result = _cli_without_keras(*command)
    assert_one_line_error(result, fragment)
    assert list(tmp_path.iterdir()) == []


def _cli_without_keras(*arguments) -> subprocess.CompletedProcess:
    """The CLI in a subprocess that fails the test if it imported Keras (TensorFlow) on the way."""
    probe = (
        "import sys; from cifarcmp.cli import main; code = main(sys.argv[1:]); "
        "assert 'keras' not in sys.modules, 'Keras was imported'; sys.exit(code)"
    )
    return subprocess.run(
        [sys.executable, "-c", probe, *map(str, arguments)],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        timeout=120,
    )


def test_out_dot_and_folders_with_user_files_are_refused_untouched(tmp_path):
    user_folder = tmp_path / "my-photos"
    user_folder.mkdir()
    (user_folder / "holiday.jpg").write_bytes(b"precious")
    for out, force in ((".", False), (".", True), (user_folder, False), (user_folder, True)):
        result = _cli_without_keras(*SMOKE_CNN, "--out", out, *(["--force"] if force else []))
        assert_one_line_error(result, "not a cifarcmp run")
    assert (user_folder / "holiday.jpg").read_bytes() == b"precious"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["my-photos"]


def test_an_unreadable_config_in_an_interrupted_run_asks_for_force(tmp_path):
    work = tmp_path / "run.incomplete"
    work.mkdir()
    (work / "config.json").write_text("")  # what a full disk used to leave
    result = _cli_without_keras(*SMOKE_CNN, "--out", tmp_path / "run")
    assert_one_line_error(result, "config.json is missing or unreadable", "--force")
    assert (work / "config.json").exists()


@pytest.mark.slow  # over 2.5 s (Keras, a child process or a whole rendering): make test runs it, test-fast not
def test_a_second_command_on_a_locked_run_gets_one_line_naming_the_holder(tmp_path):
    out = tmp_path / "run"
    with lock.hold(results.lock_path(out), str(out)):
        result = run_cli(*SMOKE_CNN, "--out", out)
    assert_one_line_error(result, "in use by process", str(os.getpid()))
    assert not out.exists() and not results.incomplete_path(out).exists()


# -- corrupt checkpoints: fall back to the one before, or start over -----------------------------


def test_a_corrupt_checkpoint_falls_back_to_the_previous_one_then_to_a_fresh_start(tmp_path, capsys):
    import keras

    from cifarcmp.train.checkpoints import Checkpoints

    def model():
        keras.utils.set_random_seed(0)
        built = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
        built.compile(optimizer=keras.optimizers.SGD(momentum=0.9), loss="mse")
        return built

    trained = model()
    checkpoints = Checkpoints(tmp_path / "backup")
    saved = {}
    for epoch in (1, 2, 3):
        trained.fit(np.ones((8, 4)), np.ones((8, 3)) * epoch, epochs=1, verbose=0)
        memory = {"best": 1.0 / epoch, "best_epoch": epoch - 1, "wait": 0, "stopped_epoch": 0}
        history = [{"epoch": index} for index in range(epoch)]
        state = {"epoch": epoch, "finished": False, "early_stopping": memory, "best_changed": True, "history": history}
        checkpoints.save(trained, state, trained.get_weights())
        saved[epoch] = trained.get_weights()
    assert [path.name for path in checkpoints.complete()] == ["epoch-0003", "epoch-0002"]  # two kept

    newest = checkpoints.folder / "epoch-0003" / "model.weights.h5"
    newest.write_bytes(newest.read_bytes()[: newest.stat().st_size // 2])  # a kill mid-write
    (checkpoints.folder / ".epoch-0004.tmp").mkdir()  # a kill before the rename
    restoring = model()
    state, best = checkpoints.restore(restoring)
    assert state["epoch"] == 2 and state["early_stopping"]["best"] == 0.5
    for restored, expected in zip(restoring.get_weights(), saved[2]):
        np.testing.assert_array_equal(restored, expected)
    assert "epoch-0003 is unreadable" in capsys.readouterr().err
    assert [path.name for path in checkpoints.folder.iterdir()] == ["epoch-0002"]

    (checkpoints.folder / "epoch-0002" / "state.json").write_text("{")
    fresh = model()
    initial = fresh.get_weights()
    assert checkpoints.restore(fresh) is None
    assert "starting the run over" in capsys.readouterr().err
    for restored, expected in zip(fresh.get_weights(), initial):
        np.testing.assert_array_equal(restored, expected)


# -- kills at any instant, and a second command meanwhile (trains: slow) -------------------------


def _rows(log: Path) -> int:
    try:
        with log.open() as handle:
            return len(list(csv.DictReader(handle)))
    except OSError:
        return 0


def _text(path: Path) -> str:
    try:
        return path.read_text(errors="ignore").strip()
    except OSError:
        return ""


def _writing_a_second_checkpoint(backup: Path) -> bool:
    """A checkpoint is being written (temporary name) while a complete one exists to fall back on."""
    try:
        names = [path.name for path in backup.iterdir()]
    except OSError:
        return False
    return any(name.startswith(".epoch-") for name in names) and any(name.startswith("epoch-") for name in names)


def _resumes(work: Path) -> list:
    try:
        return json.loads((work / "resumed.json").read_text())["resumed"]
    except (OSError, ValueError, KeyError):
        return []


@pytest.mark.slow
def test_kills_at_epoch_ends_and_mid_checkpoint_then_reruns_finish_one_consistent_run(tmp_path):
    out = tmp_path / "cnn" / "seed-0"
    work = results.incomplete_path(out)
    log = work / "checkpoints" / "history_log.csv"
    backup = work / "checkpoints" / "backup"
    kills = 0
    # Kill 1: as soon as epoch 1's CSV row appears (the checkpoint is written just after it).
    # Kill 2: as soon as a checkpoint folder under a temporary name appears (mid-write) while a
    # complete one exists (or, if polling misses that moment, a second epoch row later).
    # Meanwhile a second command on the same run is refused.
    for trigger in ("row", "temporary"):
        errors = tmp_path / f"stderr-{trigger}.txt"
        with errors.open("w") as stderr:
            process = subprocess.Popen(_train_command(out), cwd=PROJECT_ROOT, stdout=subprocess.DEVNULL, stderr=stderr)
        if trigger == "temporary":  # after this run has resumed (and cleared the last run's leftovers)
            while process.poll() is None and len(_resumes(work)) < kills:
                time.sleep(0.05)
        rows_before = _rows(log)
        if trigger == "row":
            while process.poll() is None and not _text(results.lock_path(out)):
                time.sleep(0.2)
            second = run_cli(*SMOKE_CNN, "--out", out)
            assert_one_line_error(second, "in use by process", str(process.pid))
        deadline = time.time() + 600
        while process.poll() is None and time.time() < deadline:
            # Polling can miss the short write of a checkpoint; the next epoch's row is then the cue.
            if trigger == "temporary" and _writing_a_second_checkpoint(backup):
                break
            if _rows(log) > rows_before + (trigger == "temporary"):
                break
            time.sleep(0.002)
        assert process.poll() is None, errors.read_text()[-2000:]
        process.send_signal(signal.SIGKILL)
        process.wait()
        kills += 1
        assert not out.exists()

    finished = run_cli(*SMOKE_CNN, "--out", out)
    assert finished.returncode == 0, finished.stderr[-3000:]
    assert finished.stderr.count("resuming the interrupted run") == 1
    run = results.load_run(out)
    epochs = [row["epoch"] for row in run.history]
    assert epochs == list(range(1, len(epochs) + 1))  # each epoch once, consecutive
    assert run.metrics["epochs_run"] == len(epochs)
    assert 1 <= run.metrics["best_epoch"] <= len(epochs)
    assert run.metrics["stopped_early"] or len(epochs) == run.config["epochs"]
    resumed = run.manifest["resumed"]
    assert len(resumed) == kills and all(entry["at"] and entry["from_epoch"] >= 0 for entry in resumed)
    assert resumed[-1]["from_epoch"] >= resumed[0]["from_epoch"]
    assert not work.exists()


@pytest.mark.slow
def test_force_recovers_an_interrupted_run_whatever_state_it_is_in(tmp_path):
    out = tmp_path / "run"
    work = results.incomplete_path(out)
    (work / "checkpoints" / "backup" / "epoch-0003").mkdir(parents=True)
    (work / "checkpoints" / "backup" / "epoch-0003" / "model.weights.h5").write_bytes(b"truncated")
    (work / "config.json").write_text("")
    result = run_cli(*SMOKE_CNN, "--out", out, "--force")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "discarding the interrupted run" in result.stderr
    assert results.load_run(out).manifest["resumed"] == []


# -- a full disk ---------------------------------------------------------------------------------


def _mount_small_disk(mount_point: Path, options: str) -> None:
    mount_point.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(mount_point)], capture_output=True, text=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small file system here: {mounted.stderr.strip()}")


@pytest.fixture
def small_disk(tmp_path):
    mount_point = tmp_path / "small-disk"
    _mount_small_disk(mount_point, "size=4m")
    yield mount_point
    subprocess.run(["umount", "-l", str(mount_point)], check=False)


@pytest.mark.slow  # over 2.5 s (Keras, a child process or a whole rendering): make test runs it, test-fast not
@pytest.mark.parametrize(("options", "fragment"), [("size=1m", "no space left"), ("size=1m,ro", "read-only")])
def test_a_full_or_read_only_keras_home_gets_one_line(tmp_path, monkeypatch, options, fragment):
    keras_home = tmp_path / "keras-home"
    _mount_small_disk(keras_home, options)  # too small for the synthetic data set's cached archive
    try:
        monkeypatch.setenv("KERAS_HOME", str(keras_home))
        result = run_cli(*SMOKE_CNN, "--out", tmp_path / "run")
        assert_one_line_error(result, str(keras_home / "datasets"), fragment)
        assert not (tmp_path / "run").exists() and not (tmp_path / "run.incomplete").exists()
        assert not any((keras_home / "datasets").glob("*.tar.gz")) if (keras_home / "datasets").exists() else True
    finally:
        subprocess.run(["umount", "-l", str(keras_home)], check=False)


@pytest.mark.slow
def test_a_full_disk_gets_one_line_and_leaves_a_run_that_resumes_or_restarts(small_disk):
    out = small_disk / "run"
    # 4 MiB cannot hold a checkpoint of the CNN's 1.25 M parameters: the first epoch end fails.
    result = run_cli(*SMOKE_CNN, "--out", out)
    assert_one_line_error(result, "no space left on device")
    work = results.incomplete_path(out)
    assert json.loads((work / "config.json").read_text())["model"] == "cnn"
    assert not any((work / "checkpoints" / "backup").glob(".*"))  # no half-written checkpoint

    # Full before anything is written: config.json cannot be written, and is not left empty.
    shutil.rmtree(work)
    filler = small_disk / "filler"
    with filler.open("wb") as handle:
        try:
            while True:
                handle.write(b"\0" * 65536)
        except OSError:
            pass
    result = run_cli(*SMOKE_CNN, "--out", out)
    assert_one_line_error(result, "no space left on device")
    assert not (work / "config.json").exists()
    assert not work.exists() or not any(work.iterdir())
