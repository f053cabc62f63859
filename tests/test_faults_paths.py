"""Issue 19, class 3 (and the class found next): one line, never a traceback, for paths the file
system cannot use and for a Chromium that is missing, not runnable or hangs.

A path component longer than the file system allows (ENAMETOOLONG) and a loop of symbolic links
reach every command that takes a path; the PDF step keeps the previous report.pdf. No training:
train fails on its --out before Keras is needed.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import PROJECT_ROOT, assert_one_line_error, run_cli
from fixtures import write_fixture_results

from cifarcmp.errors import UserError
from cifarcmp.report.pdf import print_pdf

LONG = "a" * 300  # longer than the 255 bytes of a name that Linux file systems allow


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("path-faults") / "results"
    return write_fixture_results(root)


@pytest.mark.parametrize(
    "arguments",
    [
        ("train", "--model", "cnn", "--profile", "smoke", "--out", "{tmp}/{long}"),
        ("train", "--model", "cnn", "--profile", "smoke", "--out", "{tmp}/{long}/seed-0"),
        ("render", "{results}", "--out", "{tmp}/{long}"),
        ("render", "{results}", "--out", "{tmp}/{long}/generated"),
        ("render", "{tmp}/{long}"),
        ("evaluate", "{tmp}/{long}"),
        ("evaluate", "{results}/{long}"),
        ("data", "--data", "{tmp}/{long}"),
        ("data", "--data", "{tmp}/{long}/cifar-10-python.tar.gz"),
        ("plan", "--profile", "smoke", "--results-root", "{tmp}/{long}"),
    ],
)
def test_a_name_too_long_gets_one_line(results, tmp_path, arguments):
    filled = [argument.format(tmp=tmp_path, long=LONG, results=results) for argument in arguments]
    result = run_cli(*filled)
    assert_one_line_error(result, "longer than the file system allows")
    assert sorted(entry.name for entry in tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "arguments",
    [
        ("render", "{loop}"),
        ("render", "{results}", "--out", "{loop}/generated"),
        ("evaluate", "{loop}/run"),
        ("train", "--model", "cnn", "--profile", "smoke", "--out", "{loop}/seed-0"),
    ],
)
def test_a_loop_of_symbolic_links_gets_one_line(results, tmp_path, arguments):
    loop = tmp_path / "loop"
    loop.symlink_to(loop)
    result = run_cli(*(argument.format(loop=loop, results=results) for argument in arguments))
    assert_one_line_error(result, str(loop))
    assert sorted(entry.name for entry in tmp_path.iterdir()) == ["loop"]


# The PDF step -------------------------------------------------------------------------------------


@pytest.fixture
def site(tmp_path) -> Path:
    """A built site as far as the PDF step cares: its print page and the previous report."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "print_page.html").write_text("<html><body>report</body></html>")
    (site / "report.pdf").write_bytes(b"%PDF previous report")
    return site


def _pdf_step(site: Path, chromium: str) -> subprocess.CompletedProcess:
    """`python -m cifarcmp.report.pdf SITE`, as `make site` and `make pdf` run it."""
    return subprocess.run(
        [sys.executable, "-m", "cifarcmp.report.pdf", str(site)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=PROJECT_ROOT,
        env={**os.environ, "CHROMIUM": chromium},
    )


def _script(path: Path, text: str, mode: int = 0o755) -> str:
    path.write_text(text)
    path.chmod(mode)
    return str(path)


@pytest.mark.parametrize("kind", ["missing", "not executable", "a folder", "not a program"])
def test_a_chromium_that_cannot_run_gets_one_line_and_the_old_pdf_stays(site, tmp_path, kind):
    chromium = {
        "missing": str(tmp_path / "no-such-chromium"),
        "not executable": _script(tmp_path / "chromium", "#!/bin/sh\nexit 0\n", mode=0o644),
        "a folder": str(tmp_path),
        "not a program": _script(tmp_path / "chromium", "\x7fELF garbage", mode=0o755),
    }[kind]
    result = _pdf_step(site, chromium)
    assert_one_line_error(result, chromium, "cannot run it")
    assert (site / "report.pdf").read_bytes() == b"%PDF previous report"
    assert sorted(entry.name for entry in site.iterdir()) == ["print_page.html", "report.pdf"]


@pytest.mark.slow  # over 2.5 s (Keras, a child process or a whole rendering): make test runs it, test-fast not
def test_a_chromium_that_never_returns_is_stopped_with_its_children(site, tmp_path):
    pid_file = tmp_path / "child.pid"
    # Like Chromium (at $CHROMIUM, see _chromium_env): the browser starts others that would outlive it.
    _script(tmp_path / "chromium", f"#!/bin/sh\nsleep 300 &\necho $! > {pid_file}\nwait\n")
    started = time.monotonic()
    with pytest.raises(UserError, match="printed nothing in 2 seconds") as error:
        print_pdf(site, timeout=2)
    assert "\n" not in str(error.value)
    assert time.monotonic() - started < 30
    assert (site / "report.pdf").read_bytes() == b"%PDF previous report"
    assert not (site / "report.pdf.partial").exists()
    assert not _running(int(pid_file.read_text()))


def _running(pid: int) -> bool:
    """Whether `pid` still runs (a zombie nobody reaped, in a container without init, does not)."""
    time.sleep(0.5)
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")


@pytest.fixture(autouse=True)
def _chromium_env(monkeypatch, tmp_path):
    # print_pdf reads CHROMIUM; the hanging test's script is the one it finds.
    monkeypatch.setenv("CHROMIUM", str(tmp_path / "chromium"))


# Odd characters in a path --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "arguments",
    [
        ("evaluate", "{tmp}/a\nb"),
        ("render", "{tmp}/a\nb"),
        ("render", "{results}", "--out", "{results}/x\n\x1b[31m/generated"),  # inside the results
        ("data", "--data", "{tmp}/a\rb"),
    ],
)
def test_a_path_with_control_characters_stays_on_one_line(results, tmp_path, arguments):
    filled = [argument.format(tmp=tmp_path, results=results) for argument in arguments]
    result = run_cli(*filled)
    assert_one_line_error(result)
    assert len(result.stderr.strip().splitlines()) == 1 and "\x1b" not in result.stderr and "\r" not in result.stderr
