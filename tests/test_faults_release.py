"""Issue 19, class 4: a copy that is not the official release never passes as CIFAR-10.

Archives with members outside the release (absolute or `..` paths), bytes after the tar stream,
another compression, and batches with no images or one class are read (nothing is extracted), but
every difference is named: by `cifarcmp data`, in the manifest (`data.departures`) and in a
warning on every page. A data set with no test images cannot be evaluated and is refused.
"""

from __future__ import annotations

import gzip
import io
import json
import pickle
import tarfile

import numpy as np
import pytest
from conftest import assert_one_line_error, run_cli
from fixtures import write_fixture_run

from cifarcmp.data import archive as cifar_archive
from cifarcmp.data import release, synthetic
from cifarcmp.data import source as data
from cifarcmp.report.render import render
from cifarcmp.results import load_run

PYTHON = cifar_archive.PYTHON_FOLDER


@pytest.fixture(scope="module")
def arrays():
    return synthetic.generate(50, 20)


def _tar_bytes(files: dict[str, bytes], mode: str = "w") -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode=mode) as tar:
        for name, content in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def _files(arrays, **changes) -> dict[str, bytes]:
    files = cifar_archive._layout_files(arrays, "python")
    files.update(changes)
    return files


def _batch(images: np.ndarray, labels: list[int]) -> bytes:
    rows = images.transpose(0, 3, 1, 2).reshape(len(images), 3072)
    return pickle.dumps({b"data": np.ascontiguousarray(rows), b"labels": labels}, protocol=3)


# name -> (file name, bytes of the file, a fragment of the departure it must be named by)
def _cases(arrays) -> dict:
    files = _files(arrays)
    tar = _tar_bytes(files)
    single = _batch(arrays.x_train[:10], [3] * 10)
    return {
        "absolute member": ("a.tar.gz", gzip.compress(_tar_bytes({**files, "/etc/cron.d/x": b"x"})), "absolute path"),
        "dot-dot member": ("a.tar.gz", gzip.compress(_tar_bytes({**files, "../../x": b"x"})), "'..'"),
        "foreign member": ("a.tar.gz", gzip.compress(_tar_bytes({**files, f"{PYTHON}/run.sh": b"x"})), "run.sh"),
        "garbage after the tar stream": ("a.tar.gz", gzip.compress(tar + b"\x00" * 1024 + b"junk"), "follow the tar"),
        "garbage after the gzip stream": ("a.tar.gz", gzip.compress(tar) + b"trailing garbage", "compressed stream"),
        "xz": ("a.tar.xz", _xz(_tar_bytes(files)), "xz"),
        "uncompressed": ("a.tar", tar, "no compression"),
        "an empty training batch": (
            "a.tar.gz",
            gzip.compress(_tar_bytes(_files(arrays, **{f"{PYTHON}/data_batch_2": _batch(arrays.x_train[:0], [])}))),
            "training images",
        ),
        "a single-class batch": (
            "a.tar.gz",
            gzip.compress(_tar_bytes(_files(arrays, **{f"{PYTHON}/data_batch_1": single}))),
            "training images",
        ),
    }


def _xz(content: bytes) -> bytes:
    import lzma

    return lzma.compress(content)


CASES = [
    "absolute member",
    "dot-dot member",
    "foreign member",
    "garbage after the tar stream",
    "garbage after the gzip stream",
    "xz",
    "uncompressed",
    "an empty training batch",
    "a single-class batch",
]


@pytest.mark.parametrize("case", CASES)
def test_a_copy_that_is_not_the_release_is_read_and_named_as_such(tmp_path, arrays, case):
    name, content, fragment = _cases(arrays)[case]
    path = tmp_path / name
    path.write_bytes(content)
    dataset = data.load(str(path))
    assert not dataset.verified
    assert any(fragment in departure for departure in dataset.departures), dataset.departures
    assert "NOT the official release" in dataset.description
    assert all(departure.isprintable() for departure in dataset.departures)
    result = run_cli("data", "--data", path)
    assert result.returncode == 0, result.stderr
    assert any(line.startswith("NOT the official release:") and fragment in line for line in result.stdout.splitlines())


def test_an_archive_differing_only_in_its_counts_names_just_them(tmp_path, arrays):
    path = tmp_path / "cifar.tar.gz"
    cifar_archive.write_archive(path, arrays, "python")
    departures = data.load(str(path)).departures
    assert len(departures) == 2 and all("images in 10 of 10 classes" in text for text in departures)


def test_the_release_itself_has_no_departures(tmp_path, arrays):
    # Full-size, balanced splits: nothing to say about the images.
    labels = np.repeat(np.arange(10), 5000)
    full = cifar_archive.Arrays(
        np.zeros((0, 32, 32, 3), np.uint8), labels, np.zeros((0, 32, 32, 3), np.uint8), labels[::5], [], "python"
    )
    assert release.content_departures(full) == []
    # Exactly the release's members (folder, batches, metadata, readme), gzip-compressed: nothing either.
    for layout in ("python", "binary"):
        files = cifar_archive._layout_files(arrays, layout)
        folder, _ = release.release_members(layout)
        path = tmp_path / f"{layout}.tar.gz"
        path.write_bytes(gzip.compress(_tar_bytes({**files, f"{folder}/readme.html": b"<html>"})))
        assert release.archive_departures(path, layout) == []


def test_more_departures_of_the_members(tmp_path, arrays):
    files = _files(arrays)
    binary = cifar_archive._layout_files(arrays, "binary")
    batch = f"{PYTHON}/data_batch_1"
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:  # the same name twice: the second one is read
        for name, content in [*files.items(), (batch, files[batch])]:
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    cases = {
        "twice": (buffer.getvalue(), "appears more than once"),
        "both layouts": (_tar_bytes({**files, **binary}), "data_batch_1.bin"),
        "no metadata": (_tar_bytes({k: v for k, v in files.items() if not k.endswith("meta")}), "no "),
    }
    for case, (tar_bytes, fragment) in cases.items():
        path = tmp_path / f"{case}.tar.gz"
        path.write_bytes(gzip.compress(tar_bytes))
        departures = data.load(str(path)).departures
        assert any(fragment in text for text in departures[:-2]), (case, departures)


def test_an_extracted_folder_without_metadata_says_so(tmp_path, arrays):
    folder = tmp_path / "extracted"
    for name, content in _files(arrays).items():
        if not name.endswith("batches.meta"):
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / name).write_bytes(content)
    departures = data.load(str(folder)).departures
    assert departures[0] == f"no {PYTHON}/batches.meta, so the classes have no names"


def test_a_data_set_with_no_test_images_is_refused(tmp_path, arrays):
    files = _files(arrays, **{f"{PYTHON}/test_batch": _batch(arrays.x_test[:0], [])})
    path = tmp_path / "a.tar.gz"
    path.write_bytes(gzip.compress(_tar_bytes(files)))
    assert_one_line_error(run_cli("data", "--data", path), "no test images")


def test_departures_reach_the_manifest_and_a_warning_on_every_page(tmp_path):
    root = tmp_path / "results"
    departures = ["member '../../x' has a path that climbs out of the archive with '..'", "20 test images in 1 class"]
    for model in ("resnet50", "cnn"):
        run = write_fixture_run(root / model / "seed-0", model, synthetic=False)
        manifest = json.loads((run / "manifest.json").read_text())
        manifest["data"].update(verified=False, departures=departures)
        (run / "manifest.json").write_text(json.dumps(manifest))
    assert load_run(root / "cnn" / "seed-0").manifest["data"]["departures"] == departures
    out = tmp_path / "generated"
    render(root, out)
    pages = sorted(out.glob("*.md")) + [out / "snippets" / "banner.md", out / "snippets" / "banner.html"]
    for page in pages:
        text = page.read_text()
        assert "Not the official CIFAR-10 release" in text, page.name
        assert "climbs out of the archive" in text, page.name


def test_a_departures_field_of_the_wrong_shape_is_refused(tmp_path):
    run = write_fixture_run(tmp_path / "cnn" / "seed-0", "cnn", synthetic=False)
    manifest = json.loads((run / "manifest.json").read_text())
    manifest["data"]["departures"] = "not a list"
    (run / "manifest.json").write_text(json.dumps(manifest))
    assert_one_line_error(run_cli("evaluate", run), "departures")


def test_a_member_name_with_control_characters_is_named_on_one_line(tmp_path, arrays):
    path = tmp_path / "a.tar.gz"
    path.write_bytes(gzip.compress(_tar_bytes({**_files(arrays), "x\n\x1b[31m": b"x"})))
    departures = data.load(str(path)).departures
    assert any("\\n" in text for text in departures) and all(text.isprintable() for text in departures)


def test_a_trained_runs_manifest_keeps_the_departures(tmp_path, arrays):
    # What train writes (train.provenance.manifest), checked against the results contract.
    from cifarcmp import schema
    from cifarcmp.train import provenance

    path = tmp_path / "a.tar.xz"
    path.write_bytes(_xz(_tar_bytes(_files(arrays))))
    dataset = data.load(str(path))
    counts = {split: [2] * 10 for split in ("train", "validation", "test")}
    manifest = provenance.manifest(dataset, counts, started=0.0)
    schema.check(tmp_path / "manifest.json", manifest, schema.MANIFEST)
    assert manifest["data"]["departures"] == dataset.departures and "xz" in dataset.departures[0]
