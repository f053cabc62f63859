"""Shared test set-up: a private Keras cache, so no test reads or writes ~/.keras."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session", autouse=True)
def keras_home(tmp_path_factory) -> Path:
    home = tmp_path_factory.mktemp("keras-home")
    previous = os.environ.get("KERAS_HOME")
    os.environ["KERAS_HOME"] = str(home)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    yield home
    if previous is None:
        os.environ.pop("KERAS_HOME", None)
    else:
        os.environ["KERAS_HOME"] = previous


def run_cli(*arguments, timeout=600, env=None) -> subprocess.CompletedProcess:
    """`cifarcmp ARGUMENTS` in a subprocess, as a user runs it (same KERAS_HOME as the tests;
    `env` replaces the whole environment)."""
    return subprocess.run(
        [sys.executable, "-m", "cifarcmp.cli", *map(str, arguments)],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=PROJECT_ROOT,
        env=env or os.environ.copy(),
    )


def assert_one_line_error(result: subprocess.CompletedProcess, *fragments: str) -> None:
    """A non-zero exit with one `cifarcmp: error:` line on stderr that names what is wrong."""
    assert result.returncode != 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("cifarcmp: error:")]
    assert len(errors) == 1, result.stderr
    for fragment in fragments:
        assert fragment in errors[0], errors[0]


@pytest.fixture(scope="session")
def trained_smoke_runs(tmp_path_factory, worker_id) -> dict:
    """Both smoke runs (CNN and ResNet50, seed 0), trained once per test session by `cifarcmp train`
    as a user runs it: {"root": <root>/smoke (with <model>/seed-0 below), "closing_lines": {model:
    the last line it printed}}. Never changed: a test that changes runs works on `copy_smoke_runs`.

    With pytest-xdist's workers (`make test`), the first worker to ask trains them under a lock in
    the folder the workers share, and the others wait and read them: trained once, not per worker.
    """
    shared = tmp_path_factory.getbasetemp() if worker_id == "master" else tmp_path_factory.getbasetemp().parent
    folder = shared / "trained-smoke-runs"
    folder.mkdir(exist_ok=True)
    with open(shared / "trained-smoke-runs.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # held while training: the other workers wait here
        lines_file = folder / "closing-lines.json"
        if not lines_file.is_file():
            closing_lines = {}
            for model in ("cnn", "resnet50"):
                out = folder / "smoke" / model / "seed-0"
                finished = run_cli("train", "--model", model, "--profile", "smoke", "--out", out)
                assert finished.returncode == 0, finished.stderr[-3000:]
                closing_lines[model] = finished.stdout.strip().splitlines()[-1]
            lines_file.write_text(json.dumps(closing_lines))  # written last: its presence means both are there
    return {"root": folder / "smoke", "closing_lines": json.loads(lines_file.read_text())}


def copy_smoke_runs(trained: dict, results_root: Path) -> Path:
    """The session's smoke runs copied to `results_root`/smoke/ (where the plan looks for them)."""
    target = results_root / "smoke"
    shutil.copytree(trained["root"], target, symlinks=True)
    return target
