"""The Colab notebook (notebooks/colab.ipynb) runs end to end here, off Colab, in the smoke profile.

It is executed as Colab would run it (every cell in order, in a fresh kernel) with papermill's
convention for parameters: the cell tagged `parameters` gets overriding assignments. It runs in a
clone of this checkout (the committed HEAD: `git clone` of a local path, no network) that a
returning session left with one run finished, skips the install (this environment has the
dependencies) and every Colab-only step, trains the missing smoke run, shows the headline table
and writes the results zip.
"""

from __future__ import annotations

import shutil
import subprocess
import zipfile

import nbformat
import pytest
from conftest import PROJECT_ROOT
from nbclient import NotebookClient

pytestmark = pytest.mark.slow

NOTEBOOK = PROJECT_ROOT / "notebooks" / "colab.ipynb"


def _outputs(notebook) -> str:
    """Everything the cells printed or displayed, as text."""
    texts = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            texts.append(output.get("text", ""))
            texts.extend(str(value) for key, value in output.get("data", {}).items() if key.startswith("text/"))
    return "\n".join(texts)


def test_the_colab_notebook_trains_shows_the_headline_and_writes_the_zip(tmp_path, trained_smoke_runs):
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    # A session that comes back to its clone (Colab keeps /content until the runtime is recycled)
    # with the CNN finished: the notebook uses the clone as it is, keeps the finished run and trains
    # the missing one. (The CNN is the session's smoke run: training it again here would test nothing new.)
    workdir = tmp_path / "cifarcmp"
    subprocess.run(["git", "clone", "--quiet", str(PROJECT_ROOT), str(workdir)], check=True)
    finished_cnn = workdir / "results" / "smoke" / "cnn" / "seed-0"
    shutil.copytree(trained_smoke_runs["root"] / "cnn" / "seed-0", finished_cnn, symlinks=True)
    cnn_manifest = (finished_cnn / "manifest.json").read_bytes()
    parameters = [cell for cell in notebook.cells if "parameters" in cell.metadata.get("tags", [])]
    assert len(parameters) == 1 and parameters[0] is notebook.cells[1], "the first code cell holds the parameters"
    parameters[0].source += (
        f'\nPROFILE = "smoke"\nREPOSITORY = {str(PROJECT_ROOT)!r}\nWORKDIR = {str(workdir)!r}\n'
        "INSTALL = False\nUSE_DRIVE = True  # must be skipped off Colab\n"
    )
    NotebookClient(
        notebook, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()

    shown = _outputs(notebook)
    assert "not on Colab: the Drive and download steps are skipped" in shown
    assert "already cloned; using it as it is" in shown
    assert "2 runs planned: 1 done, 1 to train" in shown, shown
    assert (finished_cnn / "manifest.json").read_bytes() == cnn_manifest  # kept, not trained again
    assert "| Model | Test accuracy | Test loss |" in shown  # the headline table, displayed as Markdown
    assert "| ResNet50 |" in shown and "| CNN |" in shown and "synthetic data" in shown
    assert not (workdir / "results").is_symlink()

    archive = tmp_path / "cifarcmp-results-smoke.zip"
    with zipfile.ZipFile(archive) as bundle:
        names = bundle.namelist()
    for model in ("resnet50", "cnn"):
        assert f"results/smoke/{model}/seed-0/manifest.json" in names
        assert f"results/smoke/{model}/seed-0/predictions.npz" in names
    assert not [name for name in names if "tensorboard" in name or ".incomplete" in name or "checkpoints" in name]
    assert not [name for name in names if name.endswith("model.weights.h5")]  # ~100 MB each, not for git
