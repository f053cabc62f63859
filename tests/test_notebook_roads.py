"""The Colab notebook's set-up cells off Colab, in a Python where no `google` package and no
TensorFlow can be imported (a bare Jupyter with papermill), without training anything.

Each cell's own source runs in a fresh interpreter whose import system refuses `google` and
`tensorflow` (as if neither were installed: protobuf, which ships `google`, hid the crash in the
full notebook test); `subprocess.run` is replaced there by a recorder, so the pip commands the
install cell would run are seen, not run.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import nbformat
from conftest import PROJECT_ROOT

NOTEBOOK = PROJECT_ROOT / "notebooks" / "colab.ipynb"

HARNESS = """
import importlib.abc, json, subprocess, sys
from pathlib import Path

class Missing(importlib.abc.MetaPathFinder):
    # As if these distributions were not installed: find_spec("google.colab") then meets a missing parent.
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("google", "tensorflow"):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

for name in [name for name in sys.modules if name.split(".")[0] in ("google", "tensorflow")]:
    del sys.modules[name]
sys.meta_path.insert(0, Missing())
commands = []

class Finished:
    returncode, stdout, stderr = 0, "", ""

def record(command, *arguments, **options):
    commands.append([str(part) for part in command])
    return Finished()

subprocess.run = record
namespace = {"PROFILE": "smoke", "INSTALL": True}
for source in json.loads(sys.argv[1]):
    exec(compile(source, "cell", "exec"), namespace)
print("COMMANDS " + json.dumps(commands))
print("IN_COLAB " + json.dumps(namespace["IN_COLAB"]))
"""


def _cells(*indices: int) -> list[str]:
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    return [notebook.cells[index].source for index in indices]


def _run(sources: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", HARNESS, json.dumps(sources)],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin"},  # no nvidia-smi: a CPU machine
    )


def test_without_google_or_tensorflow_the_gpu_check_runs_and_the_cpu_extra_is_installed():
    gpu_check, install = _cells(3, 6)
    finished = _run([gpu_check, install])
    assert finished.returncode == 0, finished.stderr
    assert "not on Colab: the Drive and download steps are skipped" in finished.stdout
    lines = dict(
        line.split(" ", 1) for line in finished.stdout.splitlines() if line.startswith(("COMMANDS", "IN_COLAB"))
    )
    assert json.loads(lines["IN_COLAB"]) is False
    pip_installs = [command for command in json.loads(lines["COMMANDS"]) if command[1:4] == ["-m", "pip", "install"]]
    installed = [part for command in pip_installs for part in command]
    assert "tensorflow-cpu==2.21.0" in installed and "tensorboard==2.21.0" in installed
    assert not any(part.startswith("tensorflow[and-cuda]") for part in installed)
    assert "installing the project's 'cpu' extra" in finished.stdout


def test_the_results_zip_leaves_out_locks_and_executor_files(tmp_path):
    (zip_cell,) = _cells(14)
    results = tmp_path / "results"
    for name in ("smoke/cnn/seed-0/metrics.json", "studies-smoke/arms/cnn/seed-0/metrics.json"):
        (results / name).parent.mkdir(parents=True, exist_ok=True)
        (results / name).write_text("{}")
    for name in (
        "smoke/cnn/seed-0.lock",
        "studies-smoke/arms/cnn/seed-0.lock",
        "smoke/.slurm/plan-1.json",
        "smoke/.local/1/x.log",
    ):
        (results / name).parent.mkdir(parents=True, exist_ok=True)
        (results / name).write_text("")
    namespace = {
        "Path": Path,
        "results_dir": results,
        "tag": "smoke",
        "workdir": tmp_path / "cifarcmp",
        "IN_COLAB": False,
    }
    exec(compile(textwrap.dedent(zip_cell), "cell", "exec"), namespace)
    with zipfile.ZipFile(tmp_path / "cifarcmp-results-smoke.zip") as bundle:
        names = sorted(bundle.namelist())
    assert names == ["results/smoke/cnn/seed-0/metrics.json", "results/studies-smoke/arms/cnn/seed-0/metrics.json"]


def test_git_ignores_run_locks_but_keeps_paper_and_its_studies():
    paths = [
        "results/paper/cnn/seed-0.lock",
        "results/studies-paper/arms/cnn/seed-0.lock",
        "results/paper/cnn/seed-0/metrics.json",
        "results/studies-paper/arms/cnn/seed-0/metrics.json",
        "results/studies-paper/arms/summary.json",
        "results/smoke/cnn/seed-0/metrics.json",
        "results/studies-smoke/arms/summary.json",
    ]
    checked = subprocess.run(
        ["git", "check-ignore", "--no-index", *paths], cwd=PROJECT_ROOT, capture_output=True, text=True
    )
    ignored = set(checked.stdout.split())
    assert ignored == {
        "results/paper/cnn/seed-0.lock",
        "results/studies-paper/arms/cnn/seed-0.lock",
        "results/smoke/cnn/seed-0/metrics.json",
        "results/studies-smoke/arms/summary.json",
    }


def test_the_report_says_when_a_run_did_not_use_the_pinned_tensorflow_or_keras(tmp_path):
    from fixtures import write_fixture_run

    from cifarcmp.report.pinned import pinned_versions
    from cifarcmp.report.render import render

    assert pinned_versions() == {"keras": "3.15.1", "tensorflow": "2.21.0"}
    results = tmp_path / "results" / "smoke"
    write_fixture_run(results / "resnet50" / "seed-0", "resnet50", 0.9)
    colab = write_fixture_run(results / "cnn" / "seed-0", "cnn", 0.7)
    manifest = json.loads((colab / "manifest.json").read_text())
    manifest["versions"].update(tensorflow="2.19.0", keras="3.10.0")  # what a Colab run records
    (colab / "manifest.json").write_text(json.dumps(manifest))
    render(results, tmp_path / "generated")
    banner = (tmp_path / "generated" / "comparison.md").read_text()
    assert "Keras/TensorFlow not the pinned versions" in banner
    assert (
        "Keras 3.10.0 (**not the pinned Keras 3.15.1**) on tensorflow (TensorFlow 2.19.0, **not the pinned 2.21.0**)"
        in banner
    )
    assert "Keras 3.15.1 on tensorflow (TensorFlow 2.21.0);" in banner  # the ResNet50 run: as pinned, no remark
