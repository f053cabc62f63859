"""The CIFAR-10 loader: both official layouts, the verified download, unsafe pickles, the split."""

from __future__ import annotations

import functools
import http.server
import io
import os
import pickle
import tarfile
import threading

import numpy as np
import pytest

from cifarcmp.data import archive as cifar_archive
from cifarcmp.data import source as data
from cifarcmp.data import splits, synthetic
from cifarcmp.errors import UserError


@pytest.fixture(scope="module")
def arrays():
    generator = np.random.default_rng(1)
    return cifar_archive.Arrays(
        x_train=generator.integers(0, 256, size=(50, 32, 32, 3), dtype=np.uint8),
        y_train=generator.integers(0, 10, size=50),
        x_test=generator.integers(0, 256, size=(20, 32, 32, 3), dtype=np.uint8),
        y_test=generator.integers(0, 10, size=20),
        class_names=list(synthetic.CLASS_NAMES),
        layout="python",
    )


def _assert_same(read, expected):
    np.testing.assert_array_equal(read.x_train, expected.x_train)
    np.testing.assert_array_equal(read.y_train, expected.y_train)
    np.testing.assert_array_equal(read.x_test, expected.x_test)
    np.testing.assert_array_equal(read.y_test, expected.y_test)
    assert read.class_names == expected.class_names
    assert read.x_train.dtype == np.uint8 and read.x_train.shape[1:] == (32, 32, 3)


def test_python_layout_matches_keras_own_parser(tmp_path, arrays):
    from keras.src.datasets.cifar import load_batch

    cifar_archive.write_archive(tmp_path, arrays, "python")
    folder = tmp_path / cifar_archive.PYTHON_FOLDER
    keras_train = [load_batch(str(folder / name)) for name in cifar_archive.TRAIN_BATCHES]
    keras_x_test, keras_y_test = load_batch(str(folder / cifar_archive.TEST_BATCH))
    ours = cifar_archive.read(tmp_path)
    np.testing.assert_array_equal(ours.x_train, np.concatenate([x for x, _ in keras_train]).transpose(0, 2, 3, 1))
    np.testing.assert_array_equal(ours.y_train, np.concatenate([y for _, y in keras_train]))
    np.testing.assert_array_equal(ours.x_test, keras_x_test.transpose(0, 2, 3, 1))
    np.testing.assert_array_equal(ours.y_test, keras_y_test)
    _assert_same(ours, arrays)


@pytest.mark.parametrize("layout", ["python", "binary"])
@pytest.mark.parametrize("packed", [True, False])
def test_every_layout_reads_back_exactly(tmp_path, arrays, layout, packed):
    target = tmp_path / "cifar.tar.gz" if packed else tmp_path
    cifar_archive.write_archive(target, arrays, layout)
    read = cifar_archive.read(target)
    assert read.layout == layout
    _assert_same(read, arrays)


def test_an_archive_written_twice_is_the_same_bytes(tmp_path, arrays, monkeypatch):
    """The synthetic data's checksum is recorded by every run and checked when a kept model predicts
    again, maybe on another machine: its archive must not carry the time or name it was written with."""
    import time

    first, second = tmp_path / "first.tar.gz", tmp_path / "elsewhere" / "second.tar.gz"
    second.parent.mkdir()
    cifar_archive.write_archive(first, arrays, "python")
    later = time.time() + 3600
    monkeypatch.setattr(time, "time", lambda: later)  # an hour later, as gzip would stamp it
    cifar_archive.write_archive(second, arrays, "python")
    assert first.read_bytes() == second.read_bytes()
    _assert_same(cifar_archive.read(second), arrays)


def test_data_path_is_marked_unverified_when_not_official(tmp_path, arrays):
    archive = tmp_path / "cifar-10-python.tar.gz"
    cifar_archive.write_archive(archive, arrays, "python")
    dataset = data.load(str(archive))
    assert not dataset.verified and not dataset.synthetic
    assert dataset.sha256 == data.file_sha256(archive)
    assert "NOT match" in dataset.description


class _CountingHandler(http.server.SimpleHTTPRequestHandler):
    requests = 0

    def do_GET(self):
        type(self).requests += 1
        super().do_GET()

    def log_message(self, *arguments):
        pass


@pytest.fixture()
def archive_server(tmp_path, arrays):
    served = tmp_path / "served"
    served.mkdir()
    cifar_archive.write_archive(served / "cifar-10-python.tar.gz", arrays, "python")
    _CountingHandler.requests = 0
    handler = functools.partial(_CountingHandler, directory=str(served))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/cifar-10-python.tar.gz", served / "cifar-10-python.tar.gz"
    server.shutdown()


def test_download_with_good_checksum_is_cached_and_read(archive_server, arrays, monkeypatch, tmp_path):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "cache"))
    url, served = archive_server
    digest = data.file_sha256(served)
    path = data.fetch(origin=url, sha256=digest)
    assert path == data.cache_dir() / "cifar-10-python.tar.gz" and path.read_bytes() == served.read_bytes()
    assert data.fetch(origin=url, sha256=digest) == path
    assert _CountingHandler.requests == 1  # the second call used the cache
    _assert_same(cifar_archive.read(path), arrays)


def test_download_with_wrong_checksum_is_refused_and_deleted(archive_server, monkeypatch, tmp_path):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "cache"))
    url, _ = archive_server
    with pytest.raises(UserError, match="checksum mismatch"):
        data.fetch(origin=url, sha256="0" * 64)
    cache = data.cache_dir()
    assert not cache.exists() or not any(cache.iterdir())


def test_unreachable_download_says_how_to_run_offline(monkeypatch, tmp_path):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "cache"))
    with pytest.raises(UserError, match="--data PATH"):
        data.fetch(origin="http://127.0.0.1:9/cifar-10-python.tar.gz")


class _CreatesAFile:
    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (str(self.path), "w"))


def crafted_archive(tmp_path, arrays, marker):
    """A python-layout archive whose first batch, when unpickled freely, creates `marker`."""
    archive = tmp_path / "crafted.tar.gz"
    cifar_archive.write_archive(tmp_path / "clean", arrays, "python")
    with tarfile.open(archive, "w:gz") as tar:
        for file in sorted((tmp_path / "clean" / cifar_archive.PYTHON_FOLDER).iterdir()):
            content = file.read_bytes()
            if file.name == "data_batch_1":
                content = pickle.dumps({b"data": _CreatesAFile(marker), b"labels": [0]})
            info = tarfile.TarInfo(f"{cifar_archive.PYTHON_FOLDER}/{file.name}")
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    return archive


def test_crafted_pickle_is_refused_and_runs_nothing(tmp_path, arrays):
    marker = tmp_path / "pwned"
    archive = crafted_archive(tmp_path, arrays, marker)
    pickle.loads(pickle.dumps(_CreatesAFile(tmp_path / "control"))).close()  # a free unpickler would
    assert (tmp_path / "control").exists()
    with pytest.raises(UserError, match="refusing"):
        cifar_archive.read(archive)
    assert not marker.exists()


def test_truncated_and_garbage_archives_are_clear_errors(tmp_path, arrays):
    archive = tmp_path / "cifar.tar.gz"
    cifar_archive.write_archive(archive, arrays, "python")
    truncated = tmp_path / "truncated.tar.gz"
    truncated.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    with pytest.raises(UserError, match="truncated or corrupt"):
        cifar_archive.read(truncated)
    garbage = tmp_path / "garbage.tar.gz"
    garbage.write_bytes(os.urandom(4096))
    with pytest.raises(UserError):
        cifar_archive.read(garbage)
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="not a CIFAR-10 release"):
        cifar_archive.read(tmp_path / "empty")


def test_split_is_stratified_disjoint_and_deterministic():
    labels = np.repeat(np.arange(10), 1000)
    np.random.default_rng(0).shuffle(labels)
    kept, held = splits.stratified_split(labels, 500, seed=3)
    assert len(held) == 500 and len(kept) == 9500
    assert np.intersect1d(kept, held).size == 0
    np.testing.assert_array_equal(np.sort(np.concatenate([kept, held])), np.arange(len(labels)))
    assert splits.class_counts(labels[held]) == [50] * 10
    again_kept, again_held = splits.stratified_split(labels, 500, seed=3)
    np.testing.assert_array_equal(held, again_held)
    _, other = splits.stratified_split(labels, 500, seed=4)
    assert not np.array_equal(held, other)


def test_split_quotas_add_up_for_unbalanced_classes():
    labels = np.concatenate([np.full(n, label) for label, n in enumerate([7, 13, 29, 3, 48, 11, 5, 17, 19, 23])])
    _, held = splits.stratified_split(labels, 35, seed=0)
    assert len(held) == 35 and len(np.unique(held)) == 35


def test_synthetic_data_is_deterministic_and_balanced():
    first, second = synthetic.generate(200, 50), synthetic.generate(200, 50)
    np.testing.assert_array_equal(first.x_train, second.x_train)
    assert splits.class_counts(first.y_train) == [20] * 10
    assert all(name.startswith("synthetic") for name in first.class_names)
