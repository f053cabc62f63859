"""Issue 19, class 5: `cifarcmp evaluate` on a full disk fails in one line and leaves the previous
evaluation whole: evaluation.json and confusion.csv are replaced together or not at all, and every
write is checked (fsync), so a disk that reports full only when flushed cannot pass for success.
"""

from __future__ import annotations

import errno
import json
import math
import os
import subprocess
from pathlib import Path

import pytest
from conftest import assert_one_line_error, run_cli
from fixtures import write_fixture_run

from cifarcmp import cli, results
from cifarcmp.analysis import evaluation

EVALUATION_FILES = ("evaluation.json", "confusion.csv")


def _full(*arguments, **options):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def _state(run: Path) -> dict[str, bytes]:
    """Every file of the run folder (temporary ones included) with its content."""
    return {path.name: path.read_bytes() for path in run.iterdir()}


@pytest.fixture
def evaluated(tmp_path) -> Path:
    """A run evaluated once already, its files then marked so a rewrite would show."""
    run = write_fixture_run(tmp_path / "cnn" / "seed-0", "cnn")
    assert cli.main(["evaluate", str(run)]) == 0
    for name in EVALUATION_FILES:
        (run / name).write_text((run / name).read_text() + "\n")
    return run


def _fail_on(monkeypatch, name: str, function: str, module=os) -> None:
    """Make `module.function` fail with a full disk when it touches the file `name`."""
    original = getattr(module, function)

    def failing(*arguments, **options):
        values = [*arguments, *options.values()]
        touched = " ".join(str(value) for value in values if isinstance(value, str | Path))
        if function == "fsync" or name in touched:
            _full()
        return original(*arguments, **options)

    monkeypatch.setattr(module, function, failing)


@pytest.mark.parametrize(
    ("name", "function"),
    [
        ("confusion.csv", "mkstemp"),  # the second file cannot even be created
        ("any", "fsync"),  # the disk reports full only when the data is flushed
        ("confusion.csv", "replace"),  # the second rename fails: the first is put back
    ],
)
def test_a_full_disk_leaves_the_previous_evaluation_whole(evaluated, monkeypatch, capsys, name, function):
    before = _state(evaluated)
    _fail_on(monkeypatch, name, function, module=results.tempfile if function == "mkstemp" else os)
    assert cli.main(["evaluate", str(evaluated)]) == 1
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("cifarcmp: error:"), lines
    assert "No space left on device" in lines[0] and "unchanged" in lines[0]
    assert _state(evaluated) == before


def test_a_first_evaluation_is_all_there_or_not_at_all(tmp_path, monkeypatch, capsys):
    run = write_fixture_run(tmp_path / "cnn" / "seed-0", "cnn")
    _fail_on(monkeypatch, "confusion.csv", "replace")
    assert cli.main(["evaluate", str(run)]) == 1
    assert not any((run / name).exists() for name in EVALUATION_FILES)
    assert not [path.name for path in run.iterdir() if path.name.startswith(".")]


def test_an_evaluation_that_succeeds_leaves_no_temporary_files(evaluated):
    assert cli.main(["evaluate", str(evaluated)]) == 0
    assert sorted(path.name for path in evaluated.iterdir() if path.name.startswith(".")) == []
    assert json.loads((evaluated / "evaluation.json").read_text())["accuracy"]


@pytest.fixture
def small_disk(tmp_path):
    mount_point = tmp_path / "small-disk"
    mount_point.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount_point)], capture_output=True, text=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small file system here: {mounted.stderr.strip()}")
    yield mount_point
    subprocess.run(["umount", "-l", str(mount_point)], check=False)


def test_on_a_real_full_disk_evaluation_json_never_stands_alone(small_disk):
    run = write_fixture_run(small_disk / "cnn" / "seed-0", "cnn")
    size = len(json.dumps(evaluation.evaluation(results.load_run(run)), indent=2)) + 1
    # Fill the disk, then free room for evaluation.json alone: confusion.csv cannot follow it.
    filler = small_disk / "filler"
    with filler.open("wb", buffering=0) as handle:  # unbuffered: closing has nothing left to write
        try:
            while True:
                handle.write(b"\0" * 4096)
        except OSError:
            pass
    page = os.statvfs(small_disk).f_bsize
    os.truncate(filler, filler.stat().st_size - math.ceil(size / page) * page)
    result = run_cli("evaluate", run)
    assert_one_line_error(result, "No space left on device")
    assert not any((run / name).exists() for name in EVALUATION_FILES)
    assert not [path.name for path in run.iterdir() if path.name.startswith(".")]
